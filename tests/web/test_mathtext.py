"""Untrusted text with math → safe HTML."""

from __future__ import annotations

import pytest

from paperboy.papers.mathplain import plain_text
from paperboy.web.mathtext import render_math


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    r"$\text{<script>alert(1)</script>}$",
    r"\(\href{javascript:alert(1)}{x}\)",
    r"$x$ <a href='javascript:alert(1)'>y</a>",
])
def test_nothing_executable_survives(text):
    html = str(render_math(text))
    assert "<script" not in html and "<img" not in html and "<a " not in html
    assert "href=" not in html.replace("&lt;a href=", "")  # only as escaped text
    assert "onerror=" not in html.replace('&lt;img src=x onerror="', "").replace("&lt;img src=x onerror=&#34;", "")


def test_math_becomes_mathml_and_text_is_escaped():
    html = str(render_math(r"Fast $O(n \log n)$ & \(\alpha\) < 1"))
    assert html.startswith("Fast <span class=\"math\"")
    assert "<math" in html and "<mi>α</mi>" in html
    assert "&amp;" in html and "&lt; 1" in html


def test_bad_formula_falls_back_to_tex_text():
    html = str(render_math(r"a $\frac{1}{$ b"))
    assert '<code class="tex">$\\frac{1}{$</code>' in html


def test_plain_text_writes_math_as_unicode_text():
    assert plain_text(r"On $\alpha$-nets and \(x^2\)") == "On α-nets and x²"
    assert render_math(None) == "" and render_math("") == ""


def test_function_names_in_math_are_spaced_like_tex():
    html = str(render_math(r"in $O(\log\log n)$ time"))
    # "loglogn" without this: each name is followed by a thin space (TeX's \,)
    assert "<mi>log</mi><mspace width=\"0.167em\"></mspace><mi>log</mi><mspace width=\"0.167em\"></mspace><mi>n</mi>" in html
    # and preceded by one after a letter, digit or closing bracket: "O(n log n)", not "O(nlog n)"
    html = str(render_math(r"$O(n\log n)$ and $x^{2}\sin x$"))
    assert "<mi>n</mi><mspace width=\"0.167em\"></mspace><mi>log</mi><mspace width=\"0.167em\"></mspace><mi>n</mi>" in html
    assert "</msup><mspace width=\"0.167em\"></mspace><mi>sin</mi>" in html
    # not after an opening bracket or an operator, which space themselves
    assert "<mo stretchy=\"false\">(</mo><mi>log</mi>" in str(render_math(r"$(\log n)$"))
    assert "<mo>+</mo><mi>log</mi>" in str(render_math(r"$a+\log b$"))
    # ...but not before a bracket, and not between a name and its subscript
    html = str(render_math(r"$\log_2(x) + \exp(y)$"))
    assert "mspace" not in html
    assert "<mo>arg</mo>" in str(render_math(r"$\arg\max_x f$"))


def test_markup_around_math_is_cleaned_in_html():
    html = str(render_math(r"\emph{Fast} sorting by Bu~and~Tao in $O(n\log n)$, ``really''"))
    assert html.startswith("<em>Fast</em> sorting by Bu and Tao in <span class=\"math\"")
    assert html.endswith(", “really”")
    assert plain_text(r"\textbf{Bold} $x$ by Erd\H{o}s") == "Bold x by Erdős"


def test_math_left_in_a_snippet_is_rendered_and_stays_safe():
    from paperboy.index.snippets import highlight
    from paperboy.web.mathtext import render_math_in_html

    text = r"A bound $O(n^2)$ for <b>sorting</b>, $\text{<script>alert(1)</script>}$ and $\frac{1}{$ costs $5."
    out = str(render_math_in_html(highlight(text, {"sort"})))
    assert out.count("<math") == 2 and "$O(n^2)$" not in out  # both formulas rendered
    assert "<script" not in out and "<b>" not in out and "&lt;b&gt;<mark>sorting</mark>&lt;/b&gt;" in out
    assert '<code class="tex">$\\frac{1}{$</code> costs $5.' in out  # a broken formula shown as TeX, as on cards
