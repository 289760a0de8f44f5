"""Feeds that stay meaningful: the front page's day, category and sort, paging, feeds that say where they stop.

A long day (120 papers in three categories) on an old corpus, an earlier day, and two
community submissions featured "today": one of a paper announced earlier, one of a
paper fetched from arXiv on its own (no listing, only its submission time).
"""

from __future__ import annotations

import datetime as dt
import re

import feedparser
import pytest
from sqlalchemy import select, update

from paperboy.ingest.pipeline import upsert_batch
from paperboy.papers.days import listing_day
from paperboy.store.db import session_scope
from paperboy.store.models import Paper, Vote
from tests.support.factories import make_user, paper_record
from tests.web.conftest import Site, seeded_site
from tests.web.test_pages import card_ids

LONG_DAY = dt.date(2025, 6, 20)  # a Friday
EARLIER = dt.date(2025, 6, 17)
CATS = ["cs.CV", "cs.CL", "math.CO"]  # 60, 40 and 20 papers
SUBMITTED_AT = dt.datetime(2025, 6, 18, 17, 30, tzinfo=dt.UTC)  # Wednesday 13:30 EDT: Thursday's listing


def seed(engine) -> dict[str, list[str] | str]:
    today = dt.date.today()
    long_day = [paper_record(arxiv_id=f"2506.{20000 + i:05d}", announced_on=LONG_DAY,
                             categories=[CATS[0 if i < 60 else 1 if i < 100 else 2]]) for i in range(120)]
    earlier = [paper_record(arxiv_id=f"2506.{10000 + i:05d}", announced_on=EARLIER, categories=["cs.CV"]) for i in range(3)]
    fetched = paper_record(arxiv_id="2506.15555", announced_on=None, submitted_at=SUBMITTED_AT, source="api",
                           categories=["cs.CL"])
    with session_scope(engine) as db:
        upsert_batch(db.connection(), [*long_day, *earlier, fetched])
        member = make_user(db, display_name="Grace Hopper")
        for arxiv_id in (earlier[0].arxiv_id, fetched.arxiv_id):
            db.execute(update(Paper).where(Paper.arxiv_id == arxiv_id).values(
                featured_on=today, submitted_by_id=member.id, modified_at=dt.datetime.now(dt.UTC)))
        # the most voted paper of the long day is its 70th in listing order, in cs.CL
        top = db.scalar(select(Paper).where(Paper.arxiv_id == long_day[69].arxiv_id))
        db.execute(update(Paper).where(Paper.id == top.id).values(upvotes=1))
        db.add(Vote(user_id=member.id, paper_id=top.id, created_at=dt.datetime.now(dt.UTC)))
    return {"long_day": [r.arxiv_id for r in long_day], "earlier": [r.arxiv_id for r in earlier],
            "fetched": fetched.arxiv_id, "top": long_day[69].arxiv_id}


@pytest.fixture(scope="module")
def corpus(databases, tmp_path_factory) -> Site:
    return seeded_site(databases, tmp_path_factory.mktemp("paging"), seed)


@pytest.fixture
def client(corpus):
    corpus.app.state.page_cache.clear()
    return corpus.client()


# --- 1. the front page is the latest announced day ---------------------------------

def test_submissions_featured_today_do_not_replace_the_latest_day(corpus, client):
    r = client.get("/")
    assert "Friday, June 20, 2025" in r.text
    assert "120 papers" in r.text
    ids = card_ids(r.text)
    assert ids[0] == corpus.ids["top"] and len(ids) == 50
    # each submission joins its announce day: the listed one its listing, the fetched one the estimate
    earlier = client.get(f"/papers?date={EARLIER}")
    assert set(card_ids(earlier.text)) == set(corpus.ids["earlier"])
    assert "submitted by Grace Hopper" in earlier.text
    thursday = client.get("/papers?date=2025-06-19")
    assert card_ids(thursday.text) == [corpus.ids["fetched"]]
    assert 'href="/papers?date=2025-06-19" rel="prev"' in r.text
    assert f'<time datetime="{dt.date.today()}">' not in thursday.text  # the card's day is its listing day too
    assert client.get(f"/papers?date={dt.date.today()}").text.count('class="card"') == 0


