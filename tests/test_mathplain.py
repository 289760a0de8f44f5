"""Math in plain text (feeds, mails, subject lines): TeX written as the Unicode a reader
would type, and never a lost formula or an error, whatever the text holds."""

from __future__ import annotations

import pytest

from paperboy.papers.mathplain import math_text, plain_text


@pytest.mark.parametrize(("title", "shown"), [  # titles of the shared arXiv sample
    (r"X$^{2}$-Gaussian: 4D Radiative Gaussian Splatting", "X²-Gaussian: 4D Radiative Gaussian Splatting"),
    (r"Hamming Attention and $\mathcal{O}(T)$ Complexity", "Hamming Attention and 𝒪(T) Complexity"),
    (r"Novel view synthesis of 360$^\circ$ Scenes", "Novel view synthesis of 360° Scenes"),
    (r"Strongly Solving $7 \times 6$ Connect-Four", "Strongly Solving 7 × 6 Connect-Four"),
    (r"GSBAK$^K$: $top$-$K$ Geometric Score-based Black-box Attack", "GSBAKᴷ: top-K Geometric Score-based Black-box Attack"),
    (r"FaSTA$^*$: Fast-Slow Toolpath Agent", "FaSTA*: Fast-Slow Toolpath Agent"),
    (r"An $\ell_0$-Norm of Cyclic Gradient", "An ℓ₀-Norm of Cyclic Gradient"),
    (r"Readability $\ne$ Learnability", "Readability ≠ Learnability"),
    (r"$\rho$-$\texttt{EOS}$: Training-free Control", "ρ-EOS: Training-free Control"),
])
def test_titles_read_as_a_reader_would_type_them(title, shown):
    assert plain_text(title) == shown


@pytest.mark.parametrize(("tex", "text"), [
    (r"10^{-3}", "10⁻³"),
    (r"x_{ij}", "xᵢⱼ"),
    (r"16^{th}", "16ᵗʰ"),
    (r"\mathbf{x}^\top W", "𝐱ᵀ W"),
    (r"\sum_{i=1}^{n} x_i^2", "∑ᵢ₌₁ⁿ xᵢ²"),
    (r"p \leq 10^{-16}", "p ≤ 10⁻¹⁶"),
    (r"O(n^2 \log n)", "O(n² log n)"),
    (r"\frac{a+b}{c}", "(a+b)/c"),  # not "a+b/c"
    (r"\frac{1}{2}", "1/2"),
    (r"\binom{n}{k}", "(n choose k)"),
    (r"C_{detect}", "C_detect"),  # no subscript letters for it: the mark stays
    (r"\mathbb{R}^{n \times d}", "ℝ^(n × d)"),  # more than a word: in parentheses
    (r"\textbf{77.51%}", "77.51%"),  # a percent sign, not a TeX comment
    (r"\unicode{x2013}", "–"),
    (r"\href{https://example.org/code}{here}", "here (https://example.org/code)"),
    (r"\left( x \right)", "( x )"),
    (r"\mathbb R^n", "ℝⁿ"),  # an argument without braces is still the command's
    (r"\frac 1 2", "1/2"),
])
def test_formulas_become_unicode_text(tex, text):
    assert math_text(tex) == text


@pytest.mark.parametrize(("tex", "text"), [
    (r"\projectname", r"\projectname"),  # a paper's own macro: dropped, the formula would lose a word
    (r"\frac{", r"\frac{"),  # unbalanced
    (r"x}", r"x}"),
    (r"\Prob(X_n=1)", r"\Prob(Xₙ=1)"),  # the stretch with the unknown command kept; the script read
])
def test_what_cannot_be_read_is_kept_as_written(tex, text):
    assert math_text(tex) == text


def test_text_outside_math_is_cleaned_but_never_read_as_math():
    assert plain_text("code_transformed: T^2Agent") == "code_transformed: T^2Agent"  # no dollars: no math
    assert plain_text(r"costs \$5 to \$10 and $x^2$") == "costs $5 to $10 and x²"
    assert plain_text(r"\emph{Fast} sorting by Erd\H{o}s") == "Fast sorting by Erdős"
    assert plain_text(None) == "" and plain_text("") == ""


@pytest.mark.parametrize("hostile", [
    "$" + "{" * 5000 + "$",
    "$" + "x^" * 3000 + "$",
    "$" + "^{" * 200 + "1" + "}" * 200 + "$",
    r"$\def\x{\x}\x$",
    "$<script>alert(1)</script>$",
    "$" + "\\" * 999 + "$",
])
def test_hostile_math_ends_quickly_as_text(hostile):
    assert len(plain_text(hostile)) <= len(hostile)  # (escaped where it is shown, as every text is)
