"""`paperboy users`: an administrator's commands for accounts (list, admin, password)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from paperboy.store.models import ApiToken, User, UserSession
from tests.community.test_api_tokens import make_token
from tests.support.cli import cli_runner


@pytest.fixture
def cli(site, monkeypatch, tmp_path):
    yield from cli_runner(monkeypatch, {"PAPERBOY_DATABASE_URL": site.engine.url.render_as_string(hide_password=False),
                                        "PAPERBOY_DATA_DIR": str(tmp_path)})


def test_an_administrator_lists_accounts_and_makes_one_an_admin_and_back(cli, site):
    ada, _ = site.member(email="ada@example.org", name="Ada")
    site.member(email="bob@example.org", name="Bob")
    r = cli("users", "list")
    assert r.exit_code == 0, r.output
    assert "ada@example.org" in r.text and "bob@example.org" in r.text and "2 accounts" in r.text
    assert cli("users", "list", "--admins").text.endswith("0 accounts")
    r = cli("users", "admin", "ADA@example.org")
    assert r.exit_code == 0 and f"account {ada.id} (ada@example.org) is now an administrator" in r.text
    assert "ada@example.org Ada admin" in cli("users", "list", "--admins").text
    r = cli("users", "admin", "ada@example.org", "--off")
    assert "is no longer an administrator" in r.text and "no administrator is left" in r.text
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.is_admin).where(User.id == ada.id)) is False
    r = cli("users", "admin", "nobody@example.org")
    assert r.exit_code == 2 and "no account for nobody@example.org" in r.text


def test_a_new_password_set_by_an_administrator_ends_sessions_links_and_tokens(cli, site):
    user, browser = site.member(email="locked@example.org")
    make_token(browser)
    r = cli("users", "password", "locked@example.org", "--password-stdin", stdin="short\n")
    assert r.exit_code == 2 and "characters" in r.text  # the site's own rule
    r = cli("users", "password", "locked@example.org", "--password-stdin", stdin="a brand new long password\n")
    assert r.exit_code == 0, r.output
    assert "its sessions and sign-in links ended, and its 1 API token revoked" in r.text
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)) == 0
        assert conn.scalar(select(func.count()).select_from(ApiToken)) == 0
    assert browser.get("/account", follow_redirects=False).status_code == 303  # signed out
    fresh = site.client()
    r = fresh.post("/signin", data={"email": "locked@example.org", "password": "a brand new long password",
                                    "csrf_token": fresh.token("/signin")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] != "/signin"



def test_an_administrator_suspends_a_spammer_with_their_comments_and_deletes_an_account(cli, site):
    from paperboy.community.models import Comment
    from paperboy.store.models import Vote

    paper = site.paper()
    spammer, spam = site.member(email="spam@example.org")
    spam.form(f"/papers/{paper.arxiv_id}/comments", {"body": "BUY PILLS"}, page="/")
    r = cli("users", "suspend", "spam@example.org", "--hide-comments")
    assert r.exit_code == 0 and f"account {spammer.id} (spam@example.org) is now suspended; 1 comment" in r.text
    assert "BUY PILLS" not in site.client().get(f"/papers/{paper.arxiv_id}").text
    assert site.get_paper(paper.arxiv_id).num_comments == 0
    assert spam.post(f"/papers/{paper.arxiv_id}/vote", headers={"Accept": "application/json",
                                                               "X-CSRF-Token": spam.token("/")}).status_code == 403
    assert "no longer suspended" in cli("users", "suspend", "spam@example.org", "--off").text

    leaving, browser = site.member(email="leaving@example.org")
    browser.post(f"/papers/{paper.arxiv_id}/vote", headers={"Accept": "application/json",
                                                            "X-CSRF-Token": browser.token("/")})
    assert site.get_paper(paper.arxiv_id).upvotes == 1
    assert cli("users", "delete", "leaving@example.org", stdin="n\n").exit_code == 1  # asked, and said no
    r = cli("users", "delete", "leaving@example.org", "--yes")
    assert r.exit_code == 0 and f"deleted account {leaving.id} (leaving@example.org)" in r.text
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User).where(User.id == leaving.id)) == 0
        assert conn.scalar(select(func.count()).select_from(Vote)) == 0
        assert conn.scalar(select(func.count()).select_from(Comment)) == 1  # the spammer's, hidden
    assert site.get_paper(paper.arxiv_id).upvotes == 0
    assert cli("users", "delete", "leaving@example.org", "--yes").exit_code == 2  # gone: no account for it
