"""Trending: upvotes and freshness, both decaying with a half-life.

    score(paper) = 2^(-age(paper)/h) + Σ over its votes 2^(-age(vote)/h)

``age(paper)`` is the time since the start of the paper's day (the day it was featured
by a member, else announced), ``age(vote)`` since the vote was cast, and ``h`` the
half-life (``settings.trending_half_life_hours``, 48 h by default). A paper counts like
one fresh vote on its day; a vote counts 1 when cast and half as much every ``h`` hours.

Ages are measured from a reference time that follows the newest papers, not the wall
clock: the end of the latest announce day in the store, or ``now`` when that is earlier.
On a live instance the two agree; on an old corpus (the demo, a paused import) the list
shows what was trending on its newest day, and a vote cast today counts in full (its age
is taken as zero) instead of ageing every paper of the corpus to nothing. Only papers
whose day or votes fall in the ``WINDOW_HALF_LIVES`` half-lives before the reference are
candidates; older ones score below 2^-WINDOW_HALF_LIVES per event anyway. Votes after
``now`` never count (a digest ranks as of the end of its period).

A paper's day is its arXiv announce day; a community submission without one uses the day
it was featured.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Connection

from paperboy.papers.visibility import visible
from paperboy.store.models import Paper, PaperCategory, Vote
from paperboy.store.sqltime import hours_since_epoch

DEFAULT_HALF_LIFE_HOURS = 48.0
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
UNDERFLOW = -700.0  # exp() of less than this is 0 for a ranking (e^-700 ~ 1e-304)
WINDOW_HALF_LIVES = 10


def _as_utc(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)


def reference_time(conn: Connection, now: dt.datetime) -> dt.datetime:
    """The end of the newest paper day in the store, or ``now`` when that is earlier."""
    latest = conn.scalar(select(func.max(Paper.announced_on)).where(visible()))
    if latest is None:  # only submissions without an imported listing
        latest = conn.scalar(select(func.max(Paper.featured_on)).where(visible()))
    if latest is None:
        return now
    return min(now, _as_utc(latest) + dt.timedelta(days=1))


def trending(conn: Connection, *, now: dt.datetime | None = None, limit: int = 100,
             category: str | None = None, half_life_hours: float | None = None) -> tuple[list[int], list[float]]:
    """Paper ids, best first, and their scores (see the module docstring)."""
    now = _as_utc(now) if now else dt.datetime.now(dt.UTC)
    h = float(half_life_hours or DEFAULT_HALF_LIFE_HOURS)
    ref = reference_time(conn, now)
    since = ref - dt.timedelta(hours=h * WINDOW_HALF_LIVES)
    since_day = since.date()

    in_window = (Vote.created_at >= since, Vote.created_at <= now)
    ref_hours = (ref - EPOCH).total_seconds() / 3600.0
    weight = _weight(ref_hours, h)
    listed = Paper.announced_on.is_not(None)
    fresh = case((listed, weight(hours_since_epoch(Paper.announced_on))),
                 (Paper.featured_on.is_not(None), weight(hours_since_epoch(Paper.featured_on))), else_=0.0)
    in_category = (Paper.id.in_(select(PaperCategory.paper_id).where(PaperCategory.category == category)),) \
        if category else ()

    # The papers voted for in the window, best ``limit`` first, their votes' weights summed
    # by the database (reading each vote's time into Python and weighing it there took
    # 289 ms for 36,400 votes, 50 ms this way; bench/trending_rank.py).
    votes = (select(Vote.paper_id, func.sum(weight(hours_since_epoch(Vote.created_at))).label("weight"))
             .where(*in_window).group_by(Vote.paper_id).subquery())
    score = (fresh + votes.c.weight).label("score")
    voted = dict(conn.execute(select(Paper.id, score).join(votes, votes.c.paper_id == Paper.id)
                              .where(visible(), *in_category).order_by(score.desc(), Paper.id.desc()).limit(limit)).all())
    # Then the papers of the window's days, announced in it or, without a listing,
    # featured in it. "Without a listing" is checked in the select list, not the WHERE:
    # SQLite took ``announced_on IS NULL`` there as an index search, and every paper of a
    # snapshot import has no announce day (1.5 s at 2.6M papers; 0.05 ms as two index
    # ranges). One with votes outside the top ``limit`` above scores below all of them
    # (its votes weigh more than nothing), so taking it at its day's weight alone leaves it out too.
    in_days = case((listed, Paper.announced_on >= since_day), else_=Paper.featured_on >= since_day)
    stmt = select(Paper.id, fresh, in_days).where(
        visible(), or_(Paper.announced_on >= since_day, Paper.featured_on >= since_day), *in_category)
    scores = {pid: float(day) for pid, day, shown in conn.execute(stmt) if shown}
    scores.update((pid, float(s)) for pid, s in voted.items())
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -kv[0]))[: max(0, limit)]
    return [pid for pid, _ in ranked], [round(s, 6) for _, s in ranked]


def _weight(ref_hours: float, half_life_hours: float):
    """SQL for an event's weight from its time in hours since the epoch: 1 at or after the
    reference, halving every half-life before it (``2^(-age/h)`` as ``exp(-ln 2 · age/h)``)."""
    rate = math.log(2) / half_life_hours
    # PostgreSQL's exp() fails below e^-708 (a paper announced years ago, voted for now)
    # where SQLite's gives 0; both give 0 here.
    negligible = UNDERFLOW / rate

    def weight(hours):
        return case((hours >= ref_hours, 1.0), (hours - ref_hours < negligible, 0.0),
                    else_=func.exp(rate * (hours - ref_hours)))

    return weight


def explanation(half_life_hours: float) -> str:
    h = f"{half_life_hours:g}"
    return (f"Each upvote counts 1 when cast and loses half its weight every {h} hours; "
            f"a paper also starts with the weight of one vote on the day it appears, which fades the same way. "
            f"The score is the sum, so fresh papers with recent votes rise to the top.")
