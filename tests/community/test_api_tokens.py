"""Personal API tokens: a member makes one on /account (shown once), and their script
reads and changes their things through /api/ with it, with no browser session and no
CSRF token; a read-only token changes nothing, and a bad, revoked or expired token is
refused with the reason."""

from __future__ import annotations

import datetime as dt
import json
import re

from jsonschema import Draft202012Validator
from sqlalchemy import func, select, update

from paperboy.site import create_app
from paperboy.store.models import ApiToken, Collection, CollectionItem, Follow, User, Vote, utcnow
from tests.community.conftest import PASSWORD, Site, make_settings

TOKEN = re.compile(r"pb_[A-Za-z0-9_-]{40}")


def make_token(client, name: str = "my script", access: str = "read", expires: str = "90") -> str:
    r = client.form("/account/tokens", {"name": name, "access": access, "expires": expires}, page="/account")
    assert r.status_code == 200, r.text[-400:]
    found = TOKEN.findall(r.text)
    assert found, "the new token is shown"
    return found[0]


def script(site, token: str):
    """A client with no cookies at all, sending the token as scripts do."""
    client = site.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _row(site) -> ApiToken:
    """The newest token's row."""
    with site.engine.connect() as conn:
        return conn.execute(select(ApiToken).order_by(ApiToken.id.desc())).first()


def test_a_member_makes_a_token_that_is_shown_once_and_a_script_acts_as_them(site):
    user, browser = site.member(name="Ada")
    r = browser.form("/account/tokens", {"name": "reading-list sync", "access": "read", "expires": "90"}, page="/account")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = TOKEN.findall(r.text)[0]
    assert f"Bearer {token}" in r.text  # a ready curl line
    # The account page lists it by name and its last four characters, never in full.
    page = browser.get("/account").text
    assert "reading-list sync" in page and f"pb_…{token[-4:]}" in page and token not in page
    # Only a hash is stored.
    row = _row(site)
    assert token not in (row.token_hash, row.hint, row.name) and len(row.token_hash) == 64

    r = script(site, token).get("/api/me")
    assert r.status_code == 200
    assert r.json() == {"id": user.id, "name": "Ada", "email": user.email, "admin": False, "suspended": False,
                        "unread_replies": 0,
                        "token": {"name": "reading-list sync", "write": False,
                                  "expires_at": r.json()["token"]["expires_at"]}}
    expires = dt.datetime.fromisoformat(r.json()["token"]["expires_at"])
    assert abs(expires - (utcnow() + dt.timedelta(days=90))) < dt.timedelta(minutes=5)
    # A browser session says so too.
    assert browser.get("/api/me").json()["token"] is None


def test_a_read_only_token_reads_the_members_things_but_changes_nothing(site):
    paper = site.paper()
    _, browser = site.member()
    token = make_token(browser, access="read")
    bot = script(site, token)
    r = bot.get("/api/for-you")
    # What a token reads is its member's: no shared cache or browser may keep it.
    assert r.status_code == 200 and r.headers["cache-control"] == "private, no-store"
    assert bot.get("/api/collections").json() == []
    for method, url in (("PUT", f"/api/papers/{paper.arxiv_id}/vote"), ("POST", f"/api/for-you/not-interested/{paper.arxiv_id}"),
                        ("PUT", "/api/follows/category/cs.LG")):
        r = bot.request(method, url)
        assert r.status_code == 403, (url, r.text)
        assert "read-only" in r.json()["detail"] and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    r = bot.post("/api/collections", json={"name": "x"})
    assert r.status_code == 403
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Vote)) == 0
        assert conn.scalar(select(func.count()).select_from(Collection)) == 0
        assert conn.scalar(select(func.count()).select_from(Follow)) == 0


