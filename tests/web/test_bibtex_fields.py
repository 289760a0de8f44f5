"""BibTeX as exported (paper pages, collections) is LaTeX-safe: a researcher's paper
compiles with it as it is, whatever arXiv's titles and author lists hold."""

from __future__ import annotations

import pytest

from paperboy.web.cards import tex_field
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


def test_an_exported_entry_escapes_its_title_and_authors(site, client):
    from paperboy.store.db import session_scope

    with session_scope(site.engine) as db:
        paper = make_paper(db, title="Only 80% of Tokens & $O(n)$ Time", authors=["Peter St\\ütz", "Team, Robotics",
                                                                                  "Ada Lovelace"])
        arxiv_id = paper.arxiv_id
    html = client.get(f"/papers/{arxiv_id}").text
    assert r"title = {Only 80\% of Tokens \&amp; $O(n)$ Time}," in html  # HTML-escaped on the page
    assert "author = {Peter Stütz and {Team, Robotics} and Ada Lovelace}," in html
