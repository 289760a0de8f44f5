"""Topic trends: ``/trends`` (plot, table, CSV link), ``/api/trends`` (JSON) and
``/api/trends.csv``, all with the same parameters:

    q=TOPIC (1 to 5 times)   a search query: words, "phrase", cat:cs.CL, author:"Name"
    unit=month|week          the periods (weeks start on Monday)
    value=share|count|votes  what is plotted (JSON and CSV always carry all three)
    from=, to=               YYYY-MM-DD or YYYY-MM; default: the last 24 months (26 weeks)
                             up to the newest paper

Counting is the index's (``index/trends.py``); this module reads parameters, answers bad
ones with a 422 that says why, and draws with ``web/charts.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from paperboy.index.trends import MAX_TOPIC_CHARS, MAX_TOPICS, TopicError, Trend, TrendCounter
from paperboy.rank import rising
from paperboy.web.charts import integer, line_chart, percent, sparkline
from paperboy.web.deps import get_db
from paperboy.web.paperjson import ErrorOut

router = APIRouter(include_in_schema=False)  # the page; its JSON and CSV are in the API document
api_router = APIRouter(prefix="/api", tags=["api"])

Unit = Literal["month", "week"]
Value = Literal["share", "count", "votes"]
DAY_OR_MONTH = r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$"
TOPIC_PATTERN = r"^[^\u0000]*\S[^\u0000]*$"
ERRORS = {422: {"model": ErrorOut, "description": "Bad parameter: no topic, more than 5, a bad date or range, "
                                                  "or a topic with nothing to count (the answer says which)"}}
VALUE_NAMES = {"share": "share of the period's papers", "count": "papers", "votes": "votes"}


def _topics_param(q: list[str] | None) -> list[str]:
    return list(q or [])


TOPICS_QUERY = Query(
    None, description=f"A topic (1 to {MAX_TOPICS}, repeat q=): a search query, e.g. \"large language models\", "
                      "cat:cs.CL or author:\"Yann LeCun\"",
    json_schema_extra={"minItems": 1, "maxItems": MAX_TOPICS,
                       "items": {"type": "string", "minLength": 1, "maxLength": MAX_TOPIC_CHARS, "pattern": TOPIC_PATTERN}},
)
# Empty is allowed and means the default (the page's form sends its empty fields).
FROM_QUERY = Query(None, alias="from", description="First day or month, YYYY-MM-DD or YYYY-MM; empty: the default",
                   json_schema_extra={"pattern": f"^$|{DAY_OR_MONTH}"})
TO_QUERY = Query(None, description="Last day or month, YYYY-MM-DD or YYYY-MM (a month means its last day); "
                                   "empty: the default",
                 json_schema_extra={"pattern": f"^$|{DAY_OR_MONTH}"})
UNIT_QUERY = Query("month", description="Periods: month, or week (ISO weeks, from Monday)")
VALUE_QUERY = Query("share", description="What is plotted: share of the period's papers, count, or summed votes")


def parse_day(value: str | None, name: str, *, end: bool) -> dt.date | None:
    """``YYYY-MM-DD``, or ``YYYY-MM`` (its first day, or its last for ``end``); empty: None.
    Not stripped: " " is no date, as the documented pattern says."""
    value = value or ""
    if not value:
        return None
    if not re.fullmatch(DAY_OR_MONTH[1:-1], value):
        raise TopicError(f"{name} '{value[:20]}' is not a date: use YYYY-MM-DD or YYYY-MM.")
    try:
        if len(value) == 7:
            first = dt.date(int(value[:4]), int(value[5:7]), 1)
            if not end:
                return first
            return (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise TopicError(f"{name} '{value[:20]}' is not a calendar date.") from None


def compute(request: Request, topics: list[str], unit: str, from_: str | None, to: str | None) -> Trend:
    """The trend, or ``TopicError`` with the reason."""
    if len(topics) > MAX_TOPICS:
        raise TopicError(f"At most {MAX_TOPICS} topics at once ({len(topics)} given).")
    first, last = parse_day(from_, "from", end=False), parse_day(to, "to", end=True)
    return request.app.state.search.trends.trend(topics, unit, first, last)


def search_url(topic: str) -> str:
    return "/search?" + urlencode({"q": topic})


def trends_url(topics: list[str], **params) -> str:
    pairs = [("q", t) for t in topics] + [(k, v) for k, v in params.items() if v]
    return "/trends?" + urlencode(pairs)


# --- JSON ----------------------------------------------------------------------------

class PeriodOut(BaseModel):
    label: str = Field(description="2025-03 (a month) or 2025-W12 (an ISO week)")
    start: dt.date
    end: dt.date = Field(description="Its last day")
    total: int = Field(description="Visible papers announced in the period (the share's denominator)")


class TopicOut(BaseModel):
    topic: str
    counts: list[int] = Field(description="Papers matching the topic, per period")
    shares: list[float] = Field(description="counts / total, per period")
    votes: list[int] = Field(description="Summed votes of those papers, per period")
    total: int
    search: str = Field(description="The papers themselves: a search for the topic")
    messages: list[str] = Field(description="How the topic was read (e.g. an unclosed quote)")


class TrendOut(BaseModel):
    unit: Unit
    value: Value
    periods: list[PeriodOut]
    topics: list[TopicOut]


def trend_out(trend: Trend, value: str) -> TrendOut:
    return TrendOut(
        unit=trend.unit, value=value,
        periods=[PeriodOut(label=lab, start=p.start, end=p.end - dt.timedelta(days=1), total=t)
                 for lab, p, t in zip(trend.labels, trend.periods, trend.totals, strict=True)],
        topics=[TopicOut(topic=s.topic, counts=s.counts, shares=[round(x, 6) for x in s.shares], votes=s.votes,
                         total=s.total, search=search_url(s.topic), messages=s.messages) for s in trend.series],
    )


@api_router.get("/trends", response_model=TrendOut, responses=ERRORS, summary="Topics per week or month")
def api_trends(request: Request, q: list[str] | None = TOPICS_QUERY, unit: Unit = UNIT_QUERY,
               value: Value = VALUE_QUERY, from_: str | None = FROM_QUERY, to: str | None = TO_QUERY) -> TrendOut:
    return trend_out(_api_trend(request, q, unit, from_, to), value)


def _api_trend(request: Request, q: list[str] | None, unit: Unit, from_: str | None, to: str | None) -> Trend:
    """The trend the API's parameters ask for; a bad topic or date is a 422."""
    try:
        return compute(request, _topics_param(q), unit, from_, to)
    except TopicError as exc:
        raise HTTPException(422, str(exc)) from None