def test_a_write_token_votes_saves_and_follows_idempotently_without_csrf(site):
    paper = site.paper(arxiv_id="2501.00042", authors=["Grace Hopper"], categories=["cs.LG"])
    old = site.paper(arxiv_id="hep-th/9901001")
    _, browser = site.member()
    bot = script(site, make_token(browser, access="write"))

    # Votes: PUT makes one, twice is still one; DELETE takes it back, twice is still none.
    for _ in range(2):
        r = bot.put(f"/api/papers/{paper.arxiv_id}/vote")
        assert r.status_code == 200 and r.json() == {"arxiv_id": paper.arxiv_id, "voted": True, "upvotes": 1}
    assert bot.put(f"/api/papers/{old.arxiv_id}/vote").json()["voted"] is True  # an old id with a slash
    votes = bot.get("/api/me/votes").json()
    assert [v["paper"]["id"] for v in votes] == [old.arxiv_id, paper.arxiv_id]  # newest vote first
    for _ in range(2):
        assert bot.delete(f"/api/papers/{paper.arxiv_id}/vote").json() == {
            "arxiv_id": paper.arxiv_id, "voted": False, "upvotes": 0}
    assert site.get_paper(paper.arxiv_id).upvotes == 0
    assert bot.put("/api/papers/2501.99999/vote").status_code == 404

    # Collections: POST makes one (201), the same name again answers that one (200).
    r = bot.post("/api/collections", json={"name": "  To read  ", "public": True})
    assert r.status_code == 201
    cid = r.json()["id"]
    assert r.json()["name"] == "To read" and r.json()["public"] is True and r.json()["papers"] == 0
    again = bot.post("/api/collections", json={"name": "To read"})
    assert again.status_code == 200 and again.json()["id"] == cid
    assert bot.post("/api/collections", json={"name": "   "}).status_code == 422
    for _ in range(2):
        r = bot.put(f"/api/collections/{cid}/papers/{paper.arxiv_id}")
        assert r.json() == {"collection": cid, "arxiv_id": paper.arxiv_id, "saved": True, "fetching": False}
    page = bot.get(f"/api/collections/{cid}").json()
    assert page["collection"]["papers"] == 1 and [i["paper"]["id"] for i in page["items"]] == [paper.arxiv_id]
    assert bot.get("/api/collections").json()[0]["papers"] == 1
    # The member's browser sees the same collection.
    assert paper.arxiv_id in browser.get(f"/collections/{cid}").text
    assert bot.delete(f"/api/collections/{cid}/papers/{paper.arxiv_id}").json()["saved"] is False
    # The paper's arXiv DOI names it as well as its id does.
    r = bot.put(f"/api/collections/{cid}/papers/10.48550/arXiv.{paper.arxiv_id}")
    assert r.status_code == 200 and r.json()["arxiv_id"] == paper.arxiv_id and r.json()["saved"] is True
    assert bot.delete(f"/api/collections/{cid}/papers/10.48550/arXiv.{paper.arxiv_id}").json()["saved"] is False
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CollectionItem)) == 0

    # Follows: by the name as stored; an author nobody here has is a 422 that says so.
    r = bot.put("/api/follows/author/grace  hopper")
    assert r.json() == {"kind": "author", "target": "Grace Hopper", "following": True}
    assert bot.put("/api/follows/category/cs.lg").json()["target"] == "cs.LG"
    assert bot.get("/api/follows").json() == {"authors": ["Grace Hopper"], "categories": ["cs.LG"]}
    r = bot.put("/api/follows/author/Nobody Atall")
    assert r.status_code == 422 and "Nobody Atall" in r.json()["detail"]
    assert bot.put("/api/follows/planet/Mars").status_code == 422
    # Unfollowed as typed in any spelling: the answer names what was stored, and it is gone.
    assert bot.delete("/api/follows/author/grace hopper").json() == {
        "kind": "author", "target": "Grace Hopper", "following": False}
    assert bot.delete("/api/follows/category/cs.lg").json() == {"kind": "category", "target": "cs.LG", "following": False}
    assert bot.get("/api/follows").json() == {"authors": [], "categories": []}


