"""Conditional GET: feeds and API answers carry an ETag, and a client that already holds
the answer (``If-None-Match``) gets a 304 without the body, until the answer changes."""

from __future__ import annotations

import datetime as dt

import pytest

from paperboy.store.db import session_scope
from tests.support.factories import make_paper


@pytest.mark.parametrize("path", ["/feeds/daily.atom", "/feeds/trending.rss", "/feeds/search.atom?q=diffusion",
                                  "/api/daily_papers", "/api/trending", "/api/papers/search?q=diffusion"])
def test_a_client_holding_the_answer_gets_304_without_the_body(client, path):
    r = client.get(path)
    tag = r.headers["etag"]
    assert r.status_code == 200 and r.content and tag.startswith('W/"')
    hit = client.get(path)
    assert hit.headers["x-paperboy-cache"] == "hit" and hit.headers["etag"] == tag  # stored with its tag
    again = client.get(path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == tag and "content-type" not in again.headers
    # Weak comparison: the tag without W/, in a list, or "*" all match.
    for held in (tag.removeprefix("W/"), f'W/"elsewhere", {tag}', "*"):
        assert client.get(path, headers={"If-None-Match": held}).status_code == 304, held
    other = client.get(path, headers={"If-None-Match": 'W/"0123456789abcdef01234567"'})
    assert other.status_code == 200 and other.content == r.content
    head = client.head(path, headers={"If-None-Match": tag})
    assert head.status_code == 304 and head.headers["etag"] == tag


def test_errors_and_html_pages_are_not_tagged(client):
    assert "etag" not in client.get("/api/papers/2501.99999").headers  # 404
    assert "etag" not in client.get("/feeds/daily.rss?date=2025-02-30").headers  # 422
    assert "etag" not in client.get("/").headers  # pages carry a token of their own


def test_the_tag_changes_with_the_answer(site, client):
    path = "/feeds/categories/cs.LG.atom"
    tag = client.get(path).headers["etag"]
    with session_scope(site.engine) as db:
        make_paper(db, title="A new paper in machine learning", categories="cs.LG",
                   announced_on=dt.date(2025, 1, 15))
    site.app.state.page_cache.invalidate()  # as this process's own writes do (else: at the next version check)
    r = client.get(path, headers={"If-None-Match": tag})
    assert r.status_code == 200 and b"A new paper in machine learning" in r.content
    assert r.headers["etag"] != tag