class RisingTermOut(BaseModel):
    term: str
    recent_count: int = Field(description="Recent papers with the term")
    recent_total: int = Field(description="Recent papers read")
    base_count: int = Field(description="Papers with it in the six months before")
    base_total: int
    llr: float = Field(description="Dunning's log-likelihood ratio G²")
    score: float = Field(description="Lower 95% bound of ln(recent share / earlier share): the rank")
    search: str = Field(description="Its papers: a search for the term as a phrase")
    trend: str = Field(description="Its plot on /trends")


class RisingOut(BaseModel):
    unit: Unit
    recent_from: dt.date | None = Field(description="The recent window (null before the worker's first list)")
    recent_to: dt.date | None
    base_from: dt.date | None
    computed_at: dt.datetime | None
    terms: list[RisingTermOut]


@api_router.get("/trends/rising", response_model=RisingOut, responses=ERRORS, summary="Rising now (the stored list)")
def api_rising(unit: Unit = UNIT_QUERY, db: Session = Depends(get_db, scope="function")) -> RisingOut:
    rows = rising.stored(db, unit)
    top = rows[0] if rows else None
    return RisingOut(
        unit=unit, recent_from=top and top.recent_from, recent_to=top and top.recent_to, base_from=top and top.base_from,
        computed_at=top and top.computed_at,
        terms=[RisingTermOut(term=r.term, recent_count=r.recent_count, recent_total=r.recent_total,
                             base_count=r.base_count, base_total=r.base_total, llr=round(r.llr, 3),
                             score=round(r.score, 4), search=search_url(r.query),
                             trend=trends_url([r.query], unit=unit)) for r in rows])


# --- CSV -----------------------------------------------------------------------------