def test_bad_revoked_and_expired_tokens_are_refused_with_the_reason_even_on_public_routes(site):
    site.paper()
    other, browser = site.member()
    token = make_token(browser)
    anonymous = site.client()
    assert anonymous.get("/api/daily_papers").status_code == 200
    cases = [("Basic dXNlcjpwYXNz", "invalid_request"), ("Bearer", "invalid_request"),
             ("Bearer not-a-token", "invalid_request"), (f"Bearer {token[:-1]}x" if not token.endswith("x") else
                                                         f"Bearer {token[:-1]}y", "invalid_token")]
    for header, reason in cases:
        for url in ("/api/daily_papers", "/api/me"):
            r = anonymous.get(url, headers={"Authorization": header})
            assert r.status_code == 401, (header, url)
            assert r.headers["www-authenticate"] == f'Bearer error="{reason}"'
            assert r.json()["status"] == 401 and "token" in r.json()["detail"]
    # Expired: refused, and the account page says so.
    with site.engine.begin() as conn:
        conn.execute(update(ApiToken).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert script(site, token).get("/api/me").status_code == 401
    assert "expired" in browser.get("/account").text
    # Signed out, a member's route says how a script signs in.
    r = anonymous.get("/api/me")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer" and "/account#tokens" in r.json()["detail"]


def test_a_write_sent_with_no_credentials_at_all_is_told_to_sign_in_not_about_csrf(site):
    """A script that forgot its token (or misspelled the header's name) gets the 401 the
    API documents, with the challenge and how to make a token; a browser's write with a
    session but no CSRF token is still refused as one."""
    paper = site.paper()
    _, browser = site.member()
    anonymous = site.client()
    collection_id = 1
    for method, url, body in [("PUT", f"/api/papers/{paper.arxiv_id}/vote", None),
                              ("DELETE", f"/api/papers/{paper.arxiv_id}/vote", None),
                              ("POST", "/api/collections", {"name": "Reading"}),
                              ("PUT", f"/api/collections/{collection_id}/papers/{paper.arxiv_id}", None),
                              ("PUT", "/api/follows/category/cs.LG", None),
                              ("PUT", "/api/me/replies/read", None),
                              ("POST", f"/api/for-you/not-interested/{paper.arxiv_id}", None)]:
        r = anonymous.request(method, url, json=body, headers={"X-Auth-Token": "pb_misspelled"})
        assert r.status_code == 401, (method, url, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"error": "Unauthorized", "status": 401,
                            "detail": "Please sign in first. Send a personal API token as 'Authorization: Bearer "
                                      "pb_…' (make one on /account#tokens)."}
    r = browser.put(f"/api/papers/{paper.arxiv_id}/vote")  # signed in, no CSRF token
    assert r.status_code == 403 and "X-CSRF-Token header" in r.json()["detail"]  # a script's words, not a form's
    assert "form is out of date" not in r.json()["detail"]
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Vote)) == 0


def test_a_rate_limited_api_call_answers_json_with_retry_after_whatever_it_accepts(site):
    paper = site.paper()
    _, browser = site.member()
    bot = script(site, make_token(browser, access="write"))
    site.app.state.rate_limits["vote"] = (2, 60)
    answers = [bot.put(f"/api/papers/{paper.arxiv_id}/vote", headers={"Accept": accept})
               for accept in ("*/*", "*/*", "*/*", "text/html")]
    assert [r.status_code for r in answers] == [200, 200, 429, 429]
    for r in answers[2:]:
        assert r.headers["content-type"] == "application/json" and int(r.headers["retry-after"]) > 0
        wait = int(r.headers["retry-after"])  # the limit is named, and when to try again
        assert r.json() == {"error": "Too Many Requests", "status": 429,
                            "detail": f"Too many requests: at most 2 votes a minute. Try again in {wait} "
                                      f"second{'' if wait == 1 else 's'}."}


