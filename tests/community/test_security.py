"""Sessions, CSRF, throttling, reset tokens, and who may change what."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

from sqlalchemy import select, update
from starlette.routing import Mount

from paperboy.community import accounts
from paperboy.community.models import AccountToken
from paperboy.store.models import User, UserSession, utcnow
from paperboy.web.security import SAFE_METHODS, SESSION_COOKIE, flat_routes, token_hash
from tests.community.conftest import PASSWORD, make_settings
from tests.support.servers import ROOT

# Routes that take unsafe requests without a CSRF token, each with its reason. A new
# entry needs a reason: such a route must not act on the browser's session cookie.
EXEMPT_ROUTES: dict[str, str] = {
    "/subscriptions/unsubscribe/{signed}": "RFC 8058 one-click unsubscribe from mail clients; "
    "acts only on the signed token in the URL, never on the session",
    "/account/reply-mails/off/{signed}": "RFC 8058 one-click off for reply mails from mail clients; "
    "acts only on the signed token in the URL (it only turns those mails off), never on the session",
}


_CSRF = re.compile(r'name="csrf_token" value="[0-9a-f]*"')


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def mutating_routes(app) -> list[tuple[str, str, object]]:
    out = []
    for route, endpoint in flat_routes(app.routes):
        if isinstance(route, Mount):
            continue
        assert hasattr(route, "methods"), f"unknown route kind {route!r}: teach this test about it"
        for method in sorted((route.methods or set()) - SAFE_METHODS):
            out.append((method, route.path, endpoint))
    return out


def test_every_mutating_route_refuses_a_missing_or_wrong_csrf_token(site):
    routes = mutating_routes(site.app)
    assert len(routes) >= 20  # the enumeration really sees the app's routes
    exempt = {path for _, path, endpoint in routes if getattr(endpoint, "csrf_exempt", False)}
    assert exempt == set(EXEMPT_ROUTES), f"CSRF-exempt routes need a reason in EXEMPT_ROUTES: {exempt}"
    admin, client = site.member(admin=True)
    good = client.token("/")
    wrong = good[:-1] + ("1" if good.endswith("0") else "0")  # one character off, never equal
    assert client.cookies.get(SESSION_COOKIE)
    for method, path, _ in routes:
        if path in exempt:
            continue
        url = _fill(path)
        for headers, data in (({}, {}), ({}, {"csrf_token": "0" * 64}), ({"X-CSRF-Token": wrong}, {}),
                              ({"X-CSRF-Token": ""}, {"csrf_token": ""})):
            r = client.request(method, url, data=data or None, headers=headers, follow_redirects=False)
            assert r.status_code == 403, (method, path, headers, data, r.status_code)
    # A fresh browser with no CSRF cookie cannot reuse someone else's token either.
    other = site.client()
    r = other.post("/signup", data={"csrf_token": good, "email": "a@example.org", "password": PASSWORD})
    assert r.status_code == 403


def test_the_right_token_works_in_a_form_and_in_the_header(site):
    paper = site.paper()
    _, client = site.member()
    token = client.token("/")
    r = client.post(f"/papers/{paper.arxiv_id}/vote", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={"X-CSRF-Token": token, "Accept": "application/json"})
    assert r.json() == {"upvotes": 0, "voted": False}


def _set_cookies(response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_session_cookies_carry_the_right_flags(fresh_engine, tmp_path):
    from tests.community.conftest import Site

    for base, secure in (("https://papers.example.org", True), ("", False)):
        app = __import__("paperboy.site", fromlist=["create_app"]).create_app(
            make_settings(tmp_path, base_url=base), fresh_engine)
        s = Site(app, fresh_engine)
        user = s.user()
        client = s.client(base_url=base or "http://testserver")
        r = client.form("/signin", {"email": user.email, "password": PASSWORD})
        assert r.status_code == 303
        cookies = _set_cookies(r)
        for name in ("pb_session", "pb_csrf"):
            flags = [f.strip().lower() for f in cookies[name].split(";")]
            assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
            assert ("secure" in flags) is secure


def test_a_new_session_id_after_sign_in_and_the_old_one_is_dropped(site):
    user = site.user()
    client = site.client()
    client.sign_in(user.email)
    first = client.cookies.get(SESSION_COOKIE)
    client.sign_in(user.email)
    second = client.cookies.get(SESSION_COOKIE)
    assert first and second and first != second
    with site.engine.connect() as conn:
        ids = set(conn.scalars(select(UserSession.id).where(UserSession.user_id == user.id)))
    assert ids == {token_hash(second)}
    # A fixated (planted) cookie is never adopted: sign-in always issues its own.
    planted = site.client()
    planted.cookies.set(SESSION_COOKIE, "planted-by-attacker", domain="testserver.local")
    r = planted.sign_in(user.email)
    issued = _set_cookies(r)[SESSION_COOKIE].split(";")[0].split("=", 1)[1]
    assert issued and issued != "planted-by-attacker"


def test_sign_out_ends_the_session_server_side(site):
    user, client = site.member()
    token = client.cookies.get(SESSION_COOKIE)
    r = client.form("/signout", page="/")
    assert r.status_code == 303
    with site.engine.connect() as conn:
        assert conn.scalar(select(UserSession.id).where(UserSession.id == token_hash(token))) is None
    thief = site.client()
    thief.cookies.set(SESSION_COOKIE, token)
    assert thief.get("/account", follow_redirects=False).status_code == 303  # to /signin


def test_a_members_pages_are_kept_by_no_cache_so_back_after_sign_out_asks_again(site):
    """On a shared computer, Back after signing out must not show the account page (its
    address and tokens) from the browser's memory: a member's pages and JSON say
    ``private, no-store``. A visitor's pages and the static files keep their caching."""
    paper = site.paper()
    _, member = site.member()
    for path in ["/", "/account", "/for-you", "/following", "/collections", f"/papers/{paper.arxiv_id}",
                 "/api/for-you"]:
        r = member.get(path)
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "private, no-store", path
    assert member.get("/for-you/learned").headers["cache-control"] == "private, no-store"
    assert "no-store" not in member.get("/static/style.css").headers.get("cache-control", "")
    visitor = site.client()
    assert "no-store" not in visitor.get("/").headers.get("cache-control", "")
    assert "no-store" not in visitor.get(f"/papers/{paper.arxiv_id}").headers.get("cache-control", "")


