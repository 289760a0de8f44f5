"""Untrusted text with LaTeX math → safe HTML.

Titles and abstracts come from outside. Everything is escaped, except math between
``$...$``, ``$$...$$``, ``\\(...\\)`` and ``\\[...\\]``, which latex2mathml turns into
MathML; that MathML is then passed through an allow-list sanitiser (nh3), so even a
``\\text{<script>}`` inside math ends up as text. When a formula cannot be converted,
its TeX source is shown as (escaped) code instead.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markupsafe import Markup, escape

_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$|(?<!\\)\$(?P<d>[^$]+?)(?<!\\)\$|\\\((?P<p>.+?)\\\)|\\\[(?P<b>.+?)\\\]",
    re.DOTALL,
)
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


def _to_mathml(tex: str, display: bool) -> str | None:
    if len(tex) > _MAX_FORMULA or not tex.strip():
        return None
    try:
        from latex2mathml.converter import convert

        raw = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds of errors on bad TeX
        return None
    return nh3.clean(raw, tags=_MATHML_TAGS, attributes=_MATHML_ATTRS, link_rel=None)


@lru_cache(maxsize=8192)  # titles and abstracts of the hot pages; bounded memory
def render_math(text: str | None) -> Markup:
    """Escape ``text``, rendering its math to sanitised MathML (plain TeX when that fails)."""
    if not text:
        return Markup("")
    out: list[str] = []
    pos = 0
    for m in _MATH.finditer(text):
        out.append(str(escape(text[pos:m.start()])))
        tex = m.group("dd") or m.group("d") or m.group("p") or m.group("b") or ""
        display = m.group("dd") is not None or m.group("b") is not None
        mathml = _to_mathml(tex, display)
        if mathml:
            out.append(f'<span class="math" title="{escape(tex.strip())}">{mathml}</span>')
        else:
            out.append(f'<code class="tex">{escape(m.group(0))}</code>')
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def has_math(text: str | None) -> bool:
    return bool(text) and _MATH.search(text) is not None


_TEX_DELIMS = re.compile(r"\$\$?|\\\(|\\\)|\\\[|\\\]")


def plain_text(text: str | None) -> str:
    """The text with math delimiters dropped: for feeds, meta tags and e-mail subjects."""
    return _TEX_DELIMS.sub("", text or "").strip()