def test_a_script_names_a_paper_in_any_form_arxiv_reads_and_is_answered_with_its_id(site):
    """A version, the arXiv: prefix, an abs or pdf link, full-width digits: the same
    paper, answered with its own id, for votes, saves and "not interested" alike."""
    paper = site.paper(arxiv_id="2501.00042")
    _, browser = site.member()
    bot = script(site, make_token(browser, access="write"))
    cid = bot.post("/api/collections", json={"name": "Forms"}).json()["id"]
    forms = ["2501.00042v3", "arXiv:2501.00042", "arxiv.org/abs/2501.00042v1", "２５０１.０００４２"]
    for form in forms:
        r = bot.put(f"/api/papers/{form}/vote")
        assert r.status_code == 200 and r.json() == {"arxiv_id": paper.arxiv_id, "voted": True, "upvotes": 1}, form
        r = bot.put(f"/api/collections/{cid}/papers/{form}")
        assert r.status_code == 200 and r.json()["arxiv_id"] == paper.arxiv_id, form
        r = bot.post(f"/api/for-you/not-interested/{form}")
        assert r.status_code == 200 and r.json()["arxiv_id"] == paper.arxiv_id, form
    assert bot.put("/api/papers/٢٥٠١.٠٠٠٤٢/vote").status_code == 404  # other scripts' digits are no id


def test_a_public_collection_made_private_is_gone_from_the_api_at_once(site):
    """Saving, renaming or hiding a collection changes no paper, which is all the shared
    page cache watches: a collection's answer is never kept there (nor by proxies)."""
    paper = site.paper()
    _, browser = site.member()
    bot = script(site, make_token(browser, access="write"))
    cid = bot.post("/api/collections", json={"name": "Shared", "public": True}).json()["id"]
    anonymous = site.client()
    for _ in range(2):
        r = anonymous.get(f"/api/collections/{cid}")
        assert r.status_code == 200 and r.headers["cache-control"] == "private, no-cache"
        assert r.headers.get("x-paperboy-cache") != "hit" and r.headers["x-total-count"] == "0"
    bot.put(f"/api/collections/{cid}/papers/{paper.arxiv_id}")
    assert [i["paper"]["id"] for i in anonymous.get(f"/api/collections/{cid}").json()["items"]] == [paper.arxiv_id]
    assert bot.patch(f"/api/collections/{cid}", json={"public": False}).status_code == 200
    assert anonymous.get(f"/api/collections/{cid}").status_code == 404


def test_a_script_renames_a_collection_makes_it_public_and_deletes_it(site):
    paper = site.paper()
    user, browser = site.member()
    _, other = site.member()
    bot = script(site, make_token(browser, access="write"))
    cid = bot.post("/api/collections", json={"name": "Drafts"}).json()["id"]
    bot.put(f"/api/collections/{cid}/papers/{paper.arxiv_id}")
    taken = bot.post("/api/collections", json={"name": "Taken"}).json()["id"]
    r = bot.patch(f"/api/collections/{cid}", json={"public": True})  # what is left out stays
    assert r.status_code == 200 and r.json()["name"] == "Drafts" and r.json()["public"] is True
    # Its address whole, as a reply's is: a script hands it on to a person.
    assert r.json()["url"] == f"{site.app.state.settings.resolved_base_url}/collections/{cid}"
    assert r.json()["url"].startswith("http")
    assert r.json()["papers"] == 1
    r = bot.patch(f"/api/collections/{cid}", json={"name": "  To read  "})
    assert r.json()["name"] == "To read" and r.json()["public"] is True
    assert "To read" in site.client().get(f"/collections/{cid}").text  # public now: anyone reads it
    r = bot.patch(f"/api/collections/{cid}", json={"name": "Taken"})
    assert r.status_code == 409 and r.json()["detail"] == "You already have a collection with that name."
    assert bot.patch(f"/api/collections/{cid}", json={"name": "   "}).status_code == 422
    stranger = script(site, make_token(other, access="write"))
    assert stranger.patch(f"/api/collections/{taken}", json={"public": True}).status_code == 404  # private: not told
    assert stranger.delete(f"/api/collections/{cid}").status_code == 403  # public, not theirs
    r = bot.delete(f"/api/collections/{cid}")
    assert r.status_code == 200 and r.json() == {"id": cid, "deleted": True}
    assert bot.delete(f"/api/collections/{cid}").status_code == 404
    assert [c["id"] for c in bot.get("/api/collections").json()] == [taken]
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CollectionItem)) == 0
    assert site.get_paper(paper.arxiv_id) is not None  # the paper stays
    reader = script(site, make_token(browser, name="reader"))
    assert reader.delete(f"/api/collections/{taken}").status_code == 403  # a read-only token


