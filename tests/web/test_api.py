"""The JSON API: Hugging Face's daily_papers shape, pagination, errors, OpenAPI."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from sqlalchemy import update

from paperboy.store.models import Paper

# The item shape of https://huggingface.co/api/daily_papers (fields HF clients read),
# plus a few of ours; every value's type is checked.
ITEM_FIELDS = {"paper": dict, "publishedAt": str, "title": str, "numComments": int,
               "submittedBy": (dict, type(None)), "isAuthorParticipating": bool}
PAPER_FIELDS = {"id": str, "authors": list, "publishedAt": str, "submittedOnDailyAt": str, "title": str,
                "summary": str, "upvotes": int, "numComments": int, "version": int, "categories": list,
                "primaryCategory": (str, type(None)), "arxivUrl": str, "pdfUrl": str,
                "githubRepo": (str, type(None)), "projectPage": (str, type(None)), "comment": (str, type(None)),
                "journalRef": (str, type(None)), "doi": (str, type(None))}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def check_item(item):
    assert set(item) == set(ITEM_FIELDS)
    for key, kind in ITEM_FIELDS.items():
        assert isinstance(item[key], kind), key
    check_paper(item["paper"])
    assert item["title"] == item["paper"]["title"]
    assert item["numComments"] == item["paper"]["numComments"]
    assert ISO.match(item["publishedAt"])


def check_paper(paper):
    assert set(paper) == set(PAPER_FIELDS)
    for key, kind in PAPER_FIELDS.items():
        assert isinstance(paper[key], kind), key
    assert all(set(a) == {"name"} and isinstance(a["name"], str) for a in paper["authors"])
    assert ISO.match(paper["publishedAt"]) and ISO.match(paper["submittedOnDailyAt"])


def test_daily_papers_latest_day_in_hf_shape(site, client):
    r = client.get("/api/daily_papers")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    items = r.json()
    for item in items:
        check_item(item)
    assert [it["paper"]["id"] for it in items][:2] == [site.ids["wed_top"], site.ids["wed_mid"]]
    top = items[0]
    assert top["paper"]["upvotes"] == 3
    assert top["paper"]["authors"] == [{"name": "Ada Lovelace"}, {"name": top["paper"]["authors"][1]["name"]}]
    assert top["paper"]["githubRepo"] == "https://github.com/acme/guidance"
    assert top["publishedAt"] == "2025-01-15T00:00:00.000Z"
    assert top["submittedBy"] is None
    assert site.ids["hidden"] not in r.text


def test_daily_papers_submitted_by(site, client):
    # listed on its announce day; its Hugging Face "submitted on daily" date is the day it was featured
    items = client.get("/api/daily_papers?date=2024-12-02").json()
    sub = next(it for it in items if it["paper"]["id"] == site.ids["submitted"])
    assert sub["submittedBy"] == {"name": "Grace Hopper", "fullname": "Grace Hopper", "type": "user"}
    assert sub["publishedAt"] == "2025-01-14T00:00:00.000Z"


def test_daily_papers_pagination_with_link_header(site, client):
    seen = []
    url = "/api/daily_papers?week=2025-W03&limit=3"
    pages = 0
    while url:
        r = client.get(url)
        assert r.status_code == 200
        seen += [it["paper"]["id"] for it in r.json()]
        links = {rel: target for target, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', r.headers.get("link", ""))}
        if pages:  # past the first page: the way back, and to the start
            assert links["prev"].endswith(f"p={pages - 1}") and links["first"].endswith("p=0")
        else:
            assert set(links) == {"next", "last"}
        assert links["last"].endswith("p=2") and r.headers["x-total-count"] == "8"
        url = links.get("next")
        pages += 1
    w03 = {v for k, v in site.ids.items() if k not in ("hidden", "submitted")}  # submitted: announced in December
    assert sorted(seen) == sorted(w03) and pages == 3
    # A page past the end is empty and points back to the last page, not to another past it.
    r = client.get("/api/daily_papers?week=2025-W03&limit=3&p=9")
    assert r.json() == [] and re.search(r'p=2>; rel="prev"', r.headers["link"])


def test_the_latest_days_pages_name_the_day_so_a_new_day_does_not_shift_them(site, client):
    """A script pages through "today" while the next day's listing lands: the next page
    must still be of the day its first page was."""
    r = client.get("/api/daily_papers?limit=2")
    assert {it["paper"]["submittedOnDailyAt"][:10] for it in r.json()} == {"2025-01-15"}
    assert '?limit=2&date=2025-01-15&p=1>; rel="next"' in r.headers["link"]
    assert r.headers["x-total-count"] == "5"


def test_sort_newest_pages_a_day_in_an_order_votes_do_not_move(site, client):
    """Sorted by votes, a vote between two page requests moves papers across the pages
    (one seen twice, one never); arXiv's numbering does not move."""
    def ids(p):
        return [it["paper"]["id"] for it in client.get(f"/api/daily_papers?date=2025-01-15&sort=newest&limit=2&p={p}").json()]

    first = ids(0)
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.arxiv_id == site.ids["wed_many"]).values(upvotes=Paper.upvotes + 50))
    site.app.state.page_cache.clear()
    try:
        rest = ids(1) + ids(2)
    finally:
        with site.engine.begin() as conn:
            conn.execute(update(Paper).where(Paper.arxiv_id == site.ids["wed_many"]).values(upvotes=Paper.upvotes - 50))
    seen = first + rest
    wed = [site.ids[k] for k in ("wed_top", "wed_mid", "wed_xss", "wed_many", "wed_old")]
    assert sorted(seen) == sorted(wed) and len(seen) == len(set(seen))


