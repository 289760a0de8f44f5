"""BibTeX as exported (paper pages, collections) is LaTeX-safe: a researcher's paper
compiles with it as it is, whatever arXiv's titles and author lists hold."""

from __future__ import annotations

import pytest

from paperboy.web.bibtex import tex_field, tex_title
from tests.support.factories import make_paper


@pytest.mark.parametrize("raw, field", [
    ("Analyzer & Fuzzy Logic", r"Analyzer \& Fuzzy Logic"),
    ("Only 80% Visual Tokens Needed", r"Only 80\% Visual Tokens Needed"),  # % would comment out the rest
    ("GS_DravidianLangTech@2025", r"GS\_DravidianLangTech@2025"),
    ("C# and F#", r"C\# and F\#"),
    (r"already \& escaped", r"already \& escaped"),
    ("GSBAK$^K$: top-K sparsification", "GSBAK$^K$: top-K sparsification"),  # math kept as arXiv has it
    (r"A $\mathcal{O}(n \log n)$ bound", r"A $\mathcal{O}(n \log n)$ bound"),
    (r"\emph{Deep} nets", r"\emph{Deep} nets"),  # TeX commands kept
    ("x^2 outside math", r"x\textasciicircum{}2 outside math"),
    ("Costs $5 a month", r"Costs \$5 a month"),  # a lone $ opens no math
    ("an unbalanced { brace", r"an unbalanced \{ brace"),
    ("Peter St\\ütz", "Peter Stütz"),  # stray backslashes from the listing
    ("\\\\Ajinkya Umesh Mulik", "Ajinkya Umesh Mulik"),
    ("a  title\nover   lines", "a title over lines"),
])
def test_a_field_is_escaped_for_latex_with_math_and_commands_kept(raw, field):
    assert tex_field(raw) == field


@pytest.mark.parametrize("raw, field", [
    # What a style would lower-case wrongly is braced, as reference managers do.
    ("VMonarch: Efficient Video Diffusion", "{VMonarch}: Efficient Video Diffusion"),
    ("Safe LLM Clinical Guidance", "Safe {LLM} Clinical Guidance"),
    ("GPT-4o and 3D scenes (ViT)", "{GPT-4o} and {3D} scenes ({ViT})"),
    ("LLaDA2.0-Uni: a model", "{LLaDA2.0-Uni}: a model"),
    ("Top-K Routing", "{Top-K} Routing"),
    # A capital that only starts a word, or each part of one, is the style's to set.
    ("Multi-Traversal Gaussian Splatting", "Multi-Traversal Gaussian Splatting"),
    # Math and TeX commands are left as they are; the title's own braces too.
    (r"A $\mathcal{O}(T)$ Hamming Attention", r"A $\mathcal{O}(T)$ Hamming Attention"),
    (r"\emph{Deep} nets for {BERT}", r"\emph{Deep} nets for {BERT}"),
    # Symbols that print as other glyphs outside math (> is ¡ in OT1) or act (~).
    ("Humanoid Policy ~ Human Policy", r"Humanoid Policy \textasciitilde{} Human Policy"),
    ("1%>100%: High-Efficiency Visual Adapter", r"1\%\textgreater{}100\%: High-Efficiency Visual Adapter"),
    ("an unbalanced { brace in TeX", r"an unbalanced \{ brace in {TeX}"),
])
def test_a_title_keeps_the_capitals_a_style_would_lower(raw, field):
    assert tex_title(raw) == field


def test_an_exported_entry_escapes_its_title_and_authors(site, client):
    from paperboy.store.db import session_scope

    with session_scope(site.engine) as db:
        paper = make_paper(db, title="Only 80% of Tokens & $O(n)$ Time", authors=["Peter St\\ütz", "Team, Robotics",
                                                                                  "Ada Lovelace"])
        arxiv_id = paper.arxiv_id
    html = client.get(f"/papers/{arxiv_id}").text
    assert r"title = {Only 80\% of Tokens \&amp; $O(n)$ Time}," in html  # HTML-escaped on the page
    assert "author = {Peter Stütz and {Team, Robotics} and Ada Lovelace}," in html