def test_revoking_ends_a_token_at_once_and_only_its_owner_can(site):
    _, alice = site.member()
    _, bob = site.member()
    token = make_token(alice)
    tid = _row(site).id
    assert bob.form(f"/account/tokens/{tid}/revoke", page="/account").status_code == 404
    assert script(site, token).get("/api/me").status_code == 200
    r = alice.form(f"/account/tokens/{tid}/revoke", page="/account")
    assert r.status_code == 303 and r.headers["location"] == "/account?done=token_revoked#tokens"
    assert script(site, token).get("/api/me").status_code == 401
    assert "You have no tokens." in alice.get("/account").text
    assert alice.form(f"/account/tokens/{tid}/revoke", page="/account").status_code == 404


def test_a_revoke_button_left_open_in_another_tab_does_not_end_a_newer_token_given_the_same_id(site):
    """SQLite gives a deleted row's id to the next row: the page's Revoke names the token
    by id and by the four characters it shows, so a stale button ends nothing new."""
    _, alice = site.member()
    make_token(alice, name="old")
    stale = alice.get("/account").text  # a tab showing the old token's Revoke
    old = _row(site)
    form = re.search(rf'action="/account/tokens/{old.id}/revoke".*?name="hint" value="([^"]+)"', stale, re.S)
    assert form and form.group(1) == old.hint
    assert alice.form(f"/account/tokens/{old.id}/revoke", {"hint": old.hint}, page="/account").status_code == 303
    new_token = make_token(alice, name="new")
    new = _row(site)
    if site.engine.dialect.name == "sqlite":  # PostgreSQL's sequence never gives an id twice
        assert new.id == old.id and new.hint != old.hint
    assert alice.form(f"/account/tokens/{old.id}/revoke", {"hint": old.hint}, page="/account").status_code == 404
    assert script(site, new_token).get("/api/me").json()["token"]["name"] == "new"


def test_a_token_works_only_on_the_api_and_its_request_ignores_cookies(site):
    user, browser = site.member()
    token = make_token(browser, access="write")
    # Outside /api/ a token signs nobody in: it cannot change the password, nor make tokens.
    bot = script(site, token)
    r = bot.get("/account", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    r = bot.post("/account/tokens", data={"name": "more"}, follow_redirects=False)
    assert r.status_code == 403 and "tokens work on /api/ only" in r.text  # said, not taken for a stale form
    r = bot.post("/for-you/feed", data={"action": "on"}, headers={"Accept": "application/json"})
    assert r.status_code == 403 and "tokens work on /api/ only" in r.json()["detail"]
    # With a token, the browser's session cookie does not count: a bad token is refused
    # even beside a good session, and a good token acts as its own member.
    _, other = site.member()
    r = other.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.json()["id"] == user.id
    r = browser.get("/api/me", headers={"Authorization": "Bearer pb_" + "0" * 40})
    assert r.status_code == 401


def test_a_suspended_members_token_reads_but_cannot_write(site):
    paper = site.paper()
    user, browser = site.member()
    token = make_token(browser, access="write")
    with site.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(is_suspended=True))
    bot = script(site, token)
    assert bot.get("/api/me").json()["suspended"] is True
    r = bot.put(f"/api/papers/{paper.arxiv_id}/vote")
    assert r.status_code == 403 and "suspended" in r.json()["detail"]


