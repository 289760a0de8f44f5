"""Comment Markdown to safe HTML: markdown-it (raw HTML off) + TeX math + nh3.

``$x$``, ``\\(x\\)``, ``$$x$$`` and ``\\[x\\]`` become MathML (latex2mathml); everything
is then cleaned by nh3 with an allow-list, so whatever a comment contains renders inert: links keep only
http, https and mailto and get rel="nofollow noopener"; no attribute can hold script.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import quote

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
# \[...\] and \(...\): Markdown would read "\(" as an escaped "(" and print "(x^2)", so
# they are set aside before it runs, like the dollars.
_DISPLAY_BRACKETS = re.compile(r"(?<!\\)\\\[(.+?)\\\]", re.S)
_INLINE_PARENS = re.compile(r"(?<!\\)\\\((.+?)\\\)", re.S)
_TAG = re.compile(r"<[^>]*>")


def _math(tex: str, display: bool) -> str:
    try:
        out = latex_to_mathml(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml raises many kinds on bad input: show the source
        return f"<code>{html.escape(tex)}</code>"
    return out


def render(body: str) -> str:
    """Markdown with math to sanitised HTML.

    Formulas are set aside behind placeholders while Markdown renders. Each render's
    placeholders carry a random nonce, so text a member types can never be taken for
    one; and a formula that Markdown put inside a tag (a link's address) goes back as
    its escaped source, never as MathML inside an attribute."""
    body = body[:MAX_BODY]
    nonce = secrets.token_hex(8)
    formulas: list[tuple[str, bool, str]] = []  # (TeX, display, source as typed)

    def keep(display: bool):
        def sub(m: re.Match) -> str:
            formulas.append((m.group(1).strip(), display, m.group(0)))
            return f"\u2063M{nonce}x{len(formulas) - 1}\u2063"
        return sub

    text = _DISPLAY.sub(keep(True), body)
    text = _DISPLAY_BRACKETS.sub(keep(True), text)
    text = _INLINE.sub(keep(False), text)
    text = _INLINE_PARENS.sub(keep(False), text)
    rendered = _md.render(text)
    if not formulas:
        return clean(rendered)
    placeholder = re.compile(f"\u2063M{nonce}x(\\d+)\u2063")

    def source(m: re.Match) -> str:
        return html.escape(formulas[int(m.group(1))][2])

    # Markdown percent-encodes a link's address, the placeholder's marks included.
    encoded = re.compile(f"%E2%81%A3M{nonce}x(\\d+)%E2%81%A3")

    def url_source(m: re.Match) -> str:
        return quote(formulas[int(m.group(1))][2], safe="")

    rendered = _TAG.sub(lambda tag: encoded.sub(url_source, placeholder.sub(source, tag.group(0))), rendered)
    rendered = placeholder.sub(lambda m: _math(*formulas[int(m.group(1))][:2]), rendered)
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
