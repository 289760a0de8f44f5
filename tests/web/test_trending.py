"""The trending ranker: votes and freshness decaying with a half-life."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from paperboy.rank.trending import trending
from paperboy.store.models import Paper, Vote
from tests.support.factories import make_paper, make_user

NOW = dt.datetime(2025, 3, 10, 12, tzinfo=dt.UTC)
TODAY = NOW.date()


def vote(db, paper, user, at):
    db.add(Vote(user_id=user.id, paper_id=paper.id, created_at=at))
    db.flush()


def test_fresh_paper_counts_like_one_vote_and_votes_decay(db):
    users = [make_user(db) for _ in range(4)]
    new = make_paper(db, announced_on=TODAY, categories=["cs.LG"])
    older = make_paper(db, announced_on=TODAY - dt.timedelta(days=2), categories=["cs.CV"])
    for u in users[:2]:
        vote(db, older, u, NOW)  # two fresh votes
    ids, scores = trending(db.connection(), now=NOW, half_life_hours=48)
    by_id = dict(zip(ids, scores, strict=True))
    # new: its day started 12 h ago → 0.5^(12/48)
    assert by_id[new.id] == pytest.approx(0.5 ** (12 / 48), rel=1e-5)
    # older: day 60 h ago plus two votes cast now
    assert by_id[older.id] == pytest.approx(0.5 ** (60 / 48) + 2, rel=1e-5)
    assert ids.index(older.id) < ids.index(new.id)
    assert scores == sorted(scores, reverse=True)


def test_half_life_changes_the_weight_of_old_votes(db):
    u = make_user(db)
    p = make_paper(db, announced_on=TODAY)
    vote(db, p, u, NOW - dt.timedelta(hours=24))
    short = dict(zip(*trending(db.connection(), now=NOW, half_life_hours=24), strict=True))[p.id]
    long = dict(zip(*trending(db.connection(), now=NOW, half_life_hours=96), strict=True))[p.id]
    assert short == pytest.approx(0.5 ** (12 / 24) + 0.5, rel=1e-5)
    assert long == pytest.approx(0.5 ** (12 / 96) + 0.5 ** (24 / 96), rel=1e-5)


def test_category_limit_and_hidden(db):
    a = make_paper(db, announced_on=TODAY, categories=["math.CO"])
    b = make_paper(db, announced_on=TODAY, categories=["math.CO", "cs.DM"])
    c = make_paper(db, announced_on=TODAY, categories=["math.CO"])
    db.execute(update(Paper).where(Paper.id == c.id).values(hidden=True))
    ids, _ = trending(db.connection(), now=NOW, category="math.CO")
    assert set(ids) == {a.id, b.id}
    assert trending(db.connection(), now=NOW, category="cs.DM")[0] == [b.id]
    assert len(trending(db.connection(), now=NOW, limit=1)[0]) == 1


def test_old_papers_fall_out_of_the_window(db):
    old = make_paper(db, announced_on=TODAY - dt.timedelta(days=60))
    fresh = make_paper(db, announced_on=TODAY)
    ids, _ = trending(db.connection(), now=NOW, half_life_hours=48)
    assert fresh.id in ids and old.id not in ids
    # ... unless someone votes for it now
    vote(db, old, make_user(db), NOW - dt.timedelta(hours=1))
    ids, _ = trending(db.connection(), now=NOW, half_life_hours=48)
    assert old.id in ids


def test_a_paused_instance_ranks_as_of_its_latest_activity(db):
    """No papers or votes for months: scores are computed as of the last activity."""
    p = make_paper(db, announced_on=dt.date(2031, 1, 1))  # newest day in the db
    later = dt.datetime(2031, 6, 1, tzinfo=dt.UTC)
    ids, scores = trending(db.connection(), now=later, half_life_hours=48)
    assert ids[0] == p.id and scores[0] == pytest.approx(0.5 ** (24 / 48), rel=1e-5)
