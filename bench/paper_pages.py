"""One page of a long paper list: whole rows sorted, against the ids sorted first.

    PYTHONPATH=. .venv/bin/python bench/paper_pages.py              # SQLite, bench/foryou.py's instance
    PYTHONPATH=. .venv/bin/python bench/paper_pages.py --postgres   # the same on the local PostgreSQL

A category's page, a followed author's and a member's /following feed list papers newest
first, 30 to a page, out of thousands. The raw baseline asks for the page's whole rows
in one ordered query, as those pages did until the twenty-third session: the database
sorts every matching row, abstracts and all, to keep 30. The shipped way
(``queries.page_of_papers``) orders the ids only and then reads the page's 30 rows.
Both run here in turn, in process, on the same database and the same member (the
instance of ``bench/foryou.py``: the sample's 10,348 papers, members following two
authors and their field), so the ratio survives a noisy machine; the answers are checked
to be the same.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import foryou  # noqa: E402  (its instance: the sample, members with follows)

LIBRARY_OWNER = "paper-pages-bench@example.org"


def big_collection(engine, size: int = 3000) -> int:
    """A member of this bench's own (not one of bench/foryou.py's, whose likes it would
    change) with a collection of ``size`` papers, as a BibTeX import makes; made once.
    Returns their id."""
    import datetime as dt

    from sqlalchemy import insert, select

    from paperboy.store.models import Collection, CollectionItem, Paper, User, utcnow

    with engine.begin() as conn:
        owner = conn.scalar(select(User.id).where(User.email == LIBRARY_OWNER))
        if owner is not None:
            return owner
        now = utcnow()
        owner = conn.execute(insert(User).values(email=LIBRARY_OWNER, display_name="Library owner",
                                                 created_at=now).returning(User.id)).scalar()
        cid = conn.execute(insert(Collection).values(user_id=owner, name="Library").returning(Collection.id)).scalar()
        ids = conn.scalars(select(Paper.id).order_by(Paper.id).limit(size)).all()
        conn.execute(insert(CollectionItem), [{"collection_id": cid, "paper_id": p, "added_at": now - dt.timedelta(minutes=k)}
                                              for k, p in enumerate(ids)])
        return owner


def pages(db, member_id: int, library_owner: int) -> dict:
    """Each page measured: (condition, order, offset, join), the join being a collection's items or None."""
    from sqlalchemy import and_, func, or_, select

    from paperboy.community import follows
    from paperboy.papers.authors import author_ids
    from paperboy.papers.queries import in_category
    from paperboy.papers.visibility import visible
    from paperboy.store.models import Collection, CollectionItem, Paper, PaperAuthor, PaperCategory

    category = and_(visible(), in_category("cs.CV"))
    by_day = (Paper.announced_on.desc().nulls_last(), Paper.upvotes.desc(), Paper.arxiv_id.desc())
    mine = follows.followed(db, member_id)
    cats = [t for k, t in mine if k == "category"]
    ids = author_ids(db, [t for k, t in mine if k == "author"])
    followed = and_(visible(), or_(Paper.id.in_(select(PaperCategory.paper_id).where(PaperCategory.category.in_(cats))),
                                   Paper.id.in_(select(PaperAuthor.paper_id).where(PaperAuthor.author_id.in_(ids)))))
    day = func.coalesce(Paper.featured_on, Paper.announced_on)
    newest = (day.desc().nulls_last(), Paper.upvotes.desc(), Paper.id.desc())
    latest = (CollectionItem.added_at.desc(), Paper.id)
    collections = {}
    for coll in db.scalars(select(Collection.id).where(Collection.user_id.in_([member_id, library_owner]))
                           .order_by(Collection.id)):
        size = db.scalar(select(func.count()).where(CollectionItem.collection_id == coll))
        collections[f"a collection of {size:,}, page 1"] = (and_(CollectionItem.collection_id == coll, visible()),
                                                           latest, 0, CollectionItem)
    return {
        "category cs.CV, page 1": (category, by_day, 0, None),
        "category cs.CV, page 100": (category, by_day, 2970, None),
        f"/following ({len(mine)} follows), page 1": (followed, newest, 0, None),
        f"/following ({len(mine)} follows), page 20": (followed, newest, 570, None),
        **collections,
    }


def selects(cond, order, join):
    """(whole rows, ids) of one page's query: the raw baseline and what page_of_papers is given."""
    from sqlalchemy import select

    from paperboy.papers.queries import papers_query
    from paperboy.store.models import CollectionItem, Paper

    whole, ids = papers_query(), select(Paper.id)
    if join is not None:
        whole = whole.join(CollectionItem, CollectionItem.paper_id == Paper.id)
        ids = ids.join(CollectionItem, CollectionItem.paper_id == Paper.id)
    return whole.where(cond).order_by(*order), ids.where(cond).order_by(*order)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    foryou.instance_arguments(ap, repeats=40)
    args = ap.parse_args()

    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from paperboy.papers.queries import page_of_papers
    from paperboy.store.models import User

    _, engine, n = foryou.open_instance(args, members=1)
    owner = big_collection(engine)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{n} papers on {backend}; {args.repeats} runs of each, in process, one after the other")
    print(f"{'page (30 papers)':34s} {'whole rows p50/p95 ms':>22s} {'ids first p50/p95 ms':>22s} {'ratio p50':>10s}")
    with Session(engine) as db:
        member = db.scalar(select(User.id).where(User.email == foryou.EMAIL.format(0)))
        for label, (cond, order, offset, join) in pages(db, member, owner).items():
            whole, ids = selects(cond, order, join)
            a, a50, a95 = foryou.timed(lambda w=whole, o=offset: list(db.scalars(w.limit(30).offset(o))), args.repeats)
            b, b50, b95 = foryou.timed(lambda i=ids, o=offset: page_of_papers(db, i, limit=30, offset=o), args.repeats)
            assert [p.id for p in a] == [p.id for p in b], label
            print(f"{label:34s} {a50:10.2f} / {a95:8.2f} {b50:10.2f} / {b95:8.2f} {a50 / b50:9.1f}x")
    engine.dispose()


if __name__ == "__main__":
    main()