def test_daily_papers_sorts(site, client):
    trending = client.get("/api/daily_papers?sort=trending&limit=100").json()
    assert trending[0]["paper"]["id"] == site.ids["wed_top"]
    by_date = client.get("/api/daily_papers?month=2025-01&sort=publishedAt&limit=100").json()
    days = [it["paper"]["submittedOnDailyAt"] for it in by_date]
    assert days == sorted(days, reverse=True)


@pytest.mark.parametrize("query, status, message", [
    ("date=2025-13-45", 422, "not a real calendar date"),
    ("week=abc", 422, "not an ISO week"),
    ("month=2025-00", 422, "not a month"),
    ("limit=100000", 422, "limit"),
    ("limit=0", 422, "limit"),
    ("p=-1", 422, "p="),
    ("sort=hot", 422, "sort"),
    ("month=0001-01", 422, "out of range"),
    ("week=9999-W52", 422, "out of range"),
])
def test_daily_papers_bad_parameters(client, query, status, message):
    r = client.get(f"/api/daily_papers?{query}")
    assert r.status_code == status
    body = r.json()
    assert body["status"] == status and message in body["detail"]


def test_one_paper_and_errors(site, client):
    r = client.get(f"/api/papers/{site.ids['wed_top']}")
    assert r.status_code == 200
    check_paper(r.json())
    assert client.get("/api/papers/hep-th/9901001").json()["id"] == "hep-th/9901001"
    for path in ["/api/papers/2501.99999", f"/api/papers/{site.ids['hidden']}", "/api/papers/garbage"]:
        r = client.get(path)
        assert r.status_code == 404 and r.headers["content-type"] == "application/json"
        assert r.json()["error"] == "Not Found" and r.json()["detail"]
    assert client.get("/api/nothing-here").json()["status"] == 404