def _one_long_window(app, *names: str) -> None:
    """Limits count in fixed windows (15 minutes for sign-ins); a test that crossed a
    window's end would see its count start again. One window of ~30 years it is."""
    for name in names:
        app.state.rate_limits[name] = (app.state.rate_limits[name][0], 10**9)


def test_sign_in_is_throttled_after_repeated_failures(site):
    user = site.user()
    client = site.client()
    _one_long_window(site.app, "signin_fail_email", "signin_fail_ip")
    limit = site.app.state.rate_limits["signin_fail_email"][0]
    for _ in range(limit):
        r = client.form("/signin", {"email": user.email, "password": "wrong password!"})
        assert r.status_code == 400 and "Wrong email or password" in r.text
    # Even the right password is refused now, from any browser.
    r = site.client().form("/signin", {"email": user.email.upper(), "password": PASSWORD})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text and r.headers["Retry-After"]
    # Unknown addresses are throttled the same way (nothing tells them apart).
    for _ in range(limit):
        client.form("/signin", {"email": "nobody@example.org", "password": "wrong password!"})
    assert client.form("/signin", {"email": "nobody@example.org", "password": "x"}).status_code == 429


def test_rate_limits_hold_across_app_instances_sharing_a_database(fresh_engine, tmp_path):
    from paperboy.site import create_app
    from tests.community.conftest import Site

    a = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    b = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    for site in (a, b):
        _one_long_window(site.app, "signin_fail_email", "signin_fail_ip")
    user = a.user()
    limit = a.app.state.rate_limits["signin_fail_email"][0]
    for i in range(limit):
        site = (a, b)[i % 2]
        site.client().form("/signin", {"email": user.email, "password": "nope nope nope"})
    assert b.client().form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 429
    assert a.client().form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 429


