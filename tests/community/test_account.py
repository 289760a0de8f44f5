"""The member's account page: password and address changes, the data export, and
deleting the account; mail goes through a real SMTP server on loopback."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import func, select

from paperboy.community.models import AccountToken, Comment
from paperboy.digest import services
from paperboy.digest.models import Subscription
from paperboy.ingest import wanted
from paperboy.papers.references import TitleRef
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import (
    Collection,
    CollectionItem,
    Follow,
    ImportOutcome,
    User,
    UserSession,
    Vote,
    WantedPaper,
    WantedTitle,
)
from paperboy.web.uploads import keep_outcome
from tests.community.conftest import PASSWORD, Site, drain_mail, make_settings

NEW_PASSWORD = "a different long passphrase"


@pytest.fixture
def mail_site(fresh_engine, tmp_path, smtp_server) -> Site:
    settings = make_settings(tmp_path, mail_backend="smtp", smtp_url=smtp_server.url)
    return Site(create_app(settings, fresh_engine), fresh_engine)


def _count(engine, model, *where) -> int:
    with session_scope(engine) as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def _signed_in(client) -> bool:
    return client.get("/account", follow_redirects=False).status_code == 200


def _link(message, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"https?://[^/\s]+({path}\S+)", text).group(1)


# --- the page -------------------------------------------------------------------------


def test_the_account_page_offers_every_setting_and_links_the_digest(site):
    _, client = site.member()
    page = client.get("/account").text
    for action in ('action="/account"', 'action="/account/email"', 'action="/account/password"',
                   'action="/account/export"', 'action="/account/delete"'):
        assert action in page
    assert 'href="/account/digest"' in page


# --- password -------------------------------------------------------------------------


def test_changing_the_password_needs_the_current_one_and_signs_out_other_browsers(site):
    user, here = site.member()
    elsewhere = site.client()
    elsewhere.sign_in(user.email)
    page = "/account"

    r = here.form("/account/password", {"current_password": "not my password", "new_password": NEW_PASSWORD}, page=page)
    assert r.status_code == 400 and "not your current password" in r.text
    r = here.form("/account/password", {"current_password": PASSWORD, "new_password": "short"}, page=page)
    assert r.status_code == 400 and "at least 10 characters" in r.text
    r = here.form("/account/password", {"current_password": PASSWORD, "new_password": PASSWORD}, page=page)
    assert r.status_code == 400 and "The new password is the one you have" in r.text
    assert _signed_in(elsewhere)  # nothing changed yet

    r = here.form("/account/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, page=page)
    assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
    assert "Your password is changed" in here.get(r.headers["location"]).text
    assert _signed_in(here) and not _signed_in(elsewhere)
    assert _count(site.engine, UserSession, UserSession.user_id == user.id) == 1

    assert site.client().form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 400
    site.client().sign_in(user.email, NEW_PASSWORD)


def test_a_refused_form_on_the_sign_in_and_account_pages_shows_its_error_and_nothing_else(site):
    """The pages' "done" line is filled only after a success; a refusal left it to the
    template's global of the same name, a function, which showed as "<function notice ...>"."""
    user, client = site.member()
    r = site.client().form("/signin", {"email": user.email, "password": "not the password"})
    assert r.status_code == 400
    assert "<function" not in r.text and 'class="notice"' not in r.text
    for path, data in [("/account/password", {"current_password": "guess guess", "new_password": NEW_PASSWORD}),
                       ("/account/delete", {"password": "not the password", "comments": "keep"}),
                       ("/account/email", {"new_email": "not an address", "password": PASSWORD})]:
        r = client.form(path, data, page="/account")
        assert r.status_code == 400, path
        assert "<function" not in r.text and 'class="notice"' not in r.text, path
        assert 'class="error"' in r.text, path
    assert "Your address is confirmed" in site.client().get("/signin?verified=1").text


def test_the_sign_in_page_tells_a_signed_in_member_so_and_offers_the_way_on_or_out(site):
    user, client = site.member()
    page = client.get("/signin?next=/for-you").text
    assert "You are signed in" in page and user.email in page
    assert '<a class="button button-primary" href="/for-you">Continue</a>' in page
    assert 'name="password"' not in page  # no form that would sign them in again
    # "Sign out and sign in as someone else" comes back to the sign-in form, next kept.
    r = client.form("/signout", {"next": "/signin?next=/for-you"})
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/for-you"
    page = client.get(r.headers["location"]).text
    assert 'name="password"' in page and 'name="next" value="/for-you"' in page
    # Sign-out goes only to this site's pages.
    assert client.form("/signout", {"next": "https://elsewhere.example/"}).headers["location"] == "/"