def test_submissions_are_read_from_the_featured_index_not_from_every_unannounced_paper(corpus):
    """Every feed page asks for the submissions without a listing. Papers of a snapshot
    import have no announce day, so at 2.6M papers SQLite, led by ``announced_on IS
    NULL``, read every paper for it: 1.5 s a call, five calls a page (docs/scale.md)."""
    from sqlalchemy import text

    from paperboy.papers.queries import SUBMISSIONS, estimated_days

    with session_scope(corpus.engine) as db:
        fetched = db.scalar(select(Paper.id).where(Paper.arxiv_id == corpus.ids["fetched"]))
        assert estimated_days(db, corpus.settings) == {fetched: dt.date(2025, 6, 19)}
        if corpus.engine.dialect.name != "sqlite":
            return  # PostgreSQL plans from its statistics
        sql = str(SUBMISSIONS.compile(corpus.engine, compile_kwargs={"literal_binds": True}))
        plan = [row[-1] for row in db.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert plan == ["SEARCH papers USING INDEX ix_papers_featured_on (featured_on>?)"], plan


@pytest.mark.parametrize("submitted, listed", [
    ("2025-06-16T13:00:00+00:00", "2025-06-17"),  # Monday 09:00 EDT → Tuesday's listing
    ("2025-06-16T18:30:00+00:00", "2025-06-18"),  # Monday 14:30 EDT: after the deadline → Wednesday
    ("2025-06-19T19:00:00+00:00", "2025-06-23"),  # Thursday 15:00 EDT → Friday's deadline → Monday
    ("2025-06-20T15:00:00+00:00", "2025-06-23"),  # Friday 11:00 EDT → Monday
    ("2025-06-20T19:00:00+00:00", "2025-06-24"),  # Friday 15:00 EDT → Monday's deadline → Tuesday
    ("2025-06-21T12:00:00+00:00", "2025-06-24"),  # Saturday → Tuesday
    ("2025-01-15T18:30:00+00:00", "2025-01-16"),  # Wednesday 13:30 EST (winter: UTC-5)
    ("2025-01-15T19:30:00+00:00", "2025-01-17"),  # Wednesday 14:30 EST
])
def test_listing_day_follows_arxivs_schedule(submitted, listed):
    assert listing_day(dt.datetime.fromisoformat(submitted)) == dt.date.fromisoformat(listed)


# --- 2. trending on an old corpus --------------------------------------------------

def test_trending_on_an_old_corpus_keeps_its_newest_day_after_a_vote_today(corpus, client):
    r = client.get("/trending")
    ids = card_ids(r.text)
    assert len(ids) == 50 and ids[0] == corpus.ids["top"]
    assert len(re.findall(r'<span class="score" title="Trending score">score \d+\.\d\d</span>', r.text)) == 50
    assert "No papers have arrived since June 20, 2025" in r.text


def test_trending_category_is_a_picker_of_real_categories(corpus, client):
    r = client.get("/trending")
    assert 'type="text" name="category"' not in r.text
    options = re.findall(r'<option value="([^"]*)"', r.text)
    assert options == ["", "cs.CV", "cs.CL", "math.CO"]
    r = client.get("/trending?category=math.CO")
    assert len(card_ids(r.text)) == 20
    assert '<option value="math.CO" selected>' in r.text
    r = client.get("/trending?category=q-bio.BM")
    assert r.status_code == 200 and card_ids(r.text) == []
    assert "Nothing in q-bio.BM is trending; pick one of the 3 categories above" in r.text
    bad = client.get("/trending?category=%3Cscript%3E")
    assert bad.status_code == 422 and "is not a category name" in bad.text and "<script>" not in bad.text


# --- 3. category and sort on day/week/month pages ------------------------------------

def test_day_page_category_picker_and_filter(corpus, client):
    r = client.get(f"/papers?date={LONG_DAY}")
    assert re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', r.text)[:4] == [
        ("", "All categories"), ("cs.CV", "cs.CV (60)"), ("cs.CL", "cs.CL (40)"), ("math.CO", "math.CO (20)")]
    r = client.get(f"/papers?date={LONG_DAY}&category=math.CO")
    assert "20 papers in math.CO" in r.text
    assert set(card_ids(r.text)) == set(corpus.ids["long_day"][100:])
    week = client.get("/papers?week=2025-W25&category=cs.CL")
    assert "41 papers in cs.CL" in week.text  # the fetched submission is in cs.CL, listed on Thursday
    # filters survive moving between days and periods
    assert 'href="/papers?date=2025-06-19&amp;category=math.CO" rel="prev"' in r.text
    assert 'href="/papers?week=2025-W25&amp;category=math.CO"' in r.text


def test_unknown_and_malformed_filters_are_never_silently_ignored(client):
    r = client.get(f"/papers?date={LONG_DAY}&category=q-bio.BM")
    assert r.status_code == 200 and card_ids(r.text) == []
    assert "No papers in q-bio.BM on this day; pick one of the 3 categories above" in r.text
    assert '<option value="q-bio.BM" selected>q-bio.BM (0)</option>' in r.text
    for query, message in [("category=cs%20LG%3B", "is not a category name"), ("sort=hot", "is not a sort; use one of: votes, newest")]:
        r = client.get(f"/papers?date={LONG_DAY}&{query}")
        assert r.status_code == 422 and message in r.text
    assert client.get("/?sort=hot").status_code == 422


