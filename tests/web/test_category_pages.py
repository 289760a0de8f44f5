"""A category's page: newest announced first, its count exact, fast however large it is.

A category of half of arXiv was sorted whole and counted whole for every page not in the
page cache (~0.7 s at 300k papers on either backend, bench/category_pages.py).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from sqlalchemy import select, text, update

from paperboy.ingest.pipeline import upsert_batch
from paperboy.papers import queries as q
from paperboy.store.models import Paper
from tests.support.factories import make_paper, paper_record

_names = itertools.count(1)


def _category() -> str:
    """A category of this test's own (arXiv's have letters only: test.Cbd, ...)."""
    return "test.C" + "".join("abcdefghij"[int(d)] for d in str(next(_names)))


def _store(db, records) -> None:
    upsert_batch(db.connection(), records)


def _expected(db, category: str) -> list[int]:
    """The page order, worked out in Python: announced day newest first (none last),
    then votes, then arXiv id, newest first."""
    papers = db.scalars(select(Paper).where(Paper.categories.contains(category), Paper.hidden.is_(False))).all()
    papers = sorted(papers, key=lambda p: p.arxiv_id, reverse=True)
    papers = sorted(papers, key=lambda p: p.upvotes, reverse=True)
    papers = sorted(papers, key=lambda p: p.announced_on or dt.date.min, reverse=True)
    return [p.id for p in papers]


def _plan(db, stmt) -> list[str]:
    sql = str(stmt.compile(db.get_bind(), compile_kwargs={"literal_binds": True}))
    return [row[-1] for row in db.execute(text("EXPLAIN QUERY PLAN " + sql))]


@pytest.fixture
def big_and_small(db):
    """A category of 450 papers (days, votes and unannounced papers mixed) and one of 5."""
    big, small = _category(), _category()
    days = [dt.date(2025, 1, d) for d in (6, 7, 8, 9)] + [None]
    _store(db, [paper_record(categories=[big, "cs.LG"], announced_on=days[i % 5]) for i in range(450)])
    _store(db, [paper_record(categories=[small], announced_on=days[i % 5]) for i in range(5)])
    ids = db.scalars(select(Paper.id).where(Paper.categories.contains(big))).all()
    for n, pid in enumerate(ids[::7]):  # votes on some, so they lead their day
        db.execute(update(Paper).where(Paper.id == pid).values(upvotes=1 + n % 4))
    db.flush()
    return big, small


@pytest.mark.parametrize("offset, walks", [(0, True), (30, True), (420, False)])
def test_a_large_category_is_read_in_page_order_along_the_listing_index(db, big_and_small, offset, walks):
    """Its first pages walk the listing index; a page near its end would walk nearly all
    of it, so it is read from the category's rows and sorted, like a small category."""
    big, _small = big_and_small
    papers, total = q.category_papers(db, big, limit=30, offset=offset)
    assert total == 450
    assert [p.id for p in papers] == _expected(db, big)[offset:offset + 30]
    if db.get_bind().dialect.name == "sqlite":  # PostgreSQL plans from its statistics
        plan = _plan(db, q.category_ids(db, big, total, limit=30, offset=offset))
        if walks:
            assert plan[0] == "SCAN papers USING INDEX ix_papers_listing", plan
            assert not any("TEMP B-TREE" in step for step in plan), plan
        else:
            assert any("ix_paper_categories_category" in step for step in plan), plan


def test_a_small_category_is_read_from_its_rows_and_sorted(db, big_and_small):
    _big, small = big_and_small
    papers, total = q.category_papers(db, small, limit=30, offset=0)
    assert total == 5
    assert [p.id for p in papers] == _expected(db, small)
    assert papers[-1].announced_on is None  # unannounced last
    if db.get_bind().dialect.name == "sqlite":
        plan = _plan(db, q.category_ids(db, small, total, limit=30, offset=0))
        assert any("ix_paper_categories_category" in step for step in plan), plan


def test_the_count_follows_hiding_and_new_papers_at_once(db):
    category = _category()
    papers = [make_paper(db, categories=[category]) for _ in range(3)]
    assert q.category_total(db, category) == 3

    papers[0].hidden = True
    db.flush()
    assert q.category_total(db, category) == 2
    assert papers[0].id not in [p.id for p in q.category_papers(db, category, limit=30, offset=0)[0]]

    make_paper(db, categories=[category, "cs.LG"])
    assert q.category_total(db, category) == 3
    papers[0].hidden = False
    db.flush()
    assert q.category_total(db, category) == 4
    assert q.category_papers(db, "test.NOTHING", limit=30, offset=0) == ([], 0)


def test_hidden_papers_are_counted_from_their_own_index(db):
    if db.get_bind().dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from its statistics")
    category = _category()
    make_paper(db, categories=[category])
    sql = str(select(Paper.id).where(Paper.hidden).compile(db.get_bind()))
    plan = [row[-1] for row in db.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert len(plan) == 1 and plan[0].startswith("SCAN papers USING") and "INDEX ix_papers_hidden" in plan[0], plan