def test_search_api(site, client):
    r = client.get("/api/papers/search?q=diffusion&limit=2")
    assert r.status_code == 200
    items = r.json()
    assert len(items) == 2 and 'rel="next"' in r.headers["link"]
    for item in items:
        assert set(item) == set(ITEM_FIELDS) | {"score", "highlight"}
        check_paper(item["paper"])
    # Sorted by date or votes, no score (the engine's sort key, a date as a number, is none).
    for sort in ("date", "votes"):
        items = client.get(f"/api/papers/search?q=diffusion&sort={sort}").json()
        assert items and all("score" not in item and item["highlight"] for item in items)
    assert client.get("/api/papers/search").status_code == 422
    # A range that ends before it starts, and a query with nothing to search for, say why.
    r = client.get("/api/papers/search?q=diffusion&from=2025-01-15&to=2025-01-13")
    assert r.status_code == 422 and r.json()["detail"] == "The range starts (2025-01-15) after it ends (2025-01-13)."
    r = client.get("/api/papers/search?q=!!!")
    assert r.status_code == 422 and "no letters or digits to search for" in r.json()["detail"]
    r = client.get("/api/papers/search?q=the")
    assert r.status_code == 422 and "words nearly every paper uses are not searched for" in r.json()["detail"]
    # The mode is the caller's: keyword alone here (the test instance has no vectors, so
    # hybrid is keyword too and semantic finds nothing).
    keyword = client.get("/api/papers/search?q=diffusion&mode=keyword").json()
    assert keyword and [i["paper"]["id"] for i in keyword] == [
        i["paper"]["id"] for i in client.get("/api/papers/search?q=diffusion").json()]
    assert client.get("/api/papers/search?q=diffusion&mode=semantic").json() == []
    assert client.get("/api/papers/search?q=diffusion&mode=fuzzy").status_code == 422
    assert client.get("/api/papers/search?q=x&limit=5000").status_code == 422
    # A query of filters only is in date order: no relevance score (a day as a number was one).
    items = client.get("/api/papers/search?q=cat:cs.LG").json()
    assert items and all("score" not in item for item in items)
    # The category parameter is checked as everywhere else; a pasted passage is searched.
    r = client.get("/api/papers/search?q=diffusion&category=%3Cscript%3E")
    assert r.status_code == 422 and "is not a category name" in r.json()["detail"]
    assert [i["paper"]["id"] for i in client.get("/api/papers/search?q=guidance&category=cs.lg").json()] == [
        site.ids["wed_top"]]
    passage = "We study classifier-free guidance for diffusion models and how it trades diversity. " * 20
    assert 1000 < len(passage) < 10_000 and client.get("/api/papers/search", params={"q": passage}).status_code == 200
    assert "not a real calendar date" in client.get("/api/papers/search?q=x&from=2025-02-30").json()["detail"]


def test_similar_api(site, client):
    r = client.get(f"/api/papers/{site.ids['wed_top']}/similar?limit=3")
    assert r.status_code == 200
    papers = r.json()
    assert len(papers) <= 3
    for paper in papers:
        check_paper(paper)
        assert paper["id"] not in (site.ids["wed_top"], site.ids["hidden"])
    assert client.get("/api/papers/2501.99999/similar").status_code == 404


