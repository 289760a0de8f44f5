"""Votes: one per member per paper, a toggle, and papers.upvotes always exact."""

from __future__ import annotations

import re
import secrets
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, insert, select

from paperboy.store.db import make_engine, session_scope
from paperboy.store.models import Paper, User, UserSession, Vote, utcnow
from paperboy.web.security import SESSION_COOKIE, token_hash
from tests.support.cluster import serve_app_in_process
from tests.support.factories import make_paper

JSON = {"Accept": "application/json"}


def _counts(engine, arxiv_id):
    with engine.connect() as conn:
        pid, upvotes = conn.execute(select(Paper.id, Paper.upvotes).where(Paper.arxiv_id == arxiv_id)).one()
        rows = conn.scalar(select(func.count()).select_from(Vote).where(Vote.paper_id == pid))
    return upvotes, rows


def test_a_vote_toggles_and_answers_json_or_redirects(site):
    paper = site.paper()
    before = site.get_paper(paper.arxiv_id).modified_at
    _, alice = site.member()
    _, bob = site.member()
    token = alice.token("/")
    r = alice.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token})
    assert r.status_code == 200 and r.json() == {"upvotes": 1, "voted": True}
    r = bob.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": bob.token("/")})
    assert r.json() == {"upvotes": 2, "voted": True}
    r = alice.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token})
    assert r.json() == {"upvotes": 1, "voted": False}
    # Without JSON: back where the form was (same site only), at the card, 303.
    r = alice.post(f"/papers/{paper.arxiv_id}/vote", data={"csrf_token": token},
                   headers={"Referer": "http://testserver/papers?date=2025-01-15"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers?date=2025-01-15#p-{paper.arxiv_id}"
    r = alice.post(f"/papers/{paper.arxiv_id}/vote", data={"csrf_token": token},
                   headers={"Referer": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == f"/papers/{paper.arxiv_id}"
    assert _counts(site.engine, paper.arxiv_id) == (1, 1)
    assert site.get_paper(paper.arxiv_id).modified_at > before


def test_anonymous_fetch_gets_401_json_and_a_form_goes_to_sign_in(site):
    paper = site.paper()
    client = site.client()
    token = client.token("/")
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token})
    assert r.status_code == 401 and "Sign in" in r.json()["detail"]
    r = client.post(f"/papers/{paper.arxiv_id}/vote", data={"csrf_token": token}, follow_redirects=False,
                    headers={"Referer": "http://testserver/trending"})
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/trending"


def test_voting_on_a_missing_or_hidden_paper_is_404(site):
    paper = site.paper(arxiv_id="2501.09999")
    _, client = site.member()
    token = client.token("/")
    assert client.post("/papers/2501.00000/vote", headers={**JSON, "X-CSRF-Token": token}).status_code == 404
    with site.engine.begin() as conn:
        conn.execute(Paper.__table__.update().where(Paper.arxiv_id == paper.arxiv_id).values(hidden=True))
    assert client.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token}).status_code == 404


def test_old_style_ids_with_a_slash_can_be_voted(site):
    paper = site.paper(arxiv_id="hep-th/9901001")
    _, client = site.member()
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": client.token("/")})
    assert r.json() == {"upvotes": 1, "voted": True}


def test_votes_are_rate_limited(site):
    paper = site.paper()
    site.app.state.rate_limits["vote"] = (3, 3600)
    _, client = site.member()
    token = client.token("/")
    codes = [client.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token}).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert _counts(site.engine, paper.arxiv_id) == (1, 1)


# --- concurrency against a real server process --------------------------------------

ACCOUNTS = 100
PAPERS = 10


def _seed(url: str) -> tuple[list[str], list[str]]:
    """100 members with sessions (the table rows a sign-in would write) and 10 papers."""
    engine = make_engine(url)
    tokens = [secrets.token_urlsafe(24) for _ in range(ACCOUNTS)]
    with session_scope(engine) as db:
        papers = [make_paper(db).arxiv_id for _ in range(PAPERS)]
        users = [User(email=f"voter{i}@example.org", display_name=f"Voter {i}", email_verified_at=utcnow())
                 for i in range(ACCOUNTS)]
        db.add_all(users)
        db.flush()
        now = utcnow()
        db.execute(insert(UserSession), [
            {"id": token_hash(t), "user_id": u.id, "created_at": now, "last_seen_at": now,
             "expires_at": now.replace(year=now.year + 1)} for t, u in zip(tokens, users, strict=True)])
    engine.dispose()
    return tokens, papers


@pytest.mark.slow
def test_a_thousand_concurrent_votes_from_a_hundred_members_end_exact(fresh_url, tmp_path):
    tokens, papers = _seed(fresh_url)
    env = {"PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path), "PAPERBOY_SECRET_KEY": "test",
           "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "null"}
    # Each member sends 10 toggles: most to 10 different papers, some twice to the same one.
    plan = []
    for i in range(ACCOUNTS):
        targets = papers[:] if i % 3 else papers[:8] + [papers[0], papers[0]]
        plan.extend((i, p) for p in targets)
    assert len(plan) == 1000
    with serve_app_in_process(env, workers=2) as base:
        clients = []
        for t in tokens:
            # A connection per request: a kept-alive one that sat idle past the server's
            # 5 s keep-alive (a slow run) can be closed just as a vote is sent on it, and
            # the vote, a toggle, must not be retried blindly.
            c = httpx.Client(base_url=base, cookies={SESSION_COOKIE: t}, timeout=120, headers={"Connection": "close"})
            token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', c.get("/submit").text).group(1)
            clients.append((c, token))

        def fire(job):
            i, arxiv_id = job
            c, token = clients[i]
            r = c.post(f"/papers/{arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": token})
            return r.status_code

        with ThreadPoolExecutor(max_workers=64) as pool:
            codes = Counter(pool.map(fire, plan))
        for c, _ in clients:
            c.close()
    assert codes == {200: 1000}
    toggles = Counter(plan)
    expected = Counter()
    for (_i, arxiv_id), n in toggles.items():
        expected[arxiv_id] += n % 2
    engine = make_engine(fresh_url)
    try:
        for arxiv_id in papers:
            upvotes, rows = _counts(engine, arxiv_id)
            assert upvotes == rows == expected[arxiv_id], arxiv_id
        # The plan itself: 34 members toggled papers[0] three times and skipped the last two.
        assert [expected[p] for p in papers] == [100] * 8 + [66, 66]
    finally:
        engine.dispose()
