"""Every API answer, as a client gets it, is valid against the schema `/openapi.json`
publishes for that endpoint and status: the document is the truth (the answers are
built from the same pydantic models)."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator

# (path as published, a real request, the status it answers)
CASES = [
    ("/api/daily_papers", "/api/daily_papers", 200),
    ("/api/daily_papers", "/api/daily_papers?date=2025-01-15", 200),
    ("/api/daily_papers", "/api/daily_papers?week=2025-W03&limit=2", 200),
    ("/api/daily_papers", "/api/daily_papers?month=2025-01&sort=trending", 200),
    ("/api/daily_papers", "/api/daily_papers?sort=trending", 200),
    ("/api/daily_papers", "/api/daily_papers?date=2024-12-02", 200),  # with a submitter
    ("/api/daily_papers", "/api/daily_papers?date=2025-02-30", 422),
    ("/api/papers/search", "/api/papers/search?q=diffusion", 200),
    ("/api/papers/search", "/api/papers/search?q=diffusion&sort=votes&limit=3", 200),
    ("/api/papers/search", "/api/papers/search?q=diffusion&from=2025-13-01", 422),
    ("/api/papers/{arxiv_id}", "/api/papers/{wed_top}", 200),
    ("/api/papers/{arxiv_id}", "/api/papers/hep-th/9901001", 200),
    ("/api/papers/{arxiv_id}", "/api/papers/{submitted}", 200),
    ("/api/papers/{arxiv_id}", "/api/papers/2501.99999", 404),
    ("/api/papers/{arxiv_id}/similar", "/api/papers/{wed_top}/similar", 200),
    ("/api/papers/{arxiv_id}/similar", "/api/papers/2501.99999/similar", 404),
    ("/api/papers/{arxiv_id}/similar", "/api/papers/{wed_top}/similar?sort=recent&limit=3", 200),
    ("/api/papers/{arxiv_id}/similar", "/api/papers/{wed_top}/similar?sort=hot", 422),
    ("/api/trending", "/api/trending", 200),
    ("/api/trending", "/api/trending?limit=0", 422),
    # A member's own: signed out, the API's error (signed in: tests/recommend/test_for_you_pages.py)
    ("/api/for-you", "/api/for-you", 401),
    ("/api/for-you/signals", "/api/for-you/signals", 401),
    ("/api/for-you/feed", "/api/for-you/feed", 401),
    # The member's things, signed out (with a token: tests/community/test_api_tokens.py)
    ("/api/me", "/api/me", 401),
    ("/api/me/votes", "/api/me/votes", 401),
    ("/api/me/replies", "/api/me/replies", 401),
    ("/api/collections", "/api/collections", 401),
    ("/api/collections/{cid}", "/api/collections/99", 404),
    ("/api/follows", "/api/follows", 401),
    ("/api/trends", "/api/trends?q=diffusion&q=cat:cs.LG&unit=week", 200),
    ("/api/trends", "/api/trends?q=diffusion&from=2025-02-30", 422),
    ("/api/trends.csv", "/api/trends.csv?q=a&q=b&q=c&q=d&q=e&q=f", 422),  # its 200 is CSV (tests/web/test_trends.py)
    ("/api/trends/rising", "/api/trends/rising?unit=week", 200),
    ("/api/trends/rising", "/api/trends/rising?unit=fortnight", 422),
]


def _validator(doc: dict, path: str, status: int) -> Draft202012Validator:
    answer = doc["paths"][path]["get"]["responses"][str(status)]
    schema = answer["content"]["application/json"]["schema"]
    # $refs point into the document's components: validate inside a copy of the document.
    return Draft202012Validator({**schema, "components": doc["components"]})


def test_every_api_answer_matches_the_published_schema(site, client):
    doc = client.get("/openapi.json").json()
    published = {p for p, ops in doc["paths"].items() if p.startswith("/api/") and "get" in ops}
    assert published == {c[0] for c in CASES}, "a new endpoint needs its cases here"
    for path, url, status in CASES:
        url = re.sub(r"\{(\w+)\}", lambda m: site.ids[m.group(1)], url)
        r = client.get(url)
        assert r.status_code == status, (url, r.text[:300])
        body = r.json()
        errors = sorted(_validator(doc, path, status).iter_errors(body), key=str)
        assert not errors, (url, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]])
        if status == 200 and isinstance(body, list):
            assert body or url.endswith("similar"), f"{url}: an empty answer proves little"


def test_a_wrong_answer_is_caught_by_the_schema(site, client):
    """The check can fail: an item missing a required field, or with a wrong type, is refused."""
    doc = client.get("/openapi.json").json()
    item = client.get("/api/daily_papers").json()[0]
    v = _validator(doc, "/api/daily_papers", 200)
    assert not list(v.iter_errors([item]))
    broken = {**item, "paper": {k: val for k, val in item["paper"].items() if k != "arxivUrl"}}
    assert list(v.iter_errors([broken]))
    assert list(v.iter_errors([{**item, "numComments": "many"}]))