def test_making_a_token_checks_its_name_expiry_and_the_number_held(site):
    _, browser = site.member()
    r = browser.form("/account/tokens", {"name": "   ", "access": "read", "expires": "90"}, page="/account")
    assert r.status_code == 422 and "Give the token a name" in r.text
    r = browser.form("/account/tokens", {"name": "x", "access": "read", "expires": "forever"}, page="/account")
    assert r.status_code == 422 and "expires" in r.text
    r = browser.form("/account/tokens", {"name": "x", "access": "admin", "expires": "90"}, page="/account")
    assert r.status_code == 422 and "read access" in r.text
    make_token(browser, name="forever", expires="never")
    assert _row(site).expires_at is None
    for i in range(19):
        make_token(browser, name=f"t{i}")
    r = browser.form("/account/tokens", {"name": "one more", "access": "read", "expires": "90"}, page="/account")
    assert r.status_code == 422 and "20 tokens" in r.text
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ApiToken)) == 20


def test_hostile_token_names_are_escaped(site):
    _, browser = site.member()
    r = browser.form("/account/tokens", {"name": '<script>alert(1)</script>', "access": "read", "expires": "30"},
                     page="/account")
    assert "<script>alert(1)" not in r.text and "&lt;script&gt;" in r.text
    page = browser.get("/account").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page


def test_a_tokens_use_is_recorded_at_most_once_an_hour(site):
    _, browser = site.member()
    bot = script(site, make_token(browser))
    assert _row(site).last_used_at is None
    bot.get("/api/me")
    first = _row(site).last_used_at
    assert first is not None
    bot.get("/api/me")
    assert _row(site).last_used_at == first  # within the hour: no write
    with site.engine.begin() as conn:
        conn.execute(update(ApiToken).values(last_used_at=utcnow() - dt.timedelta(hours=2)))
    bot.get("/api/me")
    assert utcnow() - _row(site).last_used_at < dt.timedelta(minutes=1)


def test_the_export_lists_tokens_without_secrets_and_deleting_the_account_ends_them(site):
    user, browser = site.member()
    token = make_token(browser, name="zotero")
    r = browser.form("/account/export", page="/account")
    exported = json.loads(r.content)["api_tokens"]
    assert [t["name"] for t in exported] == ["zotero"] and exported[0]["ends_with"] == token[-4:]
    assert token not in r.text and _row(site).token_hash not in r.text
    browser.form("/account/delete", {"password": "correct horse battery staple", "comments": "keep"}, page="/account")
    assert script(site, token).get("/api/me").status_code == 401
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ApiToken)) == 0


def test_private_collections_stay_private_through_the_api(site):
    site.paper(arxiv_id="2501.00043")
    _, alice = site.member()
    bot = script(site, make_token(alice, access="write"))
    private = bot.post("/api/collections", json={"name": "secret"}).json()["id"]
    public = bot.post("/api/collections", json={"name": "shared", "public": True}).json()["id"]
    _, bob = site.member()
    bob_bot = script(site, make_token(bob, access="write"))
    for client in (bob_bot, site.client()):
        assert client.get(f"/api/collections/{private}").status_code == 404
        assert client.get(f"/api/collections/{public}").status_code == 200
    assert bob_bot.put(f"/api/collections/{private}/papers/2501.00043").status_code == 404
    assert bob_bot.put(f"/api/collections/{public}/papers/2501.00043").status_code == 403
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CollectionItem)) == 0


