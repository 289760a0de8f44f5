"""Similar papers most similar first (relevance) or newest first (recent), on a paper's
page and in the API; a bad order is a 422 in the API and the usual order on the page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from paperboy.papers.queries import SIMILAR_POOL
from paperboy.store.db import session_scope
from paperboy.store.models import Paper
from tests.support.factories import make_paper
from tests.web.conftest import seeded_site

DAY = dt.date(2025, 1, 1)


def seed_related(engine: Engine) -> dict[str, str]:
    """A paper on protein folding with diffusion, related papers announced on different
    days (the closest ones oldest), an undated related one, a hidden one and unrelated ones."""
    ids = {}
    text = "protein folding with diffusion models and structure prediction"
    with session_scope(engine) as db:
        ids["seed"] = make_paper(db, title="Diffusion models for protein folding", abstract=f"We study {text}.",
                                 announced_on=DAY).arxiv_id
        # rel0 repeats the seed's words most, rel7 least; dates in another order, rel0 the oldest.
        for n, offset in enumerate([1, 9, 3, 12, 5, 2, 15, 7]):
            words = " ".join([text] * (8 - n))
            ids[f"rel{n}"] = make_paper(db, title=f"Protein folding diffusion, study {n}", abstract=f"{words}. Part {n}.",
                                        announced_on=DAY + dt.timedelta(days=offset)).arxiv_id
        ids["undated"] = make_paper(db, title="Protein folding diffusion, undated", abstract=f"{text}.",
                                    announced_on=None).arxiv_id
        hidden = make_paper(db, title="Protein folding diffusion, hidden", abstract=f"{text}. {text}.",
                            announced_on=DAY + dt.timedelta(days=60))
        db.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True))
        ids["hidden"] = hidden.arxiv_id
        for n in range(4):
            ids[f"other{n}"] = make_paper(db, title=f"Galaxy surveys at redshift {n}", abstract="Cosmology and galaxies.",
                                          announced_on=DAY + dt.timedelta(days=40)).arxiv_id
    return ids


@pytest.fixture(scope="module")
def site(databases, tmp_path_factory):
    return seeded_site(databases, tmp_path_factory.mktemp("similar"), seed_related)


@pytest.fixture
def client(site):
    site.app.state.page_cache.clear()
    return site.client()


def _days(site) -> dict[str, dt.date | None]:
    with session_scope(site.engine) as db:
        return {a: d for a, d in db.execute(Paper.__table__.select().with_only_columns(Paper.arxiv_id, Paper.announced_on))}


def _api(client, site, query: str = "") -> list[str]:
    r = client.get(f"/api/papers/{site.ids['seed']}/similar{query}")
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()]


def _newest_first(ids: list[str], days: dict) -> list[str]:
    return sorted(ids, key=lambda a: (days[a] is None, -(days[a].toordinal() if days[a] else 0)))


def test_relevance_is_the_default_and_the_search_order(site, client):
    default = _api(client, site)
    assert default == _api(client, site, "?sort=relevance")
    hits = site.app.state.search.similar(site.ids["seed"], limit=11)
    assert default == [h.arxiv_id for h in hits if h.arxiv_id != site.ids["seed"]][:10]
    assert default != _newest_first(default, _days(site))  # so that "recent" has something to change


def test_recent_orders_the_same_similar_papers_newest_first(site, client):
    days = _days(site)
    everything = _api(client, site, "?limit=50")
    recent = _api(client, site, "?limit=50&sort=recent")
    assert len(recent) >= 9 and sorted(recent) == sorted(everything)
    assert recent == _newest_first(recent, days)
    assert recent[-1] == site.ids["undated"]
    assert site.ids["hidden"] not in recent and site.ids["seed"] not in recent
    # A short list is the newest of the similar papers, not a reshuffle of the most similar few.
    top3 = _api(client, site, "?limit=3&sort=recent")
    assert top3 == recent[:3]
    assert set(top3) != set(_api(client, site, "?limit=3"))
    assert SIMILAR_POOL >= 50


@pytest.mark.parametrize("query", ["?sort=newest", "?sort=", "?sort=RECENT", "?sort=recent&limit=0"])
def test_a_bad_sort_is_a_422_in_the_api_shape(site, client, query):
    r = client.get(f"/api/papers/{site.ids['seed']}/similar{query}")
    assert r.status_code == 422 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body["status"] == 422 and body["error"] and ("sort" in body["detail"] or "limit" in body["detail"])


def _page_similar(html: str) -> list[str]:
    section = html[html.index('class="similar"'):]
    return re.findall(r'<article class="card"[^>]*data-arxiv-id="([^"]+)"', section)


def _current(html: str) -> list[str]:
    section = html[html.index('class="similar"'):]
    return re.findall(r'<a href="[^"]*"\s+aria-current="page">([^<]+)</a>', section)


def test_the_page_toggles_between_most_similar_and_newest(site, client):
    days = _days(site)
    seed = site.ids["seed"]
    usual = client.get(f"/papers/{seed}").text
    assert _current(usual) == ["Most similar"]
    assert f'href="/papers/{seed}?sort=recent#similar-h"' in usual
    assert _page_similar(usual) == _api(client, site, "?limit=6")
    newest = client.get(f"/papers/{seed}?sort=recent").text
    assert _current(newest) == ["Newest"]
    shown = _page_similar(newest)
    assert shown == _api(client, site, "?limit=6&sort=recent") and shown == _newest_first(shown, days)
    assert shown != _page_similar(usual)
    # The page cache keeps the two orders apart, both ways round.
    assert _page_similar(client.get(f"/papers/{seed}").text) == _page_similar(usual)
    assert _page_similar(client.get(f"/papers/{seed}?sort=recent").text) == shown


def test_the_page_shows_the_usual_order_for_an_unknown_sort(site, client):
    seed = site.ids["seed"]
    usual = _page_similar(client.get(f"/papers/{seed}").text)
    for query in ("?sort=bogus", "?sort=", "?sort=%3Cscript%3E"):
        r = client.get(f"/papers/{seed}{query}")
        assert r.status_code == 200
        assert _page_similar(r.text) == usual and _current(r.text) == ["Most similar"]
        assert "<script>" not in r.text.split('class="similar"')[1]


def test_a_versioned_id_redirect_keeps_the_newest_order(site, client):
    seed = site.ids["seed"]
    r = client.get(f"/papers/{seed}v2?sort=recent", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/papers/{seed}?sort=recent"
    r = client.get(f"/papers/{seed}v2?sort=bogus", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/papers/{seed}"


def seed_few_close(engine: Engine) -> dict[str, str]:
    """A paper with two close neighbours (most of its rare words, announced early) and
    weak ones sharing two of its words, announced later."""
    rare = "quokka wombat numbat bilby dingo kookaburra platypus echidna wallaby bandicoot"
    ids = {}
    with session_scope(engine) as db:
        ids["seed"] = make_paper(db, title="Quokka and wombat burrows", abstract=f"A survey of {rare}.",
                                 announced_on=DAY).arxiv_id
        for n in range(2):
            ids[f"close{n}"] = make_paper(db, title=f"Numbat and bilby burrows {n}", abstract=f"We count {rare}.",
                                          announced_on=DAY + dt.timedelta(days=n + 1)).arxiv_id
        for n in range(6):
            ids[f"weak{n}"] = make_paper(db, title=f"Airline load factor forecasting {n}",
                                         abstract=f"Passenger demand on routes named quokka and wombat, part {n}.",
                                         announced_on=DAY + dt.timedelta(days=30 + n)).arxiv_id
    return ids


def test_newest_first_is_the_newest_of_the_close_papers_not_of_any_that_share_a_word(databases, tmp_path):
    """Without vectors, "newest" reads 50 similar papers to show a few: those sharing only
    a couple of words, dated later, took the list over."""
    site = seeded_site(databases, tmp_path, seed_few_close)
    client = site.client()
    ids = site.ids
    relevance = _api(client, site, "?limit=2")
    assert sorted(relevance) == sorted([ids["close0"], ids["close1"]])
    assert _api(client, site, "?limit=2&sort=recent") == [ids["close1"], ids["close0"]]
    # A longer list still takes the weaker ones, after the close ones, as relevance does.
    longer = _api(client, site, "?limit=5")
    assert longer[:2] == relevance and {ids[f"weak{n}"] for n in range(6)} >= set(longer[2:]) and len(longer) == 5
