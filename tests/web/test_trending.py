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


def test_a_vote_today_on_an_old_corpus_keeps_its_newest_day_ranked(db):
    """The demo's papers are months old: a vote cast now must not age every other paper to nothing."""
    day = dt.date(2031, 1, 1)
    papers = [make_paper(db, announced_on=day) for _ in range(3)]
    earlier = make_paper(db, announced_on=day - dt.timedelta(days=1))
    later = dt.datetime(2031, 6, 1, tzinfo=dt.UTC)
    vote(db, papers[2], make_user(db), later - dt.timedelta(hours=1))
    ids, scores = trending(db.connection(), now=later, half_life_hours=48)
    by_id = dict(zip(ids, scores, strict=True))
    assert ids[0] == papers[2].id
    assert set(ids) == {p.id for p in [*papers, earlier]}
    # ages count from the end of the newest day; the vote, cast after it, counts in full
    assert by_id[papers[2].id] == pytest.approx(0.5 ** (24 / 48) + 1, rel=1e-5)
    assert by_id[papers[0].id] == pytest.approx(0.5 ** (24 / 48), rel=1e-5)
    assert by_id[earlier.id] == pytest.approx(0.5 ** (48 / 48), rel=1e-5)


def test_votes_after_now_do_not_count(db):
    """A digest ranks as of the end of its period: later votes are not part of it."""
    p = make_paper(db, announced_on=TODAY)
    vote(db, p, make_user(db), NOW + dt.timedelta(hours=1))
    ids, scores = trending(db.connection(), now=NOW, half_life_hours=48)
    assert dict(zip(ids, scores, strict=True))[p.id] == pytest.approx(0.5 ** (12 / 48), rel=1e-5)


def test_a_submission_counts_from_its_announce_day_not_the_day_it_was_featured(db):
    member = make_user(db)
    fresh = make_paper(db, announced_on=TODAY)
    old = make_paper(db, announced_on=TODAY - dt.timedelta(days=90))
    db.execute(update(Paper).where(Paper.id == old.id).values(featured_on=TODAY, submitted_by_id=member.id))
    ids, _ = trending(db.connection(), now=NOW, half_life_hours=48)
    assert fresh.id in ids and old.id not in ids


def test_a_submission_without_a_listing_counts_from_the_day_it_was_featured(db):
    member = make_user(db)
    fetched = make_paper(db, announced_on=None)
    stale = make_paper(db, announced_on=None)
    db.execute(update(Paper).where(Paper.id == fetched.id).values(featured_on=TODAY, submitted_by_id=member.id))
    db.execute(update(Paper).where(Paper.id == stale.id).values(
        featured_on=TODAY - dt.timedelta(days=90), submitted_by_id=member.id))
    ids, scores = trending(db.connection(), now=NOW, half_life_hours=48)
    assert dict(zip(ids, scores, strict=True))[fetched.id] == pytest.approx(0.5 ** (12 / 48), rel=1e-5)
    assert stale.id not in ids


def test_the_window_is_read_by_index_ranges_not_every_unannounced_paper(db):
    """Papers of a snapshot import have no announce day: SQLite, asked for ``announced_on
    IS NULL``, read all of them (1.5 s a request at 2.6M papers, docs/scale.md)."""
    from sqlalchemy import event

    if db.connection().dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans from its statistics")
    make_paper(db, announced_on=TODAY)
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM papers" in statement and " OR " in statement:
            seen.append((statement, parameters))

    conn = db.connection()
    event.listen(conn, "before_cursor_execute", record)
    try:
        trending(conn, now=NOW, half_life_hours=48)
    finally:
        event.remove(conn, "before_cursor_execute", record)
    assert len(seen) == 1, seen
    plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1])]
    searches = [step for step in plan if step.startswith("SEARCH papers USING INDEX")]
    assert searches and not any("announced_on=?" in step for step in searches), plan


def test_a_vote_now_for_a_paper_of_years_ago_counts_and_its_day_weighs_nothing(db):
    # its day's weight, 2^-(years/h), is below what a float holds: PostgreSQL's exp()
    # refuses it ("value out of range: underflow") unless it is taken as 0
    ancient = make_paper(db, announced_on=TODAY - dt.timedelta(days=4000))
    make_paper(db, announced_on=TODAY)
    vote(db, ancient, make_user(db), NOW - dt.timedelta(hours=48))
    ids, scores = trending(db.connection(), now=NOW, half_life_hours=48)
    assert dict(zip(ids, scores, strict=True))[ancient.id] == pytest.approx(0.5, rel=1e-5)