def test_the_sign_up_page_tells_a_signed_in_member_so_and_offers_to_sign_out_first(site):
    user, client = site.member()
    page = client.get("/signup").text
    assert "You are signed in" in page and user.email in page and 'name="password"' not in page
    assert '<input type="hidden" name="next" value="/signup">' in page and "Sign out and make another account" in page
    r = client.form("/signout", {"next": "/signup"})
    assert r.headers["location"] == "/signup" and 'name="password"' in client.get("/signup").text


def test_wrong_passwords_on_the_account_page_count_as_failed_sign_ins(site):
    site.app.state.rate_limits["signin_fail_email"] = (3, 3600)
    user, client = site.member()
    for _ in range(3):
        r = client.form("/account/password", {"current_password": "guess guess", "new_password": NEW_PASSWORD},
                        page="/account")
        assert r.status_code == 400
    r = client.form("/account/delete", {"password": PASSWORD, "comments": "keep"}, page="/account")
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert site.client().form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 429
    assert _count(site.engine, User, User.id == user.id) == 1


# --- address --------------------------------------------------------------------------


def test_a_new_address_is_confirmed_from_that_mailbox_and_the_old_one_is_told(mail_site, smtp_server):
    site = mail_site
    user, client = site.member(email="old@example.org")
    with session_scope(site.engine) as db:
        services.subscribe(db, site.app.state.settings, user.email, user_id=user.id, confirmed=True)

    r = client.form("/account/email", {"new_email": "New@Example.org", "password": PASSWORD}, page="/account")
    assert r.status_code == 200 and "on its way to new@example.org" in r.text
    drain_mail(site.app)
    (confirm,) = smtp_server.wait_for("new@example.org")
    (notice,) = smtp_server.wait_for("old@example.org")
    assert "new@example.org" in notice.get_body(("plain",)).get_content()
    assert "/account/email/" not in notice.as_string()  # the link only goes to the new mailbox
    path = _link(confirm, "/account/email/")

    # Until the link is used (a GET, as a mail scanner does, is not using it) nothing changes.
    assert "Use new@example.org" in site.client().get(path).text
    with session_scope(site.engine) as db:
        assert db.get(User, user.id).email == "old@example.org"

    opener = site.client()  # the link works in any browser: it proves the mailbox, not the session
    r = opener.post(path, data={"csrf_token": opener.token(path)})
    assert r.status_code == 200 and "now new@example.org" in r.text
    with session_scope(site.engine) as db:
        assert db.get(User, user.id).email == "new@example.org"
        assert db.scalar(select(Subscription.email).where(Subscription.user_id == user.id)) == "new@example.org"
    site.client().sign_in("new@example.org")
    assert site.client().form("/signin", {"email": "old@example.org", "password": PASSWORD}).status_code == 400
    r = opener.post(path, data={"csrf_token": opener.token("/signin")})
    assert r.status_code == 400 and "already used" in r.text


def test_an_address_change_needs_the_password_and_never_takes_another_account(mail_site, smtp_server):
    site = mail_site
    other = site.user(email="taken@example.org")
    user, client = site.member(email="mine@example.org")

    r = client.form("/account/email", {"new_email": "fresh@example.org", "password": "wrong password"}, page="/account")
    assert r.status_code == 400 and "not your current password" in r.text
    r = client.form("/account/email", {"new_email": "not an address", "password": PASSWORD}, page="/account")
    assert r.status_code == 400 and "valid email address" in r.text

    r = client.form("/account/email", {"new_email": other.email, "password": PASSWORD}, page="/account")
    assert r.status_code == 200 and "on its way to taken@example.org" in r.text  # the same answer
    drain_mail(site.app)
    smtp_server.wait_for("mine@example.org")  # the notice still goes out
    assert smtp_server.to("taken@example.org") == [] and smtp_server.to("fresh@example.org") == []

    # A link made before the address was taken by someone else does not take it over.
    from paperboy.community import accounts

    with session_scope(site.engine) as db:
        token = accounts.email_change_token("test", db.get(User, user.id), other.email)
    opener = site.client()
    r = opener.post(f"/account/email/{token}", data={"csrf_token": opener.token("/signin")})
    assert r.status_code == 409
    with session_scope(site.engine) as db:
        assert db.get(User, user.id).email == "mine@example.org" and db.get(User, other.id).email == other.email


