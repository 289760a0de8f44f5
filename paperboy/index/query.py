"""The search box's query language, parsed here (never handed to an engine's parser).

    diffusion guidance              free words (ranked, any may match)
    "classifier-free guidance"      exact phrase (must match, in title or abstract)
    -survey  -"large language"      excluded word / phrase
    author:"Yann LeCun"  author:lecun
    cat:cs.LG                       category (primary or cross-list)
    year:2024                       announce year
    date:2024-01..2024-06           date range; either side may be open (date:2024-03..)
    2403.01234, arXiv:2403.01234v2, https://arxiv.org/abs/2403.01234   go to the paper
    a pasted passage (an abstract: 40+ words)   papers like this text (no syntax read)

Common words ("for", "the"; ``stopwords.py``) are not searched for unless quoted.

Anything else that looks like syntax (``title:x``, ``AND``, ``*``, ``(``, SQL) is
just text. Problems (unbalanced quote, bad date, too long) are reported as messages
and the rest of the query still runs; parsing never raises.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field

from paperboy.index.stopwords import is_stop_word

MAX_QUERY_CHARS = 1000  # a query typed in the query language
MAX_TEXT_CHARS = 10_000  # a pasted passage ("papers like this text")
MAX_TERMS = 64
# A query this many words long (and over LIKE_TEXT_MIN_CHARS) is a passage someone pasted,
# an abstract or a paragraph: its quotes, dashes and colons are prose, not syntax.
LIKE_TEXT_MIN_WORDS = 40
LIKE_TEXT_MIN_CHARS = 200

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})

_NEW_ID = r"\d{4}\.\d{4,5}"
_OLD_ID = r"[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}"
_ID_RE = re.compile(
    rf"^(?:arxiv:\s*)?(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?$", re.IGNORECASE
)
_URL_RE = re.compile(
    rf"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?(?:\.pdf)?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_FIELDS = {"author", "authors", "au", "cat", "category", "year", "date"}


@dataclass
class ParsedQuery:
    raw: str
    words: list[str] = field(default_factory=list)  # free words, as typed
    phrases: list[str] = field(default_factory=list)  # required exact phrases
    excluded: list[str] = field(default_factory=list)  # excluded words or phrases
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    arxiv_id: str | None = None  # the query is an arXiv id or URL
    like_text: str | None = None  # a pasted passage: find papers like it
    like_terms: list[str] = field(default_factory=list)  # its distinctive terms (set by the search)
    messages: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The ranking text (free words and phrases, or the passage), e.g. for the query embedding."""
        if self.like_text:
            return self.like_text
        return " ".join(self.words + self.phrases).strip()

    @property
    def content_words(self) -> list[str]:
        """The free words that are searched for: all but the common ones."""
        return [w for w in self.words if not is_stop_word(w)]

    @property
    def stop_words(self) -> list[str]:
        return [w for w in self.words if is_stop_word(w)]

    @property
    def has_filters(self) -> bool:
        return bool(self.authors or self.categories or self.date_from or self.date_to)

    @property
    def is_empty(self) -> bool:
        return not (self.text or self.excluded or self.has_filters or self.arxiv_id)

    @property
    def only_stop_words(self) -> bool:
        """Free words were typed, but all are common words, and nothing else narrows the search."""
        return bool(self.words) and not (self.content_words or self.phrases or self.excluded or self.has_filters
                                         or self.like_text)


def match_arxiv_id(text: str) -> str | None:
    """The versionless arXiv id if ``text`` is only an arXiv id or arXiv URL."""
    text = text.strip()
    m = _ID_RE.match(text) or _URL_RE.match(text)
    if not m:
        return None
    ident = m.group("id")
    if "/" in ident:  # old style: the archive in lower case; a subject class (math.GT/…) is no part of the id
        archive, num = ident.split("/", 1)
        archive = archive.split(".", 1)[0].lower()
        return f"{archive}/{num}"
    return ident


def _parse_day(text: str, *, end: bool) -> dt.date:
    """YYYY, YYYY-MM or YYYY-MM-DD; ``end`` picks the last day of a year or month."""
    parts = text.split("-")
    if not (1 <= len(parts) <= 3) or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
        raise ValueError(text)
    year = int(parts[0])
    if len(parts) == 1:
        return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
    month = int(parts[1])
    if len(parts) == 2:
        if not 1 <= month <= 12:
            raise ValueError(text)
        return dt.date(year, month, calendar.monthrange(year, month)[1] if end else 1)
    return dt.date(year, month, int(parts[2]))


