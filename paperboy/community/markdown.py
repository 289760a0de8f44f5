"""Comment Markdown to safe HTML: markdown-it (raw HTML off) + TeX math + nh3.

``$x$`` and ``$$x$$`` become MathML (latex2mathml); everything is then cleaned by nh3
with an allow-list, so whatever a comment contains renders inert: links keep only
http, https and mailto and get rel="nofollow noopener"; no attribute can hold script.
"""

from __future__ import annotations

import html
import re

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt

MAX_BODY = 20_000

_MATH_TAGS = {
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation",
}
_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "h1", "h2", "h3", "h4", "h5", "h6", "del", "s", "table", "thead", "tbody", "tr", "th", "td",
} | _MATH_TAGS
_MATH_ATTRS = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
               "columnalign", "linethickness", "accent", "accentunder", "width", "height", "depth",
               "movablelimits", "minsize", "maxsize", "symmetric", "largeop", "form"}
_ATTRS = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"},
          **{t: _MATH_ATTRS for t in _MATH_TAGS}}

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("strikethrough").enable("table")

_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")
_PLACEHOLDER = "\u2063MATH{}\u2063"


def _math(tex: str, display: bool) -> str:
    try:
        out = latex_to_mathml(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds on bad input: show the source
        return f"<code>{html.escape(tex)}</code>"
    return out


def render(body: str) -> str:
    """Markdown with math to sanitised HTML."""
    body = body[:MAX_BODY]
    chunks: list[str] = []

    def keep(display: bool):
        def sub(m: re.Match) -> str:
            chunks.append(_math(m.group(1).strip(), display))
            return _PLACEHOLDER.format(len(chunks) - 1)
        return sub

    text = _DISPLAY.sub(keep(True), body)
    text = _INLINE.sub(keep(False), text)
    rendered = _md.render(text)
    for i, chunk in enumerate(chunks):
        rendered = rendered.replace(_PLACEHOLDER.format(i), chunk)
    return clean(rendered)


def clean(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_TAGS,
        attributes=_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener",
        strip_comments=True,
    )
