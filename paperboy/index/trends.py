"""Topic trends: how many papers match a topic per week or month, from the keyword index.

A topic is a query in the search language (``query.py``): words, "phrases", -exclusions,
``author:``, ``cat:``. Its papers are the keyword search's own matches (the same
``KeywordIndex.build`` query, so a sparkline agrees with the search's count), counted per
period by one tantivy range aggregation over the ``day`` fast field (YYYYMMDD of the
announce date, so week and month boundaries are plain numbers), with the ``votes`` fast
field summed per bucket. Nothing reads the papers table: at 1M papers five topics over
five years of weeks take a few milliseconds each (``bench/trends.py``, docs/trends.md).

The total per period (the denominator of a share) is the same aggregation over every
visible paper, kept per index reader and range, since every topic of every request
shares it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import tantivy

from paperboy.index.keyword import KeywordIndex, day_number, searchable_query
from paperboy.index.query import ParsedQuery

UNITS = ("week", "month")
VALUES = ("share", "count", "votes")
MAX_TOPICS = 5
MAX_TOPIC_CHARS = 200
MAX_PERIODS = 600  # eleven years of weeks, fifty of months
DEFAULT_SPAN = {"week": 26, "month": 24}  # periods shown when no start is given
FIRST_DAY = 19000101  # papers without a date are indexed with day 0: never counted


class TopicError(ValueError):
    """A topic or range that cannot be counted; the message says why, for the reader."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    def label(self, unit: str) -> str:
        if unit == "month":
            return f"{self.start:%Y-%m}"
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass
class Series:
    topic: str
    counts: list[int]
    votes: list[int]
    shares: list[float]
    messages: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts)

    def values(self, value: str) -> list[float]:
        if value == "count":
            return [float(c) for c in self.counts]
        if value == "votes":
            return [float(v) for v in self.votes]
        return self.shares


@dataclass
class Trend:
    unit: str
    periods: list[Period]
    totals: list[int]
    series: list[Series]

    @property
    def labels(self) -> list[str]:
        return [p.label(self.unit) for p in self.periods]


def period_start(day: dt.date, unit: str) -> dt.date:
    if unit == "month":
        return day.replace(day=1)
    return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday


def _next(start: dt.date, unit: str) -> dt.date:
    if unit == "month":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=7)


def periods(unit: str, first: dt.date, last: dt.date) -> list[Period]:
    """The weeks or months from the one holding ``first`` to the one holding ``last``."""
    if unit not in UNITS:
        raise TopicError(f"'{unit}' is not a period: use week or month.")
    if first > last:
        raise TopicError(f"The range starts ({first}) after it ends ({last}).")
    out: list[Period] = []
    start = period_start(first, unit)
    while start <= last:
        end = _next(start, unit)
        out.append(Period(start, end))
        if len(out) > MAX_PERIODS:
            raise TopicError(f"At most {MAX_PERIODS} {unit}s at once; choose a shorter range.")
        start = end
    return out


def parse_topic(text: str) -> ParsedQuery:
    """The topic's query, or ``TopicError`` saying why it is not one."""
    text = " ".join(str(text or "").split())
    if not text:
        raise TopicError("A topic is empty: type words, a \"phrase\", cat:cs.CL or author:\"Name\".")
    if len(text) > MAX_TOPIC_CHARS:
        raise TopicError(f"A topic is at most {MAX_TOPIC_CHARS} characters long.")
    q = searchable_query(text)
    if q.arxiv_id:
        raise TopicError(f"'{text[:60]}' is one paper's identifier, not a topic.")
    if q.is_empty and q.messages:  # what was typed holds nothing the index has
        raise TopicError(f"'{text[:60]}' has nothing to count: {q.messages[-1]}")
    if q.like_text or q.is_empty:
        raise TopicError(f"'{text[:60]}' has nothing to count: type words, a \"phrase\", cat: or author:.")
    if q.only_stop_words:
        raise TopicError(f"'{text[:60]}' has only words nearly every paper uses; add a more specific one.")
    return q


def _range_agg(bounds: list[Period]) -> dict:
    ranges = [{"key": str(i), "from": day_number(p.start), "to": day_number(p.end)} for i, p in enumerate(bounds)]
    return {"p": {"range": {"field": "day", "ranges": ranges}, "aggs": {"v": {"sum": {"field": "votes"}}}}}