def parse_date_range(value: str) -> tuple[dt.date | None, dt.date | None]:
    """``2024``, ``2024-03``, ``2024-01..2024-06``, ``2024-01..``, ``..2024-06``."""
    value = value.strip()
    if ".." in value:
        lo, hi = value.split("..", 1)
        start = _parse_day(lo, end=False) if lo.strip() else None
        stop = _parse_day(hi, end=True) if hi.strip() else None
        if start is None and stop is None:
            raise ValueError(value)
        return start, stop
    return _parse_day(value, end=False), _parse_day(value, end=True)


def _tokens(text: str) -> tuple[list[tuple[str, str, bool]], bool]:
    """Split into (prefix, value, quoted) tokens; ``prefix`` is 'field:' or '-' or ''."""
    out: list[tuple[str, str, bool]] = []
    unbalanced = False
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        # an optional '-' or 'field:' prefix glued to the value
        prefix = ""
        if text[i] == "-" and i + 1 < n and not text[i + 1].isspace():
            prefix, i = "-", i + 1
        else:
            m = re.match(r"([A-Za-z]+):(?=\S)", text[i:])
            if m and m.group(1).lower() in _FIELDS:
                prefix, i = m.group(1).lower() + ":", i + m.end()
        if i < n and text[i] == '"':
            close = text.find('"', i + 1)
            if close < 0:
                unbalanced = True
                value, i = text[i + 1:], n
            else:
                value, i = text[i + 1:close], close + 1
            out.append((prefix, value, True))
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] != '"':
            j += 1
        value = text[i:j]
        if not value:
            value = text[start:j]
            prefix = ""
        out.append((prefix, value, False))
        i = j
    return out, unbalanced


def parse_query(raw: str | None) -> ParsedQuery:
    raw = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    q = ParsedQuery(raw=raw)
    text = _CONTROL.sub(" ", raw).translate(_QUOTES)
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS]
        space = text.rfind(" ", MAX_TEXT_CHARS - 100)
        text = text[:space] if space > 0 else text
        q.messages.append(f"The text was cut to its first {MAX_TEXT_CHARS:,} characters.")
    text = text.strip()
    if not text:
        return q

    ident = match_arxiv_id(text)
    if ident:
        q.arxiv_id = ident
        return q
    if len(text) >= LIKE_TEXT_MIN_CHARS and len(text.split()) >= LIKE_TEXT_MIN_WORDS:
        q.like_text = " ".join(text.split())
        return q
    if len(text) > MAX_QUERY_CHARS:
        text = text[:MAX_QUERY_CHARS]
        q.messages.append(f"The query was cut to its first {MAX_QUERY_CHARS:,} characters.")

    tokens, unbalanced = _tokens(text)
    if unbalanced:
        q.messages.append("A quote was not closed; the rest of the query was read as a phrase.")
    count = 0
    for prefix, value, quoted in tokens:
        value = " ".join(value.split())
        if not value:
            continue
        count += 1
        if count > MAX_TERMS:
            q.messages.append(f"Only the first {MAX_TERMS} terms of the query were used.")
            break
        if prefix in ("author:", "authors:", "au:"):
            q.authors.append(value)
        elif prefix in ("cat:", "category:"):
            if re.fullmatch(r"[A-Za-z][A-Za-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?", value):
                q.categories.append(value)
            else:
                q.messages.append(f"'{value}' is not an arXiv category (like cs.LG); ignored.")
        elif prefix in ("year:", "date:"):
            try:
                if prefix == "year:" and not re.fullmatch(r"\d{4}", value):
                    raise ValueError(value)
                lo, hi = parse_date_range(value)
            except ValueError:
                example = "year:2024" if prefix == "year:" else "date:2024-01..2024-06"
                q.messages.append(f"'{prefix}{value}' is not a date or range (try {example}); ignored.")
                continue
            if lo and (q.date_from is None or lo > q.date_from):
                q.date_from = lo
            if hi and (q.date_to is None or hi < q.date_to):
                q.date_to = hi
        elif prefix == "-":
            q.excluded.append(value)
        elif quoted:
            q.phrases.append(value)
        else:
            q.words.append(value)
    if q.date_from and q.date_to and q.date_from > q.date_to:
        q.messages.append("The date range is empty (its start is after its end).")
    return q
