"""What For you builds and keeps ahead of members' requests: the windows' candidates, as
the server starts and as each new day comes in, so that no member's first "For you" of
the day waits for them; and each liked paper's words, so that a refit after a vote
reads the new paper only."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from paperboy.index.embedder import configured_embedder, embedder_name
from paperboy.rank import foryou
from paperboy.site import create_app
from paperboy.store.models import Paper
from tests.community.conftest import Site, make_settings

DAY = dt.date(2025, 3, 4)


@pytest.fixture
def site_papers(fresh_engine, tmp_path):
    site = _warm_site(fresh_engine, tmp_path, seconds=0)
    topics = ["glacier melt rates", "solar wind bursts", "tensor rank bounds", "graph colouring", "protein folds"]
    made = [site.paper(title=t.title(), abstract=f"We study {t} and {t.split()[0]} data.", announced_on=DAY) for t in topics]
    with site.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(Paper.id, Paper.title, Paper.abstract, Paper.comment))}
    return site, [rows[p.id] for p in made]


def _warm_site(fresh_engine, tmp_path, seconds: float) -> Site:
    return Site(create_app(make_settings(tmp_path, for_you_warm_seconds=seconds), fresh_engine), fresh_engine)


def _kept(site: Site, span: str) -> tuple[foryou.Window, bool]:
    settings = site.app.state.settings
    with site.engine.connect() as conn:
        win = foryou.window(conn, settings, span)
        return win, foryou.POOLS.kept(conn, settings, win, embedder_name(configured_embedder(settings)))


def _until_kept(site: Site, span: str, timeout: float = 20.0) -> foryou.Window:
    deadline = time.monotonic() + timeout
    while True:
        win, kept = _kept(site, span)
        if kept:
            return win
        assert time.monotonic() < deadline, f"{span}'s candidates ({win}) were not built"
        time.sleep(0.02)


def test_the_server_builds_today_and_this_week_before_a_member_asks_and_each_new_day(fresh_engine, tmp_path):
    site = _warm_site(fresh_engine, tmp_path, seconds=0.05)
    liked = site.paper(title="Glacier melt rates", abstract="Glacier melt measured.", announced_on=DAY - dt.timedelta(days=1))
    site.paper(title="Glacier calving", abstract="Calving of glaciers.", announced_on=DAY)
    assert not _kept(site, "today")[1]
    with TestClient(site.app):  # the server starts: its lifespan starts the warmer
        # its first round is one the query embedder waits for (web.app), set once both are built
        (first_round,) = site.app.state.warm_ups
        assert first_round.wait(20) and _kept(site, "today")[1] and _kept(site, "week")[1]
        # built before any member has told the feed anything: the first one's page is quick too
        assert _until_kept(site, "today") == foryou.Window(DAY, DAY)
        assert _until_kept(site, "week") == foryou.Window(DAY - dt.timedelta(days=6), DAY)
        _, member = site.member()
        member.form(f"/papers/{liked.arxiv_id}/vote", page="/")
        # the next day's papers come in: its windows are built with nobody asking
        site.paper(title="Glacier surges", abstract="Surging glaciers.", announced_on=DAY + dt.timedelta(days=1))
        assert _until_kept(site, "today") == foryou.Window(DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1))
        assert "Glacier surges" in member.get("/for-you").text


def test_warming_can_be_turned_off(fresh_engine, tmp_path):
    site = _warm_site(fresh_engine, tmp_path, seconds=0)
    liked = site.paper(title="Glacier melt rates", abstract="Glacier melt measured.", announced_on=DAY)
    _, member = site.member()
    member.form(f"/papers/{liked.arxiv_id}/vote", page="/")
    foryou.POOLS.clear()
    with TestClient(site.app):
        time.sleep(0.3)
        assert not _kept(site, "today")[1]


def test_a_papers_words_are_transformed_once_and_read_back_the_same_in_any_order(site_papers):
    site, rows = site_papers
    settings = site.app.state.settings
    with site.engine.connect() as conn:
        space = foryou.POOLS.pool(conn, settings, foryou.window(conn, settings, "week"), None).space
    texts = {r.id: foryou.personal.term_text(r.title, r.abstract, r.comment) for r in rows}

    def fresh(some):  # the vocabulary's transform, nothing kept
        return space.terms([texts[r.id] for r in some]).toarray()

    first = space.paper_terms(rows[:3])  # transformed, then kept
    assert (first.toarray() == fresh(rows[:3])).all()
    mixed = [rows[4], rows[1], rows[3], rows[0]]  # two kept, two new, in another order
    assert (space.paper_terms(mixed).toarray() == fresh(mixed)).all()
    assert space.paper_terms(mixed).shape == (4, len(space.vocabulary))
    assert space.paper_terms([]) is None