@pytest.mark.parametrize("form", ["arXiv:{}", "https://arxiv.org/abs/{}v2", "arxiv.org/pdf/{}v1.pdf"])
def test_a_paper_asked_for_in_another_form_is_sent_to_its_own_address(site, client, form):
    pid = site.ids["wed_top"]
    r = client.get(f"/api/papers/{form.format(pid)}", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/api/papers/{pid}"
    r = client.get(f"/api/papers/{form.format(pid)}/similar?limit=2", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == f"/api/papers/{pid}/similar?limit=2"
    assert client.get(f"/api/papers/{form.format(pid)}").json()["id"] == pid  # followed
    full_width = pid.translate({ord(c): ord(c) + 0xFEE0 for c in "0123456789"})
    assert client.get(f"/api/papers/{full_width}").json()["id"] == pid
    assert client.get("/api/papers/not-an-id").status_code == 404


def test_trending_api(site, client):
    items = client.get("/api/trending?limit=3").json()
    assert items[0]["paper"]["id"] == site.ids["wed_top"]
    assert all(isinstance(it["score"], float) for it in items)
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)
    # Paged with p, as every list: the pages join up, and Link says where the next is.
    first, second = client.get("/api/trending?limit=2"), client.get("/api/trending?limit=2&p=1")
    assert [it["paper"]["id"] for it in first.json()] == [it["paper"]["id"] for it in items[:2]]
    assert [it["paper"]["id"] for it in second.json()] == [
        it["paper"]["id"] for it in client.get("/api/trending?limit=4").json()[2:4]]
    assert 'p=1' in first.headers["link"] and 'rel="next"' in first.headers["link"]


@pytest.mark.parametrize("url", ["/api/daily_papers?category={}", "/api/daily_papers?sort=trending&category={}",
                                 "/api/trending?category={}"])
def test_a_category_parameter_takes_any_spelling_and_refuses_what_is_no_category(client, url):
    ids = [it["paper"]["id"] for it in client.get(url.format("cs.LG")).json()]
    assert ids and [it["paper"]["id"] for it in client.get(url.format("cs.lg")).json()] == ids
    r = client.get(url.format("%3Cscript%3E"))
    assert r.status_code == 422 and "is not a category name" in r.json()["detail"]


def test_openapi_document_is_valid(client):
    r = client.get("/openapi.json")
    doc = r.json()
    validate(doc)
    for path in ["/api/daily_papers", "/api/papers/{arxiv_id}", "/api/papers/search", "/api/papers/{arxiv_id}/similar"]:
        assert path in doc["paths"], path
    # The documented shape of a week takes what the route takes: week 53 of a year that has one.
    week = next(p for p in doc["paths"]["/api/daily_papers"]["get"]["parameters"] if p["name"] == "week")
    assert re.fullmatch(week["schema"]["anyOf"][0]["pattern"] if "anyOf" in week["schema"] else week["schema"]["pattern"],
                        "2026-W53")
    assert client.get("/api/daily_papers?week=2026-W53").status_code == 200
    assert client.get("/api/daily_papers?week=2025-W53").status_code == 422  # 2025 has 52
    docs = client.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "GET /api/daily_papers" in docs.text and "DailyPaperOut" in docs.text
    assert "cdn" not in docs.text.lower() and "<script src=\"http" not in docs.text
    # A member's operations say so, and what they take as a body.
    op = docs.text.split('id="create_collection_api_collections_post-h"', 1)[1].split("</section>", 1)[0]
    assert ">member</a>" in op and "Body: <code>CollectionIn</code> as <code>application/json</code>" in op
    public = docs.text.split('id="daily_papers_api_daily_papers_get-h"', 1)[1].split("</section>", 1)[0]
    assert ">member</a>" not in public and "Body:" not in public
    assert "Authorization: Bearer pb_" in docs.text


def test_a_script_on_another_site_may_read_the_api_and_feeds_but_not_the_pages(client):
    origin = {"Origin": "https://lab.example"}
    for url in ("/api/daily_papers?limit=2", "/feeds/daily.atom"):
        r = client.get(url, headers=origin)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers  # no cookie of ours goes with it
        assert "link" in r.headers["access-control-expose-headers"].lower() or url.startswith("/feeds/")
    # A browser asks before a script's write with a token: answered, not refused as a bad method.
    r = client.options("/api/papers/2501.00001/vote", headers={
        **origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"})
    assert r.status_code == 200 and "PUT" in r.headers["access-control-allow-methods"]
    assert "authorization" in r.headers["access-control-allow-headers"].lower()
    page = client.get("/", headers=origin)
    assert page.status_code == 200 and "access-control-allow-origin" not in page.headers
    assert client.options("/", headers={**origin, "Access-Control-Request-Method": "POST"}).status_code == 405