def count_periods(kwi: KeywordIndex, query: tantivy.Query, bounds: list[Period]) -> tuple[list[int], list[int]]:
    """Papers matching ``query`` and their summed votes in each period: one aggregation."""
    if not bounds:
        return [], []
    result = kwi.index.searcher().aggregate(query, _range_agg(bounds))
    counts, votes = [0] * len(bounds), [0] * len(bounds)
    buckets = result["p"]["buckets"]
    for bucket in buckets.values() if isinstance(buckets, dict) else buckets:
        key = bucket.get("key")
        if isinstance(key, str) and key.isdigit() and int(key) < len(bounds):
            i = int(key)
            counts[i] = int(bucket["doc_count"])
            votes[i] = int(round((bucket.get("v") or {}).get("value") or 0))
    return counts, votes


def visible_query(kwi: KeywordIndex) -> tantivy.Query:
    return kwi.build(ParsedQuery(raw=""))


def day_span(kwi: KeywordIndex) -> tuple[dt.date, dt.date] | None:
    """The first and last announce day among the visible papers (None when there are none)."""
    dated = tantivy.Query.boolean_query([
        (tantivy.Occur.Must, visible_query(kwi)),
        (tantivy.Occur.Must, tantivy.Query.range_query(kwi.schema, "day", tantivy.FieldType.Integer, FIRST_DAY, None)),
    ])
    stats = kwi.index.searcher().aggregate(dated, {"s": {"stats": {"field": "day"}}})["s"]
    if not stats.get("count"):
        return None

    def as_date(number: float) -> dt.date:
        n = int(number)
        return dt.date(n // 10000, n // 100 % 100, n % 100)

    return as_date(stats["min"]), as_date(stats["max"])


class TrendCounter:
    """Counts topics per period on a search service's keyword reader (thread-safe).

    ``reader`` returns the current ``(KeywordIndex | None, stamp)``; the totals per period
    are kept per stamp (a new index commit forgets them)."""

    def __init__(self, reader) -> None:
        self._reader = reader
        self._lock = threading.Lock()
        self._totals: OrderedDict[tuple, tuple[list[int], list[int]]] = OrderedDict()
        self._spans: dict[object, tuple[dt.date, dt.date] | None] = {}

    def _current(self) -> tuple[KeywordIndex, object]:
        kwi, stamp = self._reader()
        if kwi is None:
            raise TopicError("The search index is being built; try again in a moment.")
        return kwi, stamp

    def span(self) -> tuple[dt.date, dt.date] | None:
        kwi, stamp = self._current()
        with self._lock:
            if stamp in self._spans:
                return self._spans[stamp]
        found = day_span(kwi)
        with self._lock:
            self._spans = {stamp: found}
        return found

    def default_range(self, unit: str, first: dt.date | None, last: dt.date | None) -> tuple[dt.date, dt.date]:
        """``first``/``last`` as given, else the data's last day and ``DEFAULT_SPAN`` periods before it."""
        if unit not in UNITS:
            raise TopicError(f"'{unit}' is not a period: use week or month.")
        span = self.span()
        today = dt.date.today()
        if last is None:
            last = span[1] if span else today
        if first is None:
            start = period_start(last, unit)
            for _ in range(DEFAULT_SPAN[unit] - 1):
                start = period_start(start - dt.timedelta(days=1), unit)
            first = max(start, period_start(span[0], unit)) if span else start
        return first, last

    def totals(self, bounds: list[Period]) -> tuple[list[int], list[int]]:
        kwi, stamp = self._current()
        key = (stamp, tuple((p.start, p.end) for p in bounds))
        with self._lock:
            hit = self._totals.get(key)
            if hit is not None:
                self._totals.move_to_end(key)
                return hit
        found = count_periods(kwi, visible_query(kwi), bounds)
        with self._lock:
            self._totals[key] = found
            while len(self._totals) > 64:
                self._totals.popitem(last=False)
        return found

    def trend(self, topics: list[str], unit: str, first: dt.date | None = None, last: dt.date | None = None) -> Trend:
        """Counts, votes and shares of up to ``MAX_TOPICS`` topics per period."""
        if not topics:
            raise TopicError("Give at least one topic (q=…).")
        if len(topics) > MAX_TOPICS:
            raise TopicError(f"At most {MAX_TOPICS} topics at once ({len(topics)} given).")
        parsed = [parse_topic(t) for t in topics]
        first, last = self.default_range(unit, first, last)
        bounds = periods(unit, first, last)
        kwi, _ = self._current()
        totals, _ = self.totals(bounds)
        series = []
        for text, q in zip(topics, parsed, strict=True):
            counts, votes = count_periods(kwi, kwi.build(q), bounds)
            shares = [c / t if t else 0.0 for c, t in zip(counts, totals, strict=True)]
            series.append(Series(" ".join(text.split()), counts, votes, shares, list(q.messages)))
        return Trend(unit, bounds, totals, series)
