"""Account addresses go through the same validator as digest subscriptions
(paperboy.mail.addresses): anything that is not one plain mailbox is refused at sign-up
with a clear message, stores no account and queues no mail."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import User
from tests.community.conftest import PASSWORD, Site, make_settings

HOSTILE = [
    "promo0,promo1,promo2:victim@example.org",
    "Friend <victim@example.org>",
    "victim@example.org, other@example.org",
    "(comment)victim@example.org",
    "victim@[127.0.0.1]",
    "a..b@example.org",  # the old hand-written pattern let these two through
    "d\u00f6tte@example.org",
]


@pytest.mark.parametrize("address", HOSTILE)
def test_signup_refuses_an_address_that_is_not_one_plain_mailbox(site, address):
    client = site.client()
    r = client.form("/signup", {"email": address, "password": PASSWORD}, page="/signup")
    assert r.status_code == 400
    assert "valid email address" in r.text
    with session_scope(site.engine) as db:
        assert db.scalar(select(func.count()).select_from(User)) == 0
    assert site.outbox == []


def test_signup_says_why_an_address_is_refused(site):
    r = site.client().form("/signup", {"email": "ana@lab.local", "password": PASSWORD}, page="/signup")
    assert r.status_code == 400
    assert "special-use or reserved name" in r.text and "valid email address" in r.text


def test_signup_stores_a_plain_address_lower_cased(site):
    client = site.client()
    r = client.form("/signup", {"email": " Reader@Example.ORG ", "password": PASSWORD}, page="/signup")
    assert r.status_code in (200, 303)
    with session_scope(site.engine) as db:
        assert db.scalars(select(User.email)).all() == ["reader@example.org"]


@pytest.mark.parametrize("mail", ["console", "null"])
def test_check_your_inbox_says_where_mail_went_when_no_mail_server_is_set_up(fresh_engine, tmp_path, mail):
    """On a laptop with no SMTP server the console sender prints mail on serve's terminal:
    the page that says a message is on its way says so, and only then."""
    app = create_app(make_settings(tmp_path, mail_backend=mail), fresh_engine)
    client = Site(app, fresh_engine).client()
    pages = [client.form("/signup", {"email": "reader@example.org", "password": PASSWORD}, page="/signup"),
             client.form("/reset", {"email": "reader@example.org"}, page="/reset"),
             client.form("/subscribe", {"email": "reader@example.org"}, page="/")]
    for r in pages:
        assert r.status_code == 200 and "Check your inbox" in r.text, r.text[:300]
        assert ("printed in the terminal where <code>paperboy serve</code> runs" in r.text) == (mail == "console")