def test_answers_never_reveal_whether_an_email_is_registered(site):
    user = site.user()
    pages = {}
    for email in (user.email, "stranger@example.org"):
        for path, data in (("/signup", {"email": email, "password": PASSWORD}), ("/reset", {"email": email}),
                           ("/signin/magic", {"email": email})):
            r = site.client().form(path, data)
            pages[(path, email)] = (r.status_code, _CSRF.sub("", r.text.replace(email, "EMAIL")))
    for path in ("/signup", "/reset", "/signin/magic"):
        assert pages[(path, user.email)] == pages[(path, "stranger@example.org")]
    r1 = site.client().form("/signin", {"email": user.email, "password": "wrong password"})
    r2 = site.client().form("/signin", {"email": "stranger@example.org", "password": "wrong password"})
    assert (r1.status_code, _CSRF.sub("", r1.text.replace(user.email, "E"))) == (
        r2.status_code, _CSRF.sub("", r2.text.replace("stranger@example.org", "E")))


def _link(message, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    m = re.search(r"https?://\S+(" + re.escape(path) + r"\S+)", text)
    assert m, text
    return m.group(1)


def test_sign_up_then_verify_by_signed_link_then_sign_in(site):
    client = site.client()
    r = client.form("/signup", {"email": "New@Example.org", "password": PASSWORD, "display_name": "Newcomer"})
    assert r.status_code == 200 and "Check your inbox" in r.text
    assert client.form("/signin", {"email": "new@example.org", "password": PASSWORD}).status_code == 403  # not verified
    link = _link(site.outbox[-1], "/verify/")
    tampered = link[:-2] + ("xx" if not link.endswith("xx") else "yy")
    assert client.get(tampered, follow_redirects=False).status_code == 400
    # Opened anywhere but the browser that signed up (a phone's mail app, a forwarded
    # mail, a mail scanner), the link confirms the address and asks for the password.
    elsewhere = site.client()
    r = elsewhere.get(link, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?verified=1"
    assert elsewhere.get("/account", follow_redirects=False).status_code != 200
    elsewhere.sign_in("new@example.org")
    assert "Newcomer" in elsewhere.get("/account").text
    # Opened in the browser that signed up, it signs the newcomer in, once.
    r = client.get(link, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/for-you?done=welcome"
    assert "Welcome: your address is confirmed and you are signed in." in client.get("/for-you?done=welcome").text
    assert "Newcomer" in client.get("/account").text
    # Opened again while signed in (here, or where they signed in since): not asked to
    # sign in, told it is done.
    for browser in (client, elsewhere):
        r = browser.get(link, follow_redirects=False)
        assert r.headers["location"] == "/account?done=confirmed"
        assert "Your address is confirmed." in browser.get(r.headers["location"]).text
    client.form("/signout", {})
    assert client.get(link, follow_redirects=False).headers["location"] == "/signin?verified=1"


def test_the_browser_mark_of_a_sign_up_names_its_address_and_is_set_for_any_address(site):
    """The mark that lets a confirmation link sign in is set whether or not the address
    was new (the answer must not tell who is a member), and serves only its own address."""
    site.user(email="taken@example.org")
    taken, new = site.client(), site.client()
    for client, email in ((taken, "taken@example.org"), (new, "fresh@example.org")):
        r = client.form("/signup", {"email": email, "password": PASSWORD, "display_name": "Someone"})
        assert r.status_code == 200 and "pb_signed_up=" in r.headers["set-cookie"]
    # fresh's browser holds a mark for fresh, not for another newcomer's link
    other = site.client()
    other.form("/signup", {"email": "other@example.org", "password": PASSWORD, "display_name": "Other"})
    link = _link(site.outbox[-1], "/verify/")
    assert new.get(link, follow_redirects=False).headers["location"] == "/signin?verified=1"
    assert other.get(link, follow_redirects=False).headers["location"] == "/for-you?done=welcome"


def test_a_sign_in_refused_for_an_unconfirmed_address_marks_the_browser_too(site):
    user = site.user(email="late@example.org", verified=False)
    client = site.client()
    assert client.form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 403
    link = _link(site.outbox[-1], "/verify/")
    assert client.get(link, follow_redirects=False).headers["location"] == "/for-you?done=welcome"
    assert client.get("/account").status_code == 200


def test_reset_tokens_work_once_and_expire(site):
    user = site.user()
    client = site.client()
    client.form("/reset", {"email": user.email})
    link = _link(site.outbox[-1], "/reset/")
    assert client.get(link).status_code == 200
    r = client.post(link, data={"csrf_token": client.token(link), "password": "a brand new password"}, follow_redirects=False)
    assert r.status_code == 303
    client.sign_in(user.email, "a brand new password")
    # Second use: refused.
    r = client.post(link, data={"csrf_token": client.token("/"), "password": "another new password"})
    assert r.status_code == 400 and "invalid, was already used or has expired" in r.text
    assert '<a href="/reset">Ask for a new reset link</a>' in r.text  # not a dead end
    assert '<a href="/account">Your account</a>' in r.text
    assert client.get(link).status_code == 400
    # Expired: a fresh token whose time has passed is refused and changes nothing.
    client.form("/reset", {"email": user.email})
    link2 = _link(site.outbox[-1], "/reset/")
    with site.engine.begin() as conn:
        conn.execute(update(AccountToken).where(AccountToken.id == token_hash(link2.rsplit("/", 1)[1]))
                     .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    r = client.post(link2, data={"csrf_token": client.token("/"), "password": "third new password"})
    assert r.status_code == 400
    site.client().sign_in(user.email, "a brand new password")


def test_password_reset_signs_out_every_other_session(site):
    user, old = site.member()
    site.client().form("/reset", {"email": user.email})
    link = _link(site.outbox[-1], "/reset/")
    fresh = site.client()
    fresh.post(link, data={"csrf_token": fresh.token(link), "password": "a brand new password"})
    assert old.get("/account", follow_redirects=False).status_code == 303
    assert fresh.get("/account").status_code == 200


def test_a_password_reset_revokes_every_other_reset_and_magic_link(site):
    user = site.user()
    client = site.client()
    client.form("/reset", {"email": user.email})
    first = _link(site.outbox[-1], "/reset/")
    client.form("/reset", {"email": user.email})
    second = _link(site.outbox[-1], "/reset/")
    client.form("/signin/magic", {"email": user.email})
    magic = _link(site.outbox[-1], "/signin/magic/")

    r = client.post(first, data={"csrf_token": client.token(first), "password": "a brand new password"},
                    follow_redirects=False)
    assert r.status_code == 303

    other = site.client()
    assert other.get(second).status_code == 400
    assert other.post(second, data={"csrf_token": other.token("/"), "password": "an attacker's choice"}).status_code == 400
    assert other.get(magic).status_code == 400
    r = other.post(magic, data={"csrf_token": other.token("/")}, follow_redirects=False)
    assert r.status_code == 400 and not other.cookies.get(SESSION_COOKIE)
    site.client().sign_in(user.email, "a brand new password")


def test_magic_link_needs_a_click_and_works_once(site):
    user = site.user()
    client = site.client()
    client.form("/signin/magic", {"email": user.email})
    link = _link(site.outbox[-1], "/signin/magic/")
    assert client.get(link).status_code == 200 and client.get(link).status_code == 200  # GET uses nothing
    r = client.post(link, data={"csrf_token": client.token(link)}, follow_redirects=False)
    assert r.status_code == 303 and client.cookies.get(SESSION_COOKIE)
    assert site.client().get(link).status_code == 400


def test_members_cannot_change_each_others_comments_or_collections(site):
    paper = site.paper()
    _, alice = site.member()
    _, bob = site.member()
    alice.form(f"/papers/{paper.arxiv_id}/comments", {"body": "mine"}, page="/")
    alice.form("/collections", {"name": "Alice's", "public": "1"}, page="/")
    from paperboy.community.models import Comment
    from paperboy.store.models import Collection

    with site.engine.connect() as conn:
        cid = conn.scalar(select(Comment.id))
        coll = conn.scalar(select(Collection.id))
    for path, data in ((f"/comments/{cid}/edit", {"body": "defaced"}), (f"/comments/{cid}/delete", {}),
                       (f"/collections/{coll}/add", {"arxiv_id": paper.arxiv_id}),
                       (f"/collections/{coll}/remove", {"arxiv_id": paper.arxiv_id}),
                       (f"/collections/{coll}/edit", {"name": "mine now"}), (f"/collections/{coll}/delete", {})):
        assert bob.form(path, data, page="/").status_code == 403, path
    assert bob.get(f"/comments/{cid}/edit").status_code == 403
    with site.engine.connect() as conn:
        assert conn.scalar(select(Comment.body)) == "mine"
        assert conn.scalar(select(Collection.name)) == "Alice's"


def test_someone_elses_private_collection_answers_like_a_missing_one(site):
    """Writing to another member's private collection must not confirm that it exists."""
    paper = site.paper()
    _, alice = site.member()
    _, bob = site.member()
    alice.form("/collections", {"name": "Private reading"}, page="/")
    from paperboy.store.models import Collection

    with site.engine.connect() as conn:
        coll = conn.scalar(select(Collection.id))
    missing = coll + 1000
    for action, data in (("add", {"arxiv_id": paper.arxiv_id}), ("remove", {"arxiv_id": paper.arxiv_id}),
                         ("edit", {"name": "mine now"}), ("delete", {})):
        private = bob.form(f"/collections/{coll}/{action}", data, page="/")
        absent = bob.form(f"/collections/{missing}/{action}", data, page="/")
        assert (private.status_code, absent.status_code) == (404, 404), action
        assert private.text.replace(f"/collections/{coll}/", "/X/") == absent.text.replace(f"/collections/{missing}/", "/X/"), action
    with site.engine.connect() as conn:
        assert conn.scalar(select(Collection.name)) == "Private reading"


def test_a_suspended_member_cannot_vote_comment_or_submit(site):
    paper = site.paper()
    _, client = site.member(suspended=True)
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={"X-CSRF-Token": client.token("/"), "Accept": "application/json"})
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
    r = client.form(f"/papers/{paper.arxiv_id}/comments", {"body": "hello"}, page="/")
    assert r.status_code == 403 and "suspended" in r.text
    r = client.form("/submit", {"arxiv": paper.arxiv_id}, page="/")
    assert r.status_code == 403 and "suspended" in r.text
    assert site.get_paper(paper.arxiv_id).upvotes == 0 and site.get_paper(paper.arxiv_id).num_comments == 0


def test_only_admins_reach_moderation(site):
    paper = site.paper()
    _, member = site.member()
    assert member.get("/admin").status_code == 403
    assert member.form(f"/admin/papers/{paper.arxiv_id}/hide", page="/").status_code == 403
    assert site.client().get("/admin", follow_redirects=False).status_code == 303


def test_users_create_command(fresh_url, tmp_path):
    env = {"PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cmd = [str(ROOT / ".venv" / "bin" / "paperboy"), "users", "create", "Boss@Example.org", "--admin", "--password-stdin"]
    done = subprocess.run(cmd, input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    again = subprocess.run(cmd, input=PASSWORD + "\n", env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "exists already" in again.stderr + again.stdout
    from paperboy.community import accounts
    from paperboy.store.db import make_engine, session_scope

    eng = make_engine(fresh_url)
    with session_scope(eng) as db:
        user = db.scalar(select(User).where(User.email == "boss@example.org"))
        assert user.is_admin and user.email_verified_at is not None
        # A command run with the default cost (its environment has no PAPERBOY_PASSWORD_HASH_*).
        assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert accounts.verify_password(user.password_hash, PASSWORD)
    eng.dispose()


def test_a_password_hash_of_another_cost_is_redone_at_the_next_sign_in(site):
    """PAPERBOY_PASSWORD_HASH_* (the tests run at 1 MiB x 1 pass, tests/conftest.py): a hash
    made with other parameters still signs in, and is rewritten at the configured cost."""
    from argon2 import PasswordHasher

    user = site.user()
    with site.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(password_hash=PasswordHasher().hash(PASSWORD)))
    site.client().sign_in(user.email)
    with site.engine.connect() as conn:
        stored = conn.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,") and accounts.verify_password(stored, PASSWORD)


def test_the_token_is_read_from_multipart_forms_too(site):
    _, client = site.member()
    token = client.token("/")
    fields = {"kind": (None, "category"), "target": (None, "cs.LG")}
    r = client.post("/follows", files={**fields, "csrf_token": (None, token)}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/follows", files={**fields, "csrf_token": (None, "f" * 64)}, follow_redirects=False)
    assert r.status_code == 403


# --- Fetch Metadata and Origin: CSRF without tokens in pages ---------------------------

def test_cross_site_requests_are_refused_by_what_the_browser_says(site):
    paper = site.paper()
    _, client = site.member()
    token = client.token("/")
    vote = f"/papers/{paper.arxiv_id}/vote"
    # Refused whatever the token: the browser says the request comes from elsewhere.
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}, {"Origin": "http://testserver.evil.example"},
                    {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site", "Origin": "http://testserver"}):
        r = client.post(vote, headers={**headers, "X-CSRF-Token": token, "Accept": "application/json"})
        assert r.status_code == 403 and "Cross-origin" in r.json()["detail"], headers
    assert site.get_paper(paper.arxiv_id).upvotes == 0


def test_a_refused_form_gets_the_sites_own_error_page(site):
    """A person whose form is refused (another site's, a stale token) reads why on a
    page of this site, with its header and a way on, not a bare line of text."""
    paper = site.paper()
    user, client = site.member(name="Refused Reader")
    vote = f"/papers/{paper.arxiv_id}/vote"
    for headers, said in (({"Origin": "https://evil.example"}, "came from another site"),
                          ({}, "This form is out of date or was not sent from this site")):
        r = client.post(vote, data={"csrf_token": "stale"}, headers=headers, follow_redirects=False)
        assert r.status_code == 403 and r.headers["content-type"].startswith("text/html"), headers
        assert said in r.text and "<h1>Forbidden</h1>" in r.text and "Refused Reader" in r.text
        assert "Back to today's papers" in r.text
    assert site.get_paper(paper.arxiv_id).upvotes == 0


def test_same_origin_requests_need_no_token(site):
    paper = site.paper()
    _, client = site.member()
    vote = f"/papers/{paper.arxiv_id}/vote"
    for headers, upvotes in (({"Sec-Fetch-Site": "same-origin"}, 1), ({"Origin": "http://testserver"}, 0),
                             ({"Sec-Fetch-Site": "none"}, 1)):
        r = client.post(vote, headers={**headers, "Accept": "application/json"})
        assert r.status_code == 200 and r.json()["upvotes"] == upvotes, headers
    # A form posted by a browser: no token in it at all.
    r = client.post("/follows", data={"kind": "category", "target": "cs.LG"},
                    headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert r.status_code == 303


def test_without_either_header_the_token_decides(site):
    """Browsers from before Fetch Metadata and Origin on POST (and scripts) fall back to the token."""
    paper = site.paper()
    _, client = site.member()
    vote = f"/papers/{paper.arxiv_id}/vote"
    assert client.post(vote, headers={"Accept": "application/json"}).status_code == 403
    r = client.post(vote, headers={"Accept": "application/json", "X-CSRF-Token": client.token("/")})
    assert r.status_code == 200 and r.json() == {"upvotes": 1, "voted": True}


def test_the_public_url_counts_as_this_origin_behind_a_proxy(fresh_engine, tmp_path):
    from paperboy.site import create_app
    from tests.community.conftest import Site

    s = Site(create_app(make_settings(tmp_path, base_url="https://papers.example.org"), fresh_engine), fresh_engine)
    paper = s.paper()
    user = s.user()
    client = s.client(base_url="https://127.0.0.1:8000")  # the Host the proxy passes on, not the public one
    client.sign_in(user.email)
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={"Origin": "https://papers.example.org", "Accept": "application/json"})
    assert r.status_code == 200
    r = client.post(f"/papers/{paper.arxiv_id}/vote", headers={"Origin": "http://papers.example.org", "Accept": "application/json"})
    assert r.status_code == 403


def test_bodies_past_the_form_cap_are_refused_however_the_origin_is_judged(site):
    paper = site.paper()
    _, client = site.member()
    big = {"body": "x" * 1_100_000}
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://testserver"}, {"X-CSRF-Token": client.token("/")}):
        r = client.post(f"/papers/{paper.arxiv_id}/comments", data=big, headers=headers, follow_redirects=False)
        assert r.status_code == 413, headers
    assert site.get_paper(paper.arxiv_id).num_comments == 0