def test_the_members_answers_match_the_published_schema(site):
    paper = site.paper(arxiv_id="2501.00044", authors=["Ada Lovelace"])
    _, browser = site.member()
    bot = script(site, make_token(browser, access="write"))
    doc = bot.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    bot.put(f"/api/papers/{paper.arxiv_id}/vote")
    cid = bot.post("/api/collections", json={"name": "c"}).json()["id"]
    bot.put(f"/api/collections/{cid}/papers/{paper.arxiv_id}")
    bot.put("/api/follows/author/Ada Lovelace")
    asked = browser.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A question."}, page="/")
    _, bob = site.member()
    bob.form(f"/papers/{paper.arxiv_id}/comments",
             {"body": "An answer.", "parent_id": asked.headers["location"].rsplit("-", 1)[1]}, page="/")
    assert len(bot.get("/api/me/replies").json()) == 1
    for path, url in (("/api/me", "/api/me"), ("/api/me/votes", "/api/me/votes"), ("/api/me/replies", "/api/me/replies"),
                      ("/api/collections", "/api/collections"),
                      ("/api/collections/{cid}", f"/api/collections/{cid}"), ("/api/follows", "/api/follows")):
        operation = doc["paths"][path]["get"]
        if path != "/api/collections/{cid}":  # public collections are anyone's to read
            assert operation["security"] == [{"token": []}, {"session": []}]
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        r = bot.get(url)
        assert r.status_code == 200
        errors = list(Draft202012Validator({**schema, "components": doc["components"]}).iter_errors(r.json()))
        assert not errors, (url, errors[:3])


def test_the_member_is_mailed_when_a_token_is_made_and_a_refused_one_mails_nothing(fresh_engine, tmp_path, smtp_server):
    site = Site(create_app(make_settings(tmp_path, mail_backend="smtp", smtp_url=smtp_server.url), fresh_engine),
                fresh_engine)
    user, browser = site.member(email="ada@example.org", name="Ada")
    refused = browser.form("/account/tokens", {"name": "  ", "access": "write", "expires": "30"}, page="/account")
    assert refused.status_code == 422
    token = make_token(browser, name="<b>nightly</b> sync", access="write", expires="30")
    (mail,) = smtp_server.wait_for("ada@example.org")
    assert mail["Subject"] == "A new API token “<b>nightly</b> sync” was made for your Paperboy account"
    text = mail.get_body(("plain",)).get_content()
    assert f"pb_…{token[-4:]}" in text and "read and write" in text and "expires" in text
    assert token not in mail.as_string()  # the secret is never mailed
    assert "/account#tokens" in text
    html = mail.get_body(("html",)).get_content()
    assert "&lt;b&gt;nightly&lt;/b&gt;" in html and "<b>nightly" not in html
    assert len(smtp_server.to("ada@example.org")) == 1


def test_a_password_reset_revokes_every_token_and_a_change_keeps_them(site):
    """A reset by mail is how a member takes back an account someone else used: the tokens
    go with the sessions, and the member is told. Changing the password keeps them."""
    from tests.community.test_security import _link

    user, browser = site.member()
    kept = make_token(browser, "kept over a change")
    r = browser.form("/account/password", {"current_password": PASSWORD, "new_password": "a new one, long enough"},
                     page="/account")
    assert r.status_code in (200, 303), r.text[-300:]
    assert script(site, kept).get("/api/me").status_code == 200
    other = make_token(browser, "made by someone else")
    site.client().form("/reset", {"email": user.email})
    link = _link(site.outbox[-1], "/reset/")
    fresh = site.client()
    r = fresh.post(link, data={"csrf_token": fresh.token(link), "password": "taken back for good"},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account?done=reset_tokens#tokens"
    assert "your API tokens are revoked" in fresh.get(r.headers["location"]).text
    for token in (kept, other):
        assert script(site, token).get("/api/me").status_code == 401
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ApiToken)) == 0
    # With no token to revoke, a reset lands on the account page, saying it is done.
    site.client().form("/reset", {"email": user.email})
    link = _link(site.outbox[-1], "/reset/")
    r = fresh.post(link, data={"csrf_token": fresh.token(link), "password": "and once more"}, follow_redirects=False)
    assert r.headers["location"] == "/account?done=reset"
    assert "Your password is reset, and you are signed in." in fresh.get(r.headers["location"]).text