# --- export ---------------------------------------------------------------------------


def _give_the_member_a_history(site, user, client):
    a, b = site.paper(title="First"), site.paper(title="Second")
    assert client.form(f"/papers/{a.arxiv_id}/vote", page="/").status_code == 303
    assert client.form(f"/papers/{b.arxiv_id}/comments", {"body": "Nice *result*"}, page="/").status_code == 303
    with session_scope(site.engine) as db:
        col = Collection(user_id=user.id, name="To read", is_public=True)
        db.add(col)
        db.flush()
        db.add(CollectionItem(collection_id=col.id, paper_id=b.id))
        wanted.queue(db, user.id, col.id, ["2101.00042"])  # imported, not on this instance yet
        wanted.queue_titles(db, user.id, col.id, [TitleRef("A proceedings paper", "a proceedings paper")])
        keep_outcome(db, user.id, col.id, "Added 1 paper to “To read”.")  # what an import came to
        keep_outcome(db, user.id, wanted.SEEDS, "Added 1 seed paper.")
        db.add(Follow(user_id=user.id, kind="category", target="cs.LG"))
        sub = services.subscribe(db, site.app.state.settings, user.email, user_id=user.id, confirmed=True).subscription
        sub.alerts = ["diffusion guidance"]
    return a, b


def test_download_my_data_holds_everything_about_the_member_and_nothing_of_others(site):
    user, client = site.member(name="Ada")
    a, b = _give_the_member_a_history(site, user, client)
    other, stranger = site.member()
    assert stranger.form(f"/papers/{b.arxiv_id}/comments", {"body": "Not Ada's"}, page="/").status_code == 303

    r = client.form("/account/export", page="/account")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["cache-control"] == "no-store"
    data = json.loads(r.text)
    assert data["profile"]["email"] == user.email and data["profile"]["display_name"] == "Ada"
    assert [v["arxiv_id"] for v in data["votes"]] == [a.arxiv_id]
    assert [(c["arxiv_id"], c["body"]) for c in data["comments"]] == [(b.arxiv_id, "Nice *result*")]
    assert data["collections"] == [{"name": "To read", "public": True, "created_at": data["collections"][0]["created_at"],
                                    "items": [{"arxiv_id": b.arxiv_id, "added_at": data["collections"][0]["items"][0]["added_at"]}],
                                    "being_fetched": ["2101.00042"], "not_fetched": [],
                                    "titles_being_looked_up": ["A proceedings paper"], "titles_not_found": []}]
    assert [(f["kind"], f["target"]) for f in data["follows"]] == [("category", "cs.LG")]
    (sub,) = data["subscriptions"]
    assert sub["email"] == user.email and sub["alerts"] == ["diffusion guidance"] and sub["status"] == "active"
    assert "Not Ada's" not in r.text and other.email not in r.text
    assert "password" not in r.text  # not even its hash

    anonymous = site.client()
    r = anonymous.post("/account/export", data={"csrf_token": anonymous.token()}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_data_exports_are_rate_limited(site):
    site.app.state.rate_limits["account_export"] = (2, 3600)
    _, client = site.member()
    codes = [client.form("/account/export", page="/account").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


# --- deletion -------------------------------------------------------------------------


def test_deleting_the_account_keeping_comments(site):
    user, client = site.member(email="leaving@example.org", name="Leaving Member")
    elsewhere = site.client()
    elsewhere.sign_in(user.email)
    a, b = _give_the_member_a_history(site, user, client)
    assert site.get_paper(a.arxiv_id).upvotes == 1

    r = client.form("/account/delete", {"password": "not it at all", "comments": "keep"}, page="/account")
    assert r.status_code == 400 and "not your current password" in r.text
    r = client.form("/account/delete", {"password": PASSWORD}, page="/account")
    assert r.status_code == 400 and "Choose whether your comments" in r.text
    assert _count(site.engine, User, User.id == user.id) == 1

    r = client.form("/account/delete", {"password": PASSWORD, "comments": "keep"}, page="/account")
    assert r.status_code == 200 and "Your account is deleted" in r.text
    assert "Sign in" in r.text and "Leaving Member" not in r.text  # the page already shows them signed out
    assert not _signed_in(client) and not _signed_in(elsewhere)
    for model in (Vote, Collection, Follow, Subscription, UserSession, AccountToken, WantedPaper, WantedTitle,
                  ImportOutcome):
        assert _count(site.engine, model, model.user_id == user.id) == 0, model
    assert _count(site.engine, CollectionItem) == 0
    assert site.get_paper(a.arxiv_id).upvotes == 0
    paper_b = site.get_paper(b.arxiv_id)
    assert paper_b.num_comments == 1
    page = site.client().get(f"/papers/{b.arxiv_id}").text
    assert "Nice <em>result</em>" in page and "deleted member" in page and "Leaving Member" not in page

    assert site.client().form("/signin", {"email": user.email, "password": PASSWORD}).status_code == 400
    # The address (and the name) can be used again.
    newcomer = site.client()
    r = newcomer.form("/signup", {"email": user.email, "password": PASSWORD, "display_name": "Leaving Member"})
    assert r.status_code == 200
    with session_scope(site.engine) as db:
        again = db.scalar(select(User).where(User.email == user.email))
        assert again is not None and again.email_verified_at is None  # a new, unconfirmed account


def test_deleting_the_account_removing_comments_keeps_other_members_replies(site):
    user, client = site.member(name="Leaving Member")
    paper = site.paper()
    assert client.form(f"/papers/{paper.arxiv_id}/comments", {"body": "Mine, to go"}, page="/").status_code == 303
    with session_scope(site.engine) as db:
        mine = db.scalar(select(Comment.id).where(Comment.user_id == user.id))
    _, other = site.member(name="Stays Here")
    r = other.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A reply that stays", "parent_id": str(mine)}, page="/")
    assert r.status_code == 303
    assert site.get_paper(paper.arxiv_id).num_comments == 2

    r = client.form("/account/delete", {"password": PASSWORD, "comments": "remove"}, page="/account")
    assert r.status_code == 200 and "comments are removed" in r.text
    assert site.get_paper(paper.arxiv_id).num_comments == 1
    page = site.client().get(f"/papers/{paper.arxiv_id}").text
    assert "Mine, to go" not in page and "A reply that stays" in page and "[deleted]" in page
    with session_scope(site.engine) as db:
        body, author = db.execute(select(Comment.body, Comment.user_id).where(Comment.id == mine)).one()
    assert body == "" and author is None


# --- in a real browser ------------------------------------------------------------------


@pytest.mark.slow
def test_in_a_browser_change_the_password_download_the_data_then_delete_the_account(site, page):
    from tests.community.test_browser import _sign_in
    from tests.support.servers import serve_app_in_thread

    user = site.user(email="browser@example.org", name="Browsing Member")
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/account")
        page.fill('input[name="current_password"]', PASSWORD)
        page.fill('input[name="new_password"]', NEW_PASSWORD)
        page.locator("form.password-form button").click()
        page.wait_for_load_state()
        assert "Your password is changed" in page.locator(".notice").inner_text()

        with page.expect_download() as got:
            page.locator("form.export-form button").click()
        data = json.loads(open(got.value.path(), encoding="utf-8").read())
        assert data["profile"]["email"] == user.email

        page.locator('input[name="comments"][value="remove"]').check()
        page.locator('form.delete-form input[name="password"]').fill(NEW_PASSWORD)
        page.locator("form.delete-form button").click()
        page.wait_for_load_state()
        assert "Your account is deleted" in page.content()
        assert page.get_by_role("link", name="Sign in").count() >= 1
        page.goto(base + "/account")
        assert "/signin" in page.url
    assert page.js_errors == []
    assert _count(site.engine, User, User.email == user.email) == 0


def test_a_member_without_a_display_name_is_shown_as_member_n_never_by_their_address(site):
    paper = site.paper()
    user, client = site.member(email="john.smith.1985@example.org", name="John")
    client.form("/account", {"display_name": "", "email_digest": ""}, page="/account")
    account = client.get("/account").text
    assert f"you appear as “Member {user.id}”, never by your address" in account
    client.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A question about the ablation."}, page="/")
    reader = site.client()
    for path in (f"/papers/{paper.arxiv_id}", f"/members/{user.id}"):
        page = reader.get(path).text
        assert f"Member {user.id}" in page, path
        assert "john.smith" not in page, path
    assert "never by your address" in site.client().get("/signup").text


@pytest.mark.parametrize(("taken", "typed"), [("Alice Smith", "Alice Smith"), ("Alice Smith", "alice  SMITH "),
                                              ("José García", "ＪＯＳÉ García"), ("Ōtsuka", "ōtsuka"),
                                              # letters of other scripts that look like Latin ones
                                              ("Ana Lopes", "\u0410na Lopes"), ("Ada Lovelace", "Ada Lov\u0435lace"),
                                              ("Olga", "\u039flga")])
def test_a_display_name_another_member_has_is_refused_in_any_case_width_or_look_alike(site, taken, typed):
    site.member(name=taken)
    user, client = site.member(name="Bob")
    r = client.form("/account", {"display_name": typed}, page="/account")
    assert r.status_code == 422
    said = html.unescape(r.text)
    assert "Another member is called" in said and "choose a name that tells you apart" in said
    assert f'value="{typed.strip()}"' in said or typed.strip() in said  # what they typed is kept to mend
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.display_name).where(User.id == user.id)) == "Bob"


