"""TeX markup outside math becomes the text it stands for; math stays as written."""

from __future__ import annotations

import pytest

from paperboy.papers.textclean import clean_tex, clean_tex_html, leftover_commands


@pytest.mark.parametrize("tex, text", [
    (r"We \emph{propose} a \textit{new} and \textbf{fast} method", "We propose a new and fast method"),
    (r"by Bu~and~Tao at 0.35~m/s, ~50\% less", "by Bu and Tao at 0.35 m/s, ~50% less"),
    (r"so-called ``grokking'' happens", "so-called “grokking” happens"),
    (r"models of 4B--671B parameters---all of them", "models of 4B–671B parameters—all of them"),
    (r"Erd\H{o}s, Gr\"obner, {\"u}ber, caf\'e, \'{e}t\'e, na\"{\i}ve, \c{c}a, \v{S}ablon, \ss", "Erdős, Gröbner, über, café, été, naïve, ça, Šablon, ß"),
    (r"50\% faster \& smaller, \#1, snake\_case", "50% faster & smaller, #1, snake_case"),
    (r"\textbf{bold \emph{nested}} and {\em old style} and {GPU}s", "bold nested and old style and GPUs"),
    (r"up to \textbf{1.5$\times$} faster", r"up to 1.5$\times$ faster"),
    (r"code at \href{https://x.org/a}{\texttt{x.org}}\footnote{see also \url{https://y.org}}",
     "code at x.org (see also https://y.org)"),
    (r"as shown \cite{smith2020}, 360{\deg} views, \ie more, 0.9 $\pm$ 0.1", "as shown , 360° views, i.e. more, 0.9 $\\pm$ 0.1"),
    ("no markup at all: plain words.", "no markup at all: plain words."),
])
def test_markup_outside_math_is_cleaned(tex, text):
    assert clean_tex(tex) == text


def test_math_is_left_exactly_as_written():
    text = r"A $\textbf{x}~y$ and \(a--b\) and $$\emph{z}$$ stay; \$5 is a dollar."
    assert clean_tex(text) == r"A $\textbf{x}~y$ and \(a--b\) and $$\emph{z}$$ stay; $5 is a dollar."


def test_html_marks_emphasis_and_escapes_the_rest():
    html = clean_tex_html(r"We \emph{propose <b>this</b>} \& <script>x</script>, Bu~and~Tao")
    assert html == "We <em>propose &lt;b&gt;this&lt;/b&gt;</em> &amp; &lt;script&gt;x&lt;/script&gt;, Bu and Tao"
    # The marks used for emphasis cannot be smuggled in by the text itself.
    assert clean_tex_html("\ue000<i>\ue001") == "&lt;i&gt;"
    # Emphasis that opens outside math and closes inside it is dropped, never unbalanced.
    assert clean_tex_html(r"\emph{a $x}$ b") .count("<em>") == clean_tex_html(r"\emph{a $x}$ b").count("</em>")


def test_unbalanced_and_hostile_input_ends():
    assert clean_tex(r"\emph{never closed") == "never closed"
    assert clean_tex("\\emph{" * 5000)  # bounded work, no recursion
    assert clean_tex(None) == "" and clean_tex_html("") == ""


def test_leftover_commands_ignore_math():
    assert leftover_commands(r"\method beats $\alpha$ and \(\beta\)") == ["method"]
