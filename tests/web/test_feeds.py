"""RSS and Atom feeds parse cleanly with feedparser (no bozo)."""

from __future__ import annotations

import datetime as dt

import feedparser
import pytest
from sqlalchemy import update

from paperboy.store.models import Paper

FEEDS = ["/feeds/daily.{fmt}", "/feeds/daily.{fmt}?date=2025-01-14", "/feeds/trending.{fmt}",
         "/feeds/trending.{fmt}?category=cs.LG", "/feeds/categories/cs.LG.{fmt}",
         "/feeds/categories/hep-th.{fmt}", "/feeds/search.{fmt}?q=diffusion", "/feeds/search.{fmt}?q=%3Cscript%3E%26"]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
@pytest.mark.parametrize("path", FEEDS)
def test_feeds_are_valid(site, client, path, fmt):
    r = client.get(path.format(fmt=fmt))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith(f"application/{fmt}+xml")
    feed = feedparser.parse(r.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version.startswith(fmt)
    assert feed.feed.title.startswith("Paperboy: ")
    for entry in feed.entries:
        assert entry.link.startswith("http://paperboy.test/papers/")
        assert site.ids["hidden"] not in entry.link


def test_daily_feed_content(site, client):
    feed = feedparser.parse(client.get("/feeds/daily.atom").content)
    links = [e.link for e in feed.entries]
    assert links[0] == f"http://paperboy.test/papers/{site.ids['wed_top']}"
    xss = next(e for e in feed.entries if e.link.endswith(site.ids["wed_xss"]))
    assert "<script>" in xss.title  # kept as text, escaped in the XML
    assert "<script>" not in client.get("/feeds/daily.rss").text
    names = [a.name for a in feed.entries[0].authors]
    assert names[0] == "Ada Lovelace"


def test_search_feed_contains_matches(site, client):
    feed = feedparser.parse(client.get("/feeds/search.rss?q=proteins").content)
    assert [e.link for e in feed.entries] == [f"http://paperboy.test/papers/{site.ids['tue']}"]


def test_an_rss_description_is_escaped_html_so_angle_brackets_in_an_abstract_survive_a_reader(site, client):
    """Readers take an RSS description as HTML: an abstract's "<O, classify, x>" must
    reach them escaped, or it vanishes as a tag. Atom says its summary is text."""
    from paperboy.store.db import session_scope
    from tests.support.factories import make_paper

    with session_scope(site.engine) as db:
        make_paper(db, title="Triples", abstract="We learn the triple <O, classify, x> & more.",
                   announced_on=dt.date(2024, 11, 29), arxiv_id="2411.77777", categories=["math.CO"])
    rss = client.get("/feeds/daily.rss?date=2024-11-29")
    entry = next(e for e in feedparser.parse(rss.content).entries if e.link.endswith("2411.77777"))
    assert entry.summary == "<p>We learn the triple &lt;O, classify, x&gt; &amp; more.</p>"
    atom = next(e for e in feedparser.parse(client.get("/feeds/daily.atom?date=2024-11-29").content).entries
                if e.link.endswith("2411.77777"))
    assert atom.summary == "We learn the triple <O, classify, x> & more."


def test_a_feed_reader_sees_math_as_unicode_text_not_tex_source(site, client):
    """Readers render neither TeX nor MathML: "X^{2}" and "\\mathcal{O}" are the source,
    "X²" and "𝒪" what the card shows."""
    from paperboy.store.db import session_scope
    from tests.support.factories import make_paper

    with session_scope(site.engine) as db:
        make_paper(db, title=r"X$^{2}$-Gaussian in $\mathcal{O}(T)$", abstract=r"Errors fall to $10^{-3}$ at 360$^\circ$.",
                   announced_on=dt.date(2024, 11, 29), arxiv_id="2411.77778", categories=["math.CO"])
    for fmt in ("rss", "atom"):
        feed = feedparser.parse(client.get(f"/feeds/daily.{fmt}?date=2024-11-29").content)
        entry = next(e for e in feed.entries if e.link.endswith("2411.77778"))
        assert entry.title == "X²-Gaussian in 𝒪(T)"
        assert "Errors fall to 10⁻³ at 360°." in entry.summary


def test_a_vote_does_not_make_an_atom_entry_updated_and_the_feed_is_as_new_as_its_entries(site, client):
    before = feedparser.parse(client.get("/feeds/daily.atom").content)
    with site.engine.begin() as conn:  # what a vote does to the paper row's modified_at
        conn.execute(update(Paper).where(Paper.arxiv_id == site.ids["wed_top"])
                     .values(modified_at=dt.datetime.now(dt.UTC)))
    site.app.state.page_cache.clear()
    after = feedparser.parse(client.get("/feeds/daily.atom").content)
    assert [e.updated for e in after.entries] == [e.updated for e in before.entries]
    assert after.feed.updated_parsed >= max(e.updated_parsed for e in after.entries)
    assert all(e.updated_parsed >= e.published_parsed for e in after.entries)


def test_a_category_feed_takes_any_spelling_and_an_arxiv_category_without_papers_is_an_empty_feed(client):
    r = client.get("/feeds/categories/cs.lg.rss?page=1", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/feeds/categories/cs.LG.rss?page=1"
    empty = client.get("/feeds/categories/astro-ph.atom")
    assert empty.status_code == 200
    feed = feedparser.parse(empty.content)
    assert not feed.bozo and feed.entries == [] and feed.feed.title == "Paperboy: new in astro-ph"
    def links(url):
        return [e.link for e in feedparser.parse(client.get(url).content).entries]

    assert links("/feeds/daily.rss?category=cs.lg") == links("/feeds/daily.rss?category=cs.LG") != []


# A format no feed has is an address with nothing at it (404); a bad parameter of a real
# feed is the reader's request to mend (422).
@pytest.mark.parametrize("path, status", [("/feeds/daily.xml", 404), ("/feeds/categories/cs.LG.pdf", 404),
                                          ("/feeds/daily.rss?date=2025-02-30", 422),
                                          ("/feeds/categories/zz.QQ.atom", 404), ("/feeds/search.rss", 422)])
def test_feed_errors(client, path, status):
    assert client.get(path).status_code == status


def test_a_feed_in_a_format_there_is_none_of_says_which_there_are(client):
    r = client.get("/feeds/trending.json")
    assert r.status_code == 404
    assert "There is no page at /feeds/trending.json" in r.text and "&#39;rss&#39; or &#39;atom&#39;" in r.text
