"""Untrusted text with LaTeX math → safe HTML.

Titles and abstracts come from outside. Everything is escaped, except math between
``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]``, which latex2mathml turns into
MathML; that MathML is then passed through an allow-list sanitiser (nh3), so even a
``\\text{<script>}`` inside math ends up as text. When a formula cannot be converted,
its TeX source is shown as (escaped) code instead. TeX markup outside math
(``\\emph{…}``, ``~``, ``--``, accents…) is cleaned by ``paperboy.papers.textclean``, the same
function feeds and digest mails use.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3
from markupsafe import Markup, escape

from paperboy.papers.mathplain import math_text
from paperboy.papers.textclean import MATH as _MATH
from paperboy.papers.textclean import clean_tex_html, math_source

_MAX_FORMULA = 400

_MATHML_TAGS = {
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot",
    "mstyle", "merror", "mpadded", "mphantom", "menclose", "msub", "msup", "msubsup",
    "munder", "mover", "munderover", "mtable", "mtr", "mtd", "semantics", "annotation",
}
_MATHML_ATTRS = {
    "math": {"display"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "form", "largeop", "movablelimits", "minsize", "maxsize", "symmetric"},
    "mi": {"mathvariant"},
    "mn": {"mathvariant"},
    "mtext": {"mathvariant"},
    "mstyle": {"displaystyle", "scriptlevel", "mathvariant", "mathsize"},
    "mspace": {"width"},
    "mfrac": {"linethickness"},
    "mover": {"accent"},
    "munder": {"accentunder"},
    "mtable": {"columnalign", "rowspacing", "columnspacing"},
    "mtd": {"columnalign"},
    "menclose": {"notation"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"},
}


# Function names that latex2mathml sets as bare <mi> with no space after them, so
# "\log\log n" read "loglogn". TeX puts a thin space after them unless a bracket
# follows; we add that \, (an <mspace>) ourselves. (\max, \lim… become <mo>, which
# browsers space already.) The scripts are matched possessively: backing off "\log_2("
# to "\log" would put the space before the subscript.
_FUNCTIONS = ("log", "ln", "lg", "exp", "sin", "cos", "tan", "sec", "csc", "cot", "sinh", "cosh",
              "tanh", "coth", "arcsin", "arccos", "arctan", "deg", "dim", "ker", "hom")
_FUNCTION = re.compile(
    r"\\(" + "|".join(sorted(_FUNCTIONS, key=len, reverse=True)) + r")(?![A-Za-z])"
    r"((?:\s*[_^]\s*(?:\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\]))*+)"  # scripts: \log_2, \sin^2
    r"(?!\s*(?:[(\[|.,;:)\]}]|\\[,;:! ]|\\left|\\\{|\\right|$))"
)


_ORDINARY_BEFORE = re.compile(r"[A-Za-z0-9)\]}']\s*$")
_COMMAND_BEFORE = re.compile(r"\\[A-Za-z]+\s*$")


def space_functions(tex: str) -> str:
    """``n\\log\\log n`` -> ``n\\,\\log\\,\\log\\, n``; ``\\arg`` as an operator name
    (latex2mathml prints it as "\\arg"). TeX also puts a thin space before the name when
    a letter, digit or closing bracket comes before it ("O(n log n)", not "O(nlog n)"); not
    after a command (``\\cdot\\log``: an operator spaces itself) or an opening bracket."""
    def spaced(m: re.Match) -> str:
        before = m.string[max(0, m.start() - 40):m.start()]
        lead = "\\," if _ORDINARY_BEFORE.search(before) and not _COMMAND_BEFORE.search(before) else ""
        return f"{lead}\\{m.group(1)}{m.group(2)}\\,"
    tex = _FUNCTION.sub(spaced, tex)
    return re.sub(r"\\arg(?![A-Za-z])", r"\\operatorname{arg}", tex)


@lru_cache(maxsize=4096)  # a formula is converted once (search snippets are rendered per request)
def _to_mathml(tex: str, display: bool) -> str | None:
    if len(tex) > _MAX_FORMULA or not tex.strip():
        return None
    try:
        from latex2mathml.converter import convert

        raw = convert(space_functions(tex), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on bad TeX
        return None
    return nh3.clean(raw, tags=_MATHML_TAGS, attributes=_MATHML_ATTRS, link_rel=None)


def _math_html(m: re.Match) -> str:
    tex = math_source(m)
    display = m.group("dd") is not None or m.group("b") is not None
    mathml = _to_mathml(tex, display)
    if mathml:
        # Named by its Unicode text: Chrome left MathML out of a heading's or link's name,
        # so a screen reader read "Hamming Attention and Complexity" for "… and O(T) …".
        return (f'<span class="math" role="math" aria-label="{escape(math_text(tex))}" '
                f'title="{escape(tex.strip())}">{mathml}</span>')
    return f'<code class="tex">{escape(m.group(0))}</code>'


@lru_cache(maxsize=8192)  # titles and abstracts of the hot pages; bounded memory
def render_math(text: str | None) -> Markup:
    """Escape ``text``, rendering its math to sanitised MathML (plain TeX when that fails)
    and cleaning the TeX markup around it (``\\emph{x}`` -> <em>x</em>, ``~`` -> space…)."""
    if not text:
        return Markup("")
    return Markup(clean_tex_html(text, _math_html))


def render_math_in_html(fragment: str) -> Markup:
    """The math an escaped HTML fragment still holds as TeX (a search snippet: escaped
    text and <mark>, formulas whole and unmarked) rendered as ``render_math`` renders it.
    The fragment must already be safe: only the formulas are replaced; one with a tag
    inside is left as it is."""
    def one(m: re.Match) -> str:
        if "<" in m.group(0):
            return m.group(0)
        source = _MATH.fullmatch(html.unescape(m.group(0)))
        return _math_html(source) if source else m.group(0)

    return Markup(_MATH.sub(one, fragment))


def has_math(text: str | None) -> bool:
    return bool(text) and _MATH.search(text) is not None

