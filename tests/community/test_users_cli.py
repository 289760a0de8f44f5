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