def test_names_that_differ_as_they_read_are_two_names(site):
    """An accent is part of a name: José and Jose are two people, as are Zoë and Zoe."""
    site.member(name="José")
    site.member(name="Zoë")
    _, client = site.member(name="Bob")
    for other in ("Jose", "Zoe", "Josef"):
        assert client.form("/account", {"display_name": other}, page="/account").status_code == 303, other


def test_nobody_may_call_themselves_what_the_site_calls_members_without_a_name(site):
    other, _ = site.member(name="")
    _, client = site.member(name="Bob")
    for typed in (f"Member {other.id}", "member 999", "Deleted member"):
        r = client.form("/account", {"display_name": typed}, page="/account")
        assert r.status_code == 422 and "is how the site names members" in html.unescape(r.text), typed
    # Their own name again, or a name merely containing another's, is fine.
    assert client.form("/account", {"display_name": "Bob"}, page="/account").status_code == 303
    assert client.form("/account", {"display_name": "Member of the lab"}, page="/account").status_code == 303


def test_signing_up_with_a_name_another_member_has_is_refused_before_anything_is_made(site):
    site.member(name="Alice Smith")
    r = site.client().form("/signup", {"email": "new@example.org", "password": PASSWORD, "display_name": "alice smith"},
                           page="/signup")
    assert r.status_code == 400 and "Another member is called" in html.unescape(r.text)
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.id).where(User.email == "new@example.org")) is None


