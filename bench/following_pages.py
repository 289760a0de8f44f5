"""A member's /following feed on a large store: the query as it was and as it is.

    PYTHONPATH=. .venv/bin/python bench/following_pages.py DATABASE_URL [--old-timeout 60]

DATABASE_URL is a store of many papers, e.g. ``bench/scale.py --backends postgresql
--steps ingest --keep``'s ``pb_scale``. For a few sets of follows (the largest category, a
small one, the most prolific author, one with a few papers, and mixes of them), it times
``papers.queries.followed_papers`` (first page, then page 101), each twice (the second
with the database's cache warm), and the query the feed used before the fix: "IN
(category rows) OR IN (author rows)" with its count, under a statement timeout on
PostgreSQL. Prints milliseconds; nothing asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import and_, func, or_, select, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from paperboy.papers.queries import followed_papers  # noqa: E402
from paperboy.papers.visibility import visible  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.models import Paper, PaperAuthor, PaperCategory  # noqa: E402


def old_query(db: Session, cats: list[str], authors: set[int]) -> int:
    """What /following ran before (2026-12-07): the count, then the first page."""
    by_cat = Paper.id.in_(select(PaperCategory.paper_id).where(PaperCategory.category.in_(cats)))
    by_author = Paper.id.in_(select(PaperAuthor.paper_id).where(PaperAuthor.author_id.in_(authors)))
    cond = and_(visible(), or_(by_cat, by_author))
    total = db.scalar(select(func.count()).select_from(Paper).where(cond)) or 0
    day = func.coalesce(Paper.featured_on, Paper.announced_on)
    db.scalars(select(Paper.id).where(cond).order_by(day.desc().nulls_last(), Paper.upvotes.desc(), Paper.id.desc())
               .limit(30)).all()
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--old-timeout", type=int, default=60, help="seconds the old query may run (PostgreSQL)")
    args = ap.parse_args()
    engine = make_engine(args.url)
    with Session(engine) as db:
        n = db.scalar(select(func.count()).select_from(Paper))
        cats = db.execute(select(PaperCategory.category, func.count()).group_by(PaperCategory.category)
                          .order_by(func.count().desc())).all()
        big, small = cats[0][0], next(c for c, k in cats if k < 20_000)
        prolific = db.execute(select(PaperAuthor.author_id, func.count()).group_by(PaperAuthor.author_id)
                              .order_by(func.count().desc()).limit(1)).one()
        few = db.scalar(select(PaperAuthor.author_id).order_by(PaperAuthor.paper_id).limit(1).offset(n // 2))
        print(f"{n:,} papers; largest category {big} ({cats[0][1]:,}), small {small}; "
              f"the most prolific author has {prolific[1]:,} papers")
        cases = [([big], set()), ([small], set()), ([], {prolific[0]}), ([], {few}), ([big, cats[1][0]], {few}),
                 ([small, cats[len(cats) // 3][0]], {few})]
        for follow_cats, authors in cases:
            name = "+".join(follow_cats + [f"author({len(authors)})"] * bool(authors))
            for offset in (0, 3000):
                times = []
                for _ in range(2):
                    t = time.perf_counter()
                    found = followed_papers(db, follow_cats, authors, limit=30, offset=offset)
                    times.append((time.perf_counter() - t) * 1000)
                    db.rollback()
                print(f"  now  {name:<28} page {offset // 30 + 1:>3}: {times[0]:8.1f} / {times[1]:7.1f} ms "
                      f"(total {found.total:,}{'' if found.exact else ', at least'})", flush=True)
            if engine.dialect.name == "postgresql":
                db.execute(text(f"SET statement_timeout = {args.old_timeout * 1000}"))
            t = time.perf_counter()
            try:
                total = old_query(db, follow_cats, authors)
                print(f"  before {name:<26} page   1: {(time.perf_counter() - t) * 1000:8.1f} ms (total {total:,})")
            except OperationalError:
                print(f"  before {name:<26} page   1: > {args.old_timeout} s (stopped by the statement timeout)")
            db.rollback()


if __name__ == "__main__":
    main()
