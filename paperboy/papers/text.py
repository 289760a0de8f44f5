"""Text and names as stored: whitespace mended, LaTeX accents turned into letters, author
names cleaned and folded into the key authors are looked up by."""

from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")


def clean_text(text: str | None) -> str:
    """Collapse the hard line breaks and runs of spaces arXiv keeps in titles and abstracts,
    and drop the control characters no text means (a BEL reached the API's JSON as
    ``\\u0007``) and the bidirectional overrides and isolates, which can make a title or an
    abstract read otherwise than it is written (in a card, a feed, a search snippet)."""
    if not text:
        return ""
    if text.isascii():
        # Fast path for the common hard-wrapped ASCII text: only single newlines to mend
        # (printable ASCII holds no tab, no other break, no control character).
        t = text.strip().replace("\n", " ")
        if "  " not in t and t.isprintable():
            return t
    # Same spacing as _WS.sub(" ", text).strip() (both use str.isspace), several times faster.
    return " ".join(text.translate(_DROPPED).split())


# Control characters that are not white space (those become a space), DEL and the C1
# controls, then the bidirectional overrides and isolates. NUL is kept: a record holding
# one is refused whole (``ingest.normalise``), as a sign of a corrupt source.
_DROPPED = dict.fromkeys([c for c in (*range(0x01, 0x20), *range(0x7F, 0xA0)) if not chr(c).isspace()]
                         + [*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def clean_optional(text: str | None) -> str | None:
    cleaned = clean_text(text)
    return cleaned or None


_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "c": "\u0327", "v": "\u030c", "u": "\u0306",
    "H": "\u030b", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331",
}
_LETTERS = {
    "ss": "ß", "o": "ø", "O": "Ø", "l": "ł", "L": "Ł", "ae": "æ", "AE": "Æ",
    "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å", "i": "ı", "j": "ȷ",
}
# \'a  \'{a}  {\'a}  \c{c}  \c c  \v{s}  \"{\i}
_ACCENT_RE = re.compile(
    r"\{?\\(?P<cmd>['`^\"~=.]|[cvuHkrdb](?=[{\s]))\s*(?:\{\s*(?P<a>\\?[A-Za-z]{1,2})\s*\}|(?P<b>\\?[A-Za-z]))\}?"
)
_LETTER_RE = re.compile(r"\{?\\(?P<name>ss|ae|AE|oe|OE|aa|AA|o|O|l|L|i|j)(?![A-Za-z])\s*(?:\{\})?\}?")


def latex_to_unicode(text: str) -> str:
    """Turn the LaTeX accents arXiv keeps in author names into Unicode (``Bal\\'azs`` → ``Balázs``)."""
    if "\\" not in text:
        return text

    def accent(m: re.Match) -> str:
        base = m.group("a") or m.group("b")
        if base.startswith("\\"):
            base = _LETTERS.get(base[1:], base[1:])
        return unicodedata.normalize("NFC", base + _ACCENTS[m.group("cmd")])

    text = _ACCENT_RE.sub(accent, text)
    text = _LETTER_RE.sub(lambda m: _LETTERS[m.group("name")], text)
    return text


_NAME_CACHE: dict[str, str] = {}
_CACHE_MAX = 500_000


def clean_name(name: str) -> str:
    """A display name: LaTeX accents to Unicode, braces dropped, spaces collapsed, NFC.

    Memoised (names repeat across papers); the memo is bounded.
    """
    cached = _NAME_CACHE.get(name)
    if cached is not None:
        return cached
    if len(_NAME_CACHE) >= _CACHE_MAX:
        _NAME_CACHE.clear()
    result = _NAME_CACHE[name] = _clean_name(name)
    return result


def _clean_name(name: str) -> str:
    name = latex_to_unicode(name)
    # Braces protecting capitals ({Van} der Berg) carry no meaning once rendered.
    if "{" in name or "}" in name:
        name = name.replace("{", "").replace("}", "")
    if name.isascii():
        return " ".join(name.split())
    return unicodedata.normalize("NFC", " ".join(name.split()))


def name_key(name: str) -> str:
    """Accent- and case-folded form used to look authors up."""
    if name.isascii():  # nothing to decompose; ASCII casefold is lower
        return name.lower()
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_AUTHOR_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")
_PAREN = re.compile(r"\([^()]*\)")


def split_authors(text: str) -> list[str]:
    """Split arXiv's ``'A. One, B. Two and C. Three'`` (affiliations in parentheses dropped)."""
    text = clean_text(text)
    while "(" in text and _PAREN.search(text):
        text = _PAREN.sub("", text)
    names = [clean_name(part) for part in _AUTHOR_SPLIT.split(text)]
    return [n for n in names if n]




def shorten(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word near ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + "…"
