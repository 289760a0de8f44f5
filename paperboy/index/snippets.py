"""HTML-safe snippets: the text is escaped piece by piece and only our <mark> is added.

A word is marked when it analyses (lower-case, ASCII fold, English stem) to one of the
query's terms, so "transformers" is marked for the query "transformer". Common words
("for", "the") are never marked, not even inside a quoted phrase, unless the query has
nothing else. The terms'
prefixes, found with ``str.find`` in the lower-cased text, give the candidates; each is
then checked with the analyser.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

from paperboy.index.keyword import stem
from paperboy.index.stopwords import stop_terms
from paperboy.papers.textclean import MATH

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
WINDOW_CHARS = 280
LONGEST_KEPT_FORMULA = 200  # a formula the window's end falls in is kept whole up to this length


def query_terms(words: list[str]) -> set[str]:
    terms: set[str] = set()
    for w in words:
        for m in _WORD.finditer(w):
            terms.update(stem(m.group(0)[:40]))
    return (terms - stop_terms()) or terms


@lru_cache(maxsize=1024)
def _prefixes(terms: frozenset[str]) -> tuple[str, ...]:
    """What a word must start with to be a candidate: a term's first up-to-6 characters
    (the stemmer may have cut or changed its end), longest first."""
    return tuple(sorted({t[: max(1, min(len(t) - 1, 6))] if len(t) > 3 else t for t in terms if t},
                        key=len, reverse=True))


@lru_cache(maxsize=1024)
def _candidates(terms: frozenset[str]) -> re.Pattern | None:
    prefixes = _prefixes(terms)
    if not prefixes:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(map(re.escape, prefixes)) + r")[^\W_]*", re.IGNORECASE)


def _spans(text: str, terms: set[str]) -> list[tuple[int, int]]:
    """(start, end) of the words of ``text`` whose index terms are among ``terms``.

    Candidates are the words starting with a term's prefix, found with ``str.find`` on the
    lower-cased text (C speed, nothing to compile per query; a regex alternation cost
    ~0.25 ms to compile for every new query); each is then checked with the analyser.
    Text whose lower-casing changes its length (rare Unicode) takes the regex path."""
    key = frozenset(terms)
    prefixes = _prefixes(key)
    if not prefixes:
        return []
    low = text.lower()
    if len(low) != len(text):
        pattern = _candidates(key)
        return [m.span() for m in pattern.finditer(text) if any(t in terms for t in stem(m.group(0)[:40]))]
    starts: set[int] = set()
    for prefix in prefixes:
        i = low.find(prefix)
        while i >= 0:
            if i == 0 or not low[i - 1].isalnum():
                starts.add(i)
            i = low.find(prefix, i + 1)
    spans = []
    for i in sorted(starts):
        m = _WORD.match(text, i)
        if m is not None and any(t in terms for t in stem(m.group(0)[:40])):
            spans.append(m.span())
    return spans


def highlight(text: str, terms: set[str], *, window: int | None = None) -> str:
    """``text`` escaped, matched words in <mark>; cut to the ``window`` characters with most
    matches. Math (``$...$`` and the other delimiters) is left whole, unmarked, so the page
    can render it: the window neither starts nor ends inside a formula."""
    text = text or ""
    maths = [m.span() for m in MATH.finditer(text)] if "$" in text or "\\" in text else []
    spans = _spans(text, terms) if terms and text else []
    if maths and spans:
        spans = [(s, e) for s, e in spans if not any(a < e and s < b for a, b in maths)]
    lo, hi = 0, len(text)
    if window and len(text) > window:
        start = 0
        if spans:
            best, j = -1, 0
            for i, (s, _) in enumerate(spans):
                while j < len(spans) and spans[j][1] <= s + window - 40:
                    j += 1
                if j - i > best:
                    best, start = j - i, s
            start = max(0, min(start - 40, len(text) - window))
        if start > 0:
            space = text.find(" ", start)
            start = space + 1 if 0 <= space < start + 30 else start
        lo, hi = start, min(len(text), start + window)
        if hi < len(text):
            space = text.rfind(" ", lo, hi)
            hi = space if space > lo + window // 2 else hi
        cut = lo, hi
        for a, b in maths:  # a formula cut in two would show as TeX
            if a < lo < b:
                lo = a
            if a < hi < b:
                hi = b if b - a <= LONGEST_KEPT_FORMULA else a
        if hi <= lo:  # inside one long formula: its TeX, cut
            lo, hi = cut
    out: list[str] = ["… "] if lo > 0 else []
    pos = lo
    for s, e in spans:
        if s < lo or e > hi:
            continue
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:hi]))
    if hi < len(text):
        out.append(" …")
    return "".join(out)
