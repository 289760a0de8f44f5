"""A category's page on a large store: the old query against the shipped one, same run.

    PYTHONPATH=. .venv/bin/python bench/category_pages.py --sqlite DATA_DIR/paperboy.db
    PYTHONPATH=. .venv/bin/python bench/category_pages.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/DB

Point it at a database a snapshot was imported into (``bench/snapshot_gen.py --records
300000 --out FILE``, then ``paperboy ingest snapshot FILE`` with ``PAPERBOY_DATA_DIR`` or
``PAPERBOY_DATABASE_URL`` set, then ``paperboy db upgrade``). For the largest category, a
mid-sized one and a small one, at page 1 and page 51, it times what a category page asks
of the database, in turn, several times each:

* raw baseline: the query as shipped until the twenty-fifth session: every visible paper
  of the category counted, and its ids sorted whole to keep 30;
* shipped: ``queries.category_papers``'s ids and total (the category's rows counted once
  per process, its hidden papers subtracted; the ids read along ``ix_papers_listing``
  for a large category).

The page's papers are checked to be the same. Prints the median milliseconds and the
ratio. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import and_, func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from paperboy.config import Settings  # noqa: E402
from paperboy.papers import queries as q  # noqa: E402
from paperboy.papers.visibility import visible  # noqa: E402
from paperboy.store.db import get_engine  # noqa: E402
from paperboy.store.models import Paper, PaperCategory  # noqa: E402

PAGE = 30


def old_page(db: Session, category: str, offset: int) -> tuple[list[int], int]:
    ids = select(PaperCategory.paper_id).where(PaperCategory.category == category)
    cond = and_(visible(), Paper.id.in_(ids))
    total = db.scalar(select(func.count()).select_from(Paper).where(cond)) or 0
    order = (Paper.announced_on.desc().nulls_last(), Paper.upvotes.desc(), Paper.arxiv_id.desc())
    return list(db.scalars(select(Paper.id).where(cond).order_by(*order).limit(PAGE).offset(offset))), total


def new_page(db: Session, category: str, offset: int) -> tuple[list[int], int]:
    total = q.category_total(db, category)
    return list(db.scalars(q.category_ids(db, category, total, limit=PAGE, offset=offset))), total


def timed(fn, *args, repeat: int) -> tuple[float, tuple]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(*args)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", help="an SQLite file")
    where.add_argument("--postgres", help="a PostgreSQL URL")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    url = f"sqlite:///{args.sqlite}" if args.sqlite else args.postgres
    engine = get_engine(Settings(database_url=url))
    with Session(engine) as db:
        counts = db.execute(select(PaperCategory.category, func.count()).group_by(PaperCategory.category)
                            .order_by(func.count().desc())).all()
        papers = db.scalar(select(func.count()).select_from(Paper))
        picks = [counts[0], counts[len(counts) // 20], counts[len(counts) // 4]]
        print(f"{engine.dialect.name}: {papers:,} papers, {len(counts)} categories")
        print(f"{'category':<16}{'papers':>9}{'page':>6}{'old ms':>10}{'shipped ms':>12}{'ratio':>8}")
        for category, n in picks:
            for page in (1, 51):
                offset = (page - 1) * PAGE
                old_ms, old = timed(old_page, db, category, offset, repeat=args.repeat)
                new_ms, new = timed(new_page, db, category, offset, repeat=args.repeat)
                assert old == new, (category, page, "answers differ")
                print(f"{category:<16}{n:>9,}{page:>6}{old_ms:>10.1f}{new_ms:>12.1f}{old_ms / new_ms:>7.1f}x")


if __name__ == "__main__":
    main()
