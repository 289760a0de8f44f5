"""RSS and Atom feeds parse cleanly with feedparser (no bozo)."""

from __future__ import annotations

import feedparser
import pytest

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


@pytest.mark.parametrize("path, status", [("/feeds/daily.xml", 422), ("/feeds/daily.rss?date=2025-02-30", 422),
                                          ("/feeds/categories/zz.QQ.atom", 404), ("/feeds/search.rss", 422)])
def test_feed_errors(client, path, status):
    assert client.get(path).status_code == status
