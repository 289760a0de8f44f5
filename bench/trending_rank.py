"""The trending ranker with many votes: weights summed by the database, against Python.

    PYTHONPATH=. .venv/bin/python bench/trending_rank.py              # SQLite, bench/foryou.py's instance
    PYTHONPATH=. .venv/bin/python bench/trending_rank.py --postgres   # the same on the local PostgreSQL
    PYTHONPATH=. .venv/bin/python bench/trending_rank.py --likes 300  # its 300-likes instance: 36,400 votes

Every vote counts 2^(-age/h) (rank/trending.py). Until the twenty-third session the
ranker read every vote of the window and both days of every paper of the window into
Python and weighed them there; ``python_side`` below is that way, kept as the raw
baseline. Now the database sums each paper's votes (``hours_since_epoch`` and ``exp`` in
SQL) and hands back one number per paper. Both run here in turn, in process, on the
same database (``bench/foryou.py``'s instance: the sample's 10,348 papers and its members'
votes, every one of them in the window as the sample's days are older than the votes),
and their answers are checked to be the same. A page that shows trending runs it each
time the page cache is stale, which every vote makes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import foryou  # noqa: E402  (its instance: the sample, members with votes)


def python_side(conn, *, now: dt.datetime, limit: int, half_life_hours: float) -> tuple[list[int], list[float]]:
    """The raw baseline: every vote and paper day read into Python and weighed there."""
    from sqlalchemy import or_, select

    from paperboy.papers.visibility import visible
    from paperboy.rank.trending import WINDOW_HALF_LIVES, _as_utc, reference_time
    from paperboy.store.models import Paper, Vote

    h = half_life_hours
    ref = reference_time(conn, now)
    since = ref - dt.timedelta(hours=h * WINDOW_HALF_LIVES)
    since_day = since.date()
    in_window = (Vote.created_at >= since, Vote.created_at <= now)
    votes = conn.execute(select(Vote.paper_id, Vote.created_at).where(*in_window)).all()
    voted = {pid for pid, _ in votes}
    stmt = select(Paper.id, Paper.announced_on, Paper.featured_on).where(
        visible(), or_(Paper.announced_on >= since_day, Paper.featured_on >= since_day,
                       Paper.id.in_(select(Vote.paper_id).where(*in_window))))
    rows = [(pid, a, f) for pid, a, f in conn.execute(stmt)
            if pid in voted or (a >= since_day if a else f is not None and f >= since_day)]

    def decay(t: dt.datetime) -> float:
        return 0.5 ** (max(0.0, (ref - t).total_seconds() / 3600.0) / h)

    scores = {pid: decay(_as_utc(a or f)) if (a or f) else 0.0 for pid, a, f in rows}
    for pid, created in votes:
        if pid in scores:
            scores[pid] += decay(_as_utc(created))
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], -kv[0]))[:limit]
    return [pid for pid, _ in ranked], [round(s, 6) for _, s in ranked]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    foryou.instance_arguments(ap, repeats=20)
    ap.add_argument("--members", type=int, default=200)
    args = ap.parse_args()

    from sqlalchemy import func, select

    from paperboy.rank.trending import trending
    from paperboy.store.models import Vote

    settings, engine, n = foryou.open_instance(args, members=args.members)
    now = dt.datetime.now(dt.UTC)
    h = settings.trending_half_life_hours
    with engine.connect() as conn:
        votes = conn.scalar(select(func.count()).select_from(Vote))
        print(f"{n} papers and {votes:,} votes on {'PostgreSQL' if args.postgres else 'SQLite'}; "
              f"{args.repeats} runs of each, in process, one after the other")
        print(f"{'trending, top':16s} {'in Python p50/p95 ms':>22s} {'in SQL p50/p95 ms':>20s} {'ratio p50':>10s}")
        for limit in (50, 100):
            a, a50, a95 = foryou.timed(lambda k=limit: python_side(conn, now=now, limit=k, half_life_hours=h), args.repeats)
            b, b50, b95 = foryou.timed(lambda k=limit: trending(conn, now=now, limit=k, half_life_hours=h), args.repeats)
            assert a[0] == b[0], "the two ways rank differently"
            assert max(abs(x - y) for x, y in zip(a[1], b[1], strict=True)) < 1e-5
            print(f"{limit:<16d} {a50:10.1f} / {a95:8.1f} {b50:10.1f} / {b95:7.1f} {a50 / b50:9.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