def test_sort_newest_and_votes(corpus, client):
    votes = card_ids(client.get(f"/papers?date={LONG_DAY}").text)
    newest = card_ids(client.get(f"/papers?date={LONG_DAY}&sort=newest").text)
    assert votes[0] == corpus.ids["top"] and votes[1:4] == corpus.ids["long_day"][:3]
    assert newest == sorted(corpus.ids["long_day"], reverse=True)[:50]
    month = card_ids(client.get("/papers?month=2025-06&sort=newest&p=3").text)
    # newest day first: the long day, then Thursday's fetched submission, then the earlier day
    assert month[-4:] == [corpus.ids["fetched"], *sorted(corpus.ids["earlier"], reverse=True)]


# --- 4. paging -----------------------------------------------------------------------

def test_long_days_come_in_pages_that_say_what_they_show(corpus, client):
    first = client.get(f"/papers?date={LONG_DAY}&sort=newest")
    assert "Showing 1–50 of 120" in first.text
    assert f'href="/papers?date={LONG_DAY}&amp;sort=newest&amp;p=2" rel="next">Next page' in first.text
    third = client.get(f"/papers?date={LONG_DAY}&sort=newest&p=3")
    assert "Showing 101–120 of 120" in third.text and len(card_ids(third.text)) == 20
    assert 'rel="next">Next page' not in third.text
    seen = []
    for p in (1, 2, 3):
        seen += card_ids(client.get(f"/papers?date={LONG_DAY}&p={p}").text)
    assert sorted(seen) == sorted(corpus.ids["long_day"])


def test_a_page_past_the_end_says_so_and_links_to_the_last_page(client):
    r = client.get(f"/papers?date={LONG_DAY}&category=cs.CV&p=7")
    assert r.status_code == 404
    assert "There is no page 7: 60 papers fill 2 pages." in r.text
    assert f'<a href="/papers?date={LONG_DAY}&amp;category=cs.CV&amp;p=2">Go to the last page (2)</a>' in r.text
    assert "No papers on this day" not in r.text


def test_the_page_cache_keeps_filtered_pages_apart(corpus, client):
    plain, filtered = client.get("/"), client.get("/?category=math.CO&sort=newest")
    again = client.get("/?category=math.CO&sort=newest")
    assert filtered.headers["x-paperboy-cache"] == "miss" and again.headers["x-paperboy-cache"] == "hit"
    assert card_ids(again.text) == card_ids(filtered.text) != card_ids(plain.text)
    assert set(card_ids(filtered.text)) == set(corpus.ids["long_day"][100:])


# --- 5. feeds say where they stop ------------------------------------------------------

@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_daily_feed_is_paged_and_says_how_many_more(corpus, client, fmt):
    base = "http://paperboy.test"
    seen, url, pages = [], f"/feeds/daily.{fmt}", 0
    while url:
        feed = feedparser.parse(client.get(url).content)
        assert not feed.bozo, feed.get("bozo_exception")
        papers = [e for e in feed.entries if "/papers/" in e.link and "more paper" not in e.title]
        seen += [e.link.rsplit("/", 1)[1] for e in papers]
        rels = {link.rel: link.href for link in feed.feed.links}
        # The paging links name the day the feed resolved as the latest: page 2 is of that
        # day even when a new day lands before a reader asks for it.
        day = f"{base}/feeds/daily.{fmt}?date={LONG_DAY}"
        assert rels["first"] == day and rels["last"] == f"{day}&page=3"
        pages += 1
        if pages < 3:
            assert rels["next"] == f"{day}&page={pages + 1}"
            more = feed.entries[-1]
            assert more.title == f"{120 - 50 * pages} more papers"
            # ...an entry of its own each day (readers keep one entry per id for ever)
            assert more.id.startswith(f"{rels['next']}#") and more.id != rels["next"]
            assert more.link == f"{base}/papers?date={LONG_DAY}&p={pages + 1}"
            summary = feed.feed.subtitle if fmt == "atom" else feed.feed.description
            assert f"items {50 * pages - 49}–{50 * pages} of 120" in summary
        else:
            assert "next" not in rels and "more paper" not in feed.entries[-1].title
        url = rels.get("next", "").removeprefix(base)
    assert pages == 3 and sorted(seen) == sorted(corpus.ids["long_day"])


def test_trending_and_category_feeds_page_too(client):
    feed = feedparser.parse(client.get("/feeds/trending.atom").content)
    assert feed.entries[-1].title == "More papers"
    assert {link.rel for link in feed.feed.links} >= {"next", "first"}
    second = feedparser.parse(client.get("/feeds/trending.atom?page=2").content)
    assert len(second.entries) == 51 and "previous" in {link.rel for link in second.feed.links}
    cat = feedparser.parse(client.get("/feeds/categories/cs.CV.rss").content)
    assert cat.entries[-1].title == "13 more papers"  # 60 on the long day, 3 on the earlier one
    assert cat.entries[-1].link == "http://paperboy.test/categories/cs.CV?p=2"
    assert client.get("/feeds/daily.rss?page=0").status_code == 422