def _cell(text: str) -> str:
    # A spreadsheet would run a cell that starts like a formula (OWASP's CSV injection).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def trend_csv(trend: Trend) -> str:
    """One row per (period, topic): period, start, end, topic, count, share, votes, total."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(["period", "start", "end", "topic", "count", "share", "votes", "total"])
    for i, (label, period) in enumerate(zip(trend.labels, trend.periods, strict=True)):
        for s in trend.series:
            out.writerow([label, period.start.isoformat(), (period.end - dt.timedelta(days=1)).isoformat(),
                          _cell(s.topic), s.counts[i], f"{s.shares[i]:.6f}", s.votes[i], trend.totals[i]])
    return buf.getvalue()


@api_router.get("/trends.csv", response_class=Response, responses={
    200: {"description": "One row per period and topic", "content": {"text/csv": {"schema": {"type": "string"}}}},
    **ERRORS}, summary="Topics per week or month, as CSV")
def api_trends_csv(request: Request, q: list[str] | None = TOPICS_QUERY, unit: Unit = UNIT_QUERY,
                   value: Value = VALUE_QUERY, from_: str | None = FROM_QUERY, to: str | None = TO_QUERY) -> Response:
    return Response(trend_csv(_api_trend(request, q, unit, from_, to)), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="trends.csv"'})


# --- the page ------------------------------------------------------------------------

def chart_for(trend: Trend, value: str) -> dict:
    fmt = percent if value == "share" else integer
    names = [s.topic for s in trend.series]
    what = VALUE_NAMES[value]
    span = f"{trend.labels[0]} to {trend.labels[-1]}" if trend.labels else ""
    desc = "; ".join(
        f"{s.topic}: {fmt(max(s.values(value), default=0))} at most, {s.total:,} paper{'' if s.total == 1 else 's'} in all" for s in trend.series)
    svg = line_chart(trend.labels, [(s.topic, s.values(value)) for s in trend.series],
                     title=f"{what.capitalize()} per {trend.unit}, {span}: " + ", ".join(names),
                     desc=desc, fmt=fmt, chart_id="trend-chart")
    rows = [(label, trend.totals[i], [fmt(s.values(value)[i]) for s in trend.series])
            for i, label in enumerate(trend.labels)]
    return {"svg": svg, "rows": rows, "what": what}


@router.get("/trends", response_class=HTMLResponse)
def trends_page(request: Request, q: list[str] | None = TOPICS_QUERY, unit: Unit = UNIT_QUERY,
                value: Value = VALUE_QUERY, from_: str | None = FROM_QUERY, to: str | None = TO_QUERY,
                db: Session = Depends(get_db, scope="function")):
    # The form sends all five fields; the blank ones are no topic.
    tidy = [" ".join(t.split()) for t in _topics_param(q) if t.strip()]
    # A topic typed twice (in two boxes, or Back and add) is one line, not two on top of each other.
    firsts: dict[str, str] = {}
    for topic in tidy:
        firsts.setdefault(topic.casefold(), topic)
    topics = list(firsts.values())
    context = {"nav": "trends", "topics": topics, "unit": unit, "value": value, "from_": from_ or "", "to": to or "",
               "error": None, "trend": None, "chart": None, "max_topics": MAX_TOPICS,
               "search_url": search_url, "trends_url": trends_url,
               "rising": rising_for(db, request.app.state.search.trends, unit)}
    status = 200
    if topics or q is not None:
        try:
            trend = compute(request, topics, unit, from_, to)
        except TopicError as exc:
            context["error"], status = str(exc), 422
        else:
            params = [("q", t) for t in topics] + [("unit", unit), ("value", value)]
            params += [(k, v) for k, v in (("from", from_), ("to", to)) if v]
            context.update(trend=trend, chart=chart_for(trend, value), csv_url="/api/trends.csv?" + urlencode(params),
                           api_url="/api/trends?" + urlencode(params))
    return request.app.state.templates.TemplateResponse(request, "trends.html", context, status_code=status)


@dataclass
class RisingView:
    term: str
    query: str
    recent_count: int
    recent_share_text: str
    base_share_text: str
    spark: Markup


def rising_for(db: Session, counter: TrendCounter, unit: str) -> dict | None:
    """The worker's stored "rising now" list for ``unit``, each term with its sparkline."""
    rows = rising.stored(db, unit)
    if not rows:
        return None
    top = rows[0]
    terms = []
    for r in rows:
        try:
            shares = counter.trend([r.query], unit, r.base_from, r.recent_to).series[0].shares
        except TopicError:
            shares = []
        label = f"Share of papers with {r.term} per {unit} since {r.base_from}"
        terms.append(RisingView(
            r.term, r.query, r.recent_count, percent(r.recent_count / max(1, r.recent_total)),
            percent(r.base_count / max(1, r.base_total)), sparkline(shares, label=label) if shares else Markup("")))
    describe = (f"Words and phrases in a larger share of the papers announced {top.recent_from} to {top.recent_to} "
                f"({top.recent_total:,} papers) than of the six months before ({top.base_total:,} papers), "
                f"each in at least {rising.MIN_COUNT} recent papers and past a significance floor (log-likelihood "
                f"test, p < 0.001). Computed {top.computed_at:%Y-%m-%d %H:%M} UTC.")
    return {"terms": terms, "describe": describe, "unit": unit}