def test_a_lab_keeps_sign_up_to_its_domains_or_closes_it(fresh_engine, tmp_path):
    from paperboy.site import create_app
    from tests.community.conftest import Site, make_settings

    lab = Site(create_app(make_settings(tmp_path, signup_domains="lab.example.org, @uni.example.edu"),
                          fresh_engine), fresh_engine)
    client = lab.client()
    page = client.get("/signup").text
    assert "Sign-up here is for addresses at" in page and "lab.example.org" in page and "uni.example.edu" in page
    refused = client.form("/signup", {"email": "ann@gmail.com", "password": "x" * 12}, page="/signup")
    assert refused.status_code == 400 and "Sign-up here is for addresses at lab.example.org" in refused.text
    for address in ("ann@lab.example.org", "bo@cs.uni.example.edu"):  # a subdomain counts
        assert client.form("/signup", {"email": address, "password": "x" * 12}, page="/signup").status_code == 200
    with fresh_engine.connect() as conn:
        assert sorted(conn.scalars(select(User.email))) == ["ann@lab.example.org", "bo@cs.uni.example.edu"]

    closed = Site(create_app(make_settings(tmp_path / "closed", signup_open=False), fresh_engine), fresh_engine)
    visitor = closed.client()
    r = visitor.get("/signup")
    assert r.status_code == 200 and "Sign-up is closed" in r.text and 'action="/signup"' not in r.text
    assert 'href="/signup"' not in visitor.get("/").text and 'href="/signup"' not in visitor.get("/signin").text
    r = visitor.form("/signup", {"email": "eve@lab.example.org", "password": "x" * 12}, page="/signin")
    assert r.status_code == 403 and "Sign-up is closed" in r.text
    with fresh_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 2


def test_a_sign_up_domain_that_is_no_domain_is_refused_with_the_settings():
    from paperboy.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="PAPERBOY_SIGNUP_DOMAINS: 'gmail' is not a mail domain"):
        load_settings(signup_domains="lab.example.org, gmail")
