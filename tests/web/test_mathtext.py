"""Untrusted text with math → safe HTML."""

from __future__ import annotations

import pytest

from paperboy.web.mathtext import plain_text, render_math


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


def test_plain_text_drops_delimiters():
    assert plain_text(r"On $\alpha$-nets and \(x^2\)") == r"On \alpha-nets and x^2"
    assert render_math(None) == "" and render_math("") == ""
