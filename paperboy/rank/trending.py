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

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from paperboy.papers.visibility import visible
from paperboy.store.models import Paper, PaperCategory, Vote

DEFAULT_HALF_LIFE_HOURS = 48.0
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
    votes = conn.execute(select(Vote.paper_id, Vote.created_at).where(*in_window)).all()
    voted = {pid for pid, _ in votes}
    # A paper of the window: announced in it, a submission without a listing featured in
    # it, or voted for in it. "Without a listing" is checked here, not in SQL: SQLite
    # took ``announced_on IS NULL`` as an index search, and every paper of a snapshot
    # import has no announce day (1.5 s at 2.6M papers; 0.05 ms as two index ranges).
    stmt = select(Paper.id, Paper.announced_on, Paper.featured_on).where(
        visible(),
        or_(Paper.announced_on >= since_day, Paper.featured_on >= since_day,
            Paper.id.in_(select(Vote.paper_id).where(*in_window))),
    )
    if category:
        stmt = stmt.where(Paper.id.in_(select(PaperCategory.paper_id).where(PaperCategory.category == category)))
    rows = [(pid, announced, featured) for pid, announced, featured in conn.execute(stmt)
            if pid in voted or (announced >= since_day if announced else featured is not None and featured >= since_day)]
    if not rows:
        return [], []

    def decay(t: dt.datetime) -> float:
        age_h = max(0.0, (ref - t).total_seconds() / 3600.0)  # after the reference: fresh
        return 0.5 ** (age_h / h)

    scores: dict[int, float] = {}
    for pid, announced, featured in rows:
        day = announced or featured
        scores[pid] = decay(_as_utc(day)) if day else 0.0
    for pid, created in votes:
        if pid in scores:
            scores[pid] += decay(_as_utc(created))
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -kv[0]))[: max(0, limit)]
    return [pid for pid, _ in ranked], [round(s, 6) for _, s in ranked]


def explanation(half_life_hours: float) -> str:
    h = f"{half_life_hours:g}"
    return (f"Each upvote counts 1 when cast and loses half its weight every {h} hours; "
            f"a paper also starts with the weight of one vote on the day it appears, which fades the same way. "
            f"The score is the sum, so fresh papers with recent votes rise to the top.")