def test_revoke_all_ends_every_token_of_the_member_and_no_one_elses(site):
    _, ada = site.member()
    _, bob = site.member()
    assert "Revoke all" not in ada.get("/account").text  # one token or none: its own Revoke does it
    mine = [make_token(ada, f"script {i}") for i in range(3)]
    theirs = make_token(bob, "bob's")
    assert "Revoke all 3 tokens" in ada.get("/account").text
    assert site.client().post("/account/tokens/revoke-all").status_code == 403  # no session, no CSRF token
    r = ada.form("/account/tokens/revoke-all", page="/account")
    assert r.status_code == 303 and r.headers["location"] == "/account?done=tokens_revoked#tokens"
    assert "Every token is revoked" in ada.get(r.headers["location"]).text
    assert [script(site, t).get("/api/me").status_code for t in mine] == [401, 401, 401]
    assert script(site, theirs).get("/api/me").status_code == 200
    # A token cannot revoke tokens: the route is for the signed-in member's browser only.
    fresh = make_token(ada, "write", access="write")
    assert script(site, fresh).post("/account/tokens/revoke-all").status_code in (401, 403)
    assert script(site, fresh).get("/api/me").status_code == 200


def test_sending_the_token_form_again_as_a_reload_does_makes_no_second_token(site):
    """The new token's page answers the POST itself (the value is never kept to show
    after a redirect); a reload sends the same form again and must make nothing."""
    _, browser = site.member()
    once = re.search(r'name="once" value="([^"]+)"', browser.get("/account").text).group(1)
    form = {"name": "sync", "access": "read", "expires": "90", "once": once}
    first = browser.form("/account/tokens", form, page="/account")
    assert first.status_code == 200 and TOKEN.findall(first.text)
    again = browser.form("/account/tokens", form, page="/account")
    assert again.status_code == 409 and not TOKEN.findall(again.text)
    assert "That form was sent already" in again.text and "revoke it and make another" in again.text
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ApiToken)) == 1
    # The page it answers with carries a new form, which makes the next token.
    fresh = re.search(r'name="once" value="([^"]+)"', again.text).group(1)
    assert fresh != once
    assert browser.form("/account/tokens", {**form, "once": fresh}, page="/account").status_code == 200


def test_a_body_that_is_not_json_or_not_an_object_is_named_so(site):
    _, browser = site.member()
    client = script(site, make_token(browser, access="write"))
    cases = [("not json", "body is not valid JSON (at character 0: Expecting value)"),
             ('{"name": "x"', "body is not valid JSON (at character 12"),
             ("[1]", "body should be a JSON object, sent with Content-Type: application/json")]
    for body, said in cases:
        r = client.post("/api/collections", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422 and said in r.json()["detail"], (body, r.text)
        assert r.json()["errors"][0]["param"] == "body"
    r = client.post("/api/collections")  # no body at all
    assert r.status_code == 422 and r.json()["detail"] == (
        "Invalid parameter: body is required: a JSON object, sent with Content-Type: application/json.")
    # pydantic's guesses are not made for a person's data: "yes" is not true.
    r = client.post("/api/collections", json={"name": "Reading", "public": "yes"})
    assert r.status_code == 422 and r.json()["detail"] == (
        "Invalid parameter: public='yes' should be true or false (JSON's, not a string).")
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Collection)) == 0
    cid = client.post("/api/collections", json={"name": "Reading"}).json()["id"]
    r = client.patch(f"/api/collections/{cid}", json={"public": "yes"})
    assert r.status_code == 422 and client.get(f"/api/collections/{cid}").json()["collection"]["public"] is False
    r = client.put(f"/api/collections/{cid}/papers/garbage-id")
    assert r.status_code == 404 and r.json()["detail"] == (
        "'garbage-id' is not an arXiv id (ids look like 2401.01234 or hep-th/9901001).")
    assert client.put("/api/papers/2501.99999/vote").json()["detail"] == "No paper arXiv:2501.99999 here."
    r = client.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": []})
    assert r.status_code == 422 and r.json()["detail"] == "Invalid parameter: arxiv_ids=[] should have at least 1 item."
