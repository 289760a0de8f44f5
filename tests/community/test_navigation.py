"""Where a form sent without JavaScript goes back to: the page it was sent from, at the
card clicked, and never another site, whichever feature's form it is."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

HOSTILE_REFERERS = [
    "https://evil.example/papers",  # another site
    "http://testserver//evil.example/papers",  # a path browsers read as another host
    "http://testserver/\\evil.example/papers",  # the same, with a backslash
]


def _forms(arxiv_id: str) -> list[tuple[str, dict, str]]:
    """(path, fields, a pattern of the page it falls back to) of forms that return to their page."""
    return [
        (f"/papers/{arxiv_id}/vote", {}, re.escape(f"/papers/{arxiv_id}")),
        (f"/papers/{arxiv_id}/not-interested", {}, "/for-you"),
        ("/collections", {"name": "Later", "arxiv_id": arxiv_id}, r"/collections/\d+"),  # the new collection
        ("/follows", {"kind": "category", "target": "cs.LG"}, "/following"),
    ]


@pytest.mark.parametrize("form_index", range(4), ids=["vote", "not-interested", "save", "follow"])
def test_a_form_returns_to_the_page_it_was_sent_from_at_the_card(site, form_index):
    paper = site.paper(arxiv_id="2501.00042")
    _, client = site.member()
    path, fields, _ = _forms(paper.arxiv_id)[form_index]
    r = client.form(path, fields, page="/", headers={"Referer": "http://testserver/search?q=graphs&page=2#top"})
    assert r.status_code == 303
    where = urlsplit(r.headers["location"])
    assert (where.netloc, where.path) == ("", "/search")
    assert "q=graphs" in where.query and "page=2" in where.query
    if form_index != 3:  # a follow is not about a card
        assert where.fragment == "p-2501.00042"


@pytest.mark.parametrize("referer", HOSTILE_REFERERS)
@pytest.mark.parametrize("form_index", range(4), ids=["vote", "not-interested", "save", "follow"])
def test_a_referer_of_another_site_sends_the_form_to_its_own_page_instead(site, form_index, referer):
    paper = site.paper(arxiv_id="2501.00042")
    _, client = site.member()
    path, fields, fallback = _forms(paper.arxiv_id)[form_index]
    r = client.form(path, fields, page="/", headers={"Referer": referer})
    assert r.status_code == 303
    location = r.headers["location"]
    assert not location.startswith(("//", "/\\")) and "evil" not in location
    assert re.fullmatch(fallback, urlsplit(location).path)


def test_a_vote_from_the_papers_own_page_returns_to_it_without_a_card_anchor(site):
    paper = site.paper(arxiv_id="2501.00042")
    _, client = site.member()
    r = client.form(f"/papers/{paper.arxiv_id}/vote", page="/",
                    headers={"Referer": f"http://testserver/papers/{paper.arxiv_id}#comments"})
    assert r.headers["location"] == f"/papers/{paper.arxiv_id}"
