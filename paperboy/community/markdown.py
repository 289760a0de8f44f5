"""Comment Markdown to safe HTML: markdown-it (raw HTML off) + TeX math + nh3.

``$x$``, ``\\(x\\)``, ``$$x$$`` and ``\\[x\\]`` become MathML (latex2mathml); everything
is then cleaned by nh3 with an allow-list, so whatever a comment contains renders inert: links keep only
http, https and mailto and get rel="nofollow noopener"; no attribute can hold script.

Addresses typed bare (``https://...``, ``http://...``) become links, as on GitHub or a
forum; "arXiv:2401.12345" (or an old-style "arXiv:hep-th/9901001") links to that paper's
page here, where its discussion is. Neither happens inside code or an existing link.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import quote

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markdown_it.common.normalize_url import validateLink
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from paperboy.web.mathtext import space_functions

MAX_BODY = 20_000

_MATH_TAGS = {
    "math", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "semantics", "annotation",
}
_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li", "a",
    "del", "s", "table", "thead", "tbody", "tr", "th", "td",
} | _MATH_TAGS
_MATH_ATTRS = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace",
               "columnalign", "linethickness", "accent", "accentunder", "width", "height", "depth",
               "movablelimits", "minsize", "maxsize", "symmetric", "largeop", "form"}
_ATTRS = {"a": {"href", "title"}, "ol": {"start"}, "code": {"class"},
          **{t: _MATH_ATTRS for t in _MATH_TAGS}}

ARXIV_MENTION = re.compile(r"\barXiv:\s?(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(v\d+)?\b", re.I)


def _arxiv_links(state: StateCore) -> None:
    """A core rule after linkify: "arXiv:ID" in plain text becomes a link to /papers/ID."""
    for block in state.tokens:
        if block.type != "inline" or not block.children or "arxiv:" not in block.content.lower():
            continue
        out: list[Token] = []
        inside_link = 0
        for tok in block.children:
            inside_link += tok.type == "link_open"
            inside_link -= tok.type == "link_close"
            if tok.type != "text" or inside_link or not ARXIV_MENTION.search(tok.content):
                out.append(tok)
                continue
            at = 0
            for m in ARXIV_MENTION.finditer(tok.content):
                if m.start() > at:
                    out.append(_text(tok.content[at:m.start()], tok.level))
                link = Token("link_open", "a", 1, attrs={"href": f"/papers/{m.group(1)}"}, level=tok.level)
                out += [link, _text(m.group(0), tok.level + 1), Token("link_close", "a", -1, level=tok.level)]
                at = m.end()
            if at < len(tok.content):
                out.append(_text(tok.content[at:], tok.level))
        block.children = out


def _text(content: str, level: int) -> Token:
    return Token("text", "", 0, content=content, level=level)


def _valid_link(url: str) -> bool:
    """markdown-it's own check, and a web address must keep its host: markdown-it's URL
    parser empties a host longer than DNS allows (253), and a bare address's text would go
    with it; such an address stays text."""
    if not validateLink(url):
        return False
    scheme, sep, rest = url.partition("://")
    return not sep or scheme.lower() not in ("http", "https") or bool(rest.split("/", 1)[0])


def _image_as_link(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{html.escape(token.attrGet("src") or "")}">[image: {html.escape(alt)}]</a>'


def _markdown(linkify: bool) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": linkify, "typographer": False}).enable(
        ["strikethrough", "table", "linkify"])
    # Only addresses with their scheme: "e.g." or "arXiv.org" in a sentence stays text.
    md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})
    md.validateLink = _valid_link
    md.core.ruler.after("linkify", "arxiv_links", _arxiv_links)
    # A "# Heading" in a comment is bold text, not a heading of the page: an <h1> there
    # sat in the paper page's outline (for a screen reader, a heading like the title's)
    # and in the page's largest type.
    # Images are not shown (a tracker, or a page-wide picture, in anyone's comment): one
    # is a link to it instead, so "![Figure 3](https://…)" is not lost without a word.
    md.add_render_rule("image", _image_as_link)
    md.add_render_rule("heading_open", lambda self, tokens, idx, options, env: "<p><strong>")
    md.add_render_rule("heading_close", lambda self, tokens, idx, options, env: "</strong></p>\n")
    return md


# linkify-it scans ahead from every address for balanced brackets: 1,400 addresses with a
# "(" in 20,000 characters took 450 ms. Past MAX_AUTOLINKS addresses (spam, or a pasted
# list) they stay text, so addresses cost a comment milliseconds, however many. With no
# address at all, linkify is not run (5 ms of 20,000 characters of prose).
MAX_AUTOLINKS = 50
_md, _md_no_autolinks = _markdown(True), _markdown(False)

_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\d)")
# \[...\] and \(...\): Markdown would read "\(" as an escaped "(" and print "(x^2)", so
# they are set aside before it runs, like the dollars.
_DISPLAY_BRACKETS = re.compile(r"(?<!\\)\\\[(.+?)\\\]", re.S)
_INLINE_PARENS = re.compile(r"(?<!\\)\\\((.+?)\\\)", re.S)
_TAG = re.compile(r"<[^>]*>")


# markdown-it stops reading a document at its nesting limit (maxNesting, 20 token levels,
# which guards its recursion): whatever lies deeper would vanish without a word. A comment
# that comes near it is refused instead. A list level costs two (list and item), a quote
# one; the margin refuses some depths that would still render (9 lists, 18-19 quotes).
_NEAR_NESTING_LIMIT = _md.options["maxNesting"] - 2
MAX_LIST_DEPTH = _NEAR_NESTING_LIMIT // 2 - 1


def too_deep(body: str) -> str | None:
    """Why ``body`` cannot be shown whole (lists or quotes nested past what Markdown
    reads), or None."""
    if sum(body.count(marker) for marker in ">-*+.)") < MAX_LIST_DEPTH:
        return None  # too few markers to nest that deep: no second parse (most comments)
    if max((tok.level for tok in _md_no_autolinks.parse(body[:MAX_BODY])), default=0) >= _NEAR_NESTING_LIMIT:
        return (f"Lists and quotes can be nested at most {MAX_LIST_DEPTH} deep in a comment; "
                "deeper text would not be shown. Flatten them.")
    return None


def _math(tex: str, display: bool) -> str:
    try:
        # the thin space TeX puts after \log, \sin...: "O(n log n)", not "O(nlogn)", as in abstracts
        out = latex_to_mathml(space_functions(tex), display="block" if display else "inline")
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
    rendered = (_md if 0 < text.count("://") <= MAX_AUTOLINKS else _md_no_autolinks).render(text)
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
