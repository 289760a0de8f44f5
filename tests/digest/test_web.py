"""Subscribe box, double opt-in, one-click unsubscribe, settings and preview, over HTTP
against the app served by uvicorn, with mail through a real SMTP server."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import select

from paperboy.digest.models import Subscription
from paperboy.digest.outbox import deliver, enqueue_due
from paperboy.digest.tokens import sign
from paperboy.mail.senders import SMTPSender
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.web.ratelimit import DEFAULT_LIMITS
from tests.digest.conftest import PERIOD, by_recipient, make_settings, seed_papers, seed_subscribers
from tests.support.servers import free_port, serve_app_in_thread


@pytest.fixture
def site(fresh_engine, smtp_server, tmp_path):
    """(settings, base URL, client) of the app served on the port its settings name."""
    port = free_port()
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, host="127.0.0.1", port=port)
    app = create_app(settings, fresh_engine)
    with serve_app_in_thread(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        # serve_app_in_thread picks its own port: links in mail must point at it.
        app.state.settings = settings = settings.model_copy(update={"base_url": base})
        yield settings, base, client


def csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]*)"', html)
    return m.group(1) if m else ""


def status_of(engine, email: str) -> str:
    with session_scope(engine) as db:
        return db.scalars(select(Subscription.status).where(Subscription.email == email)).one()


def run_digest(settings, engine):
    enqueue_due(settings, engine, period=PERIOD)
    return deliver(settings, engine, SMTPSender(settings.smtp_url))


def test_double_opt_in_from_the_footer_box(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_papers(fresh_engine, 3)
    home = client.get("/search")
    assert 'action="/subscribe"' in home.text
    r = client.post("/subscribe", data={"email": "new@example.org", "csrf_token": csrf(home.text)})
    assert r.status_code == 200 and "Check your inbox" in r.text
    mail = smtp_server.wait_for("new@example.org")[0]
    link = re.search(r"(http://\S+/subscriptions/confirm/\S+)", mail.get_body(("plain",)).get_content()).group(1)

    # Not confirmed yet: no digest.
    assert status_of(fresh_engine, "new@example.org") == "pending"
    run_digest(settings, fresh_engine)
    assert len(smtp_server.to("new@example.org")) == 1  # the confirmation only

    assert link.startswith(base)
    # Opening the link (as a mail scanner or a link preview would) only asks.
    asked = client.get(link)
    assert asked.status_code == 200 and "Yes, subscribe" in asked.text and "new@example.org" in asked.text
    assert client.get(link).status_code == 200
    assert status_of(fresh_engine, "new@example.org") == "pending"
    # Pressing the button (a form with the visitor's CSRF token) confirms, once.
    assert client.post(link).status_code == 403
    first = client.post(link, data={"csrf_token": csrf(asked.text)})
    assert first.status_code == 200 and "Subscribed" in first.text
    assert status_of(fresh_engine, "new@example.org") == "active"
    # Opened again once it has worked (a second click, another device): said plainly.
    again = client.post(link, data={"csrf_token": csrf(asked.text)})
    assert again.status_code == 200 and "new@example.org already receives digests" in again.text
    assert "already receives digests" in client.get(link).text
    assert status_of(fresh_engine, "new@example.org") == "active"
    tampered = link[:-3] + ("abc" if not link.endswith("abc") else "xyz")
    assert client.get(tampered).status_code == 404
    assert client.post(tampered, data={"csrf_token": csrf(asked.text)}).status_code == 404

    run_digest(settings, fresh_engine)
    digests = [m for m in smtp_server.to("new@example.org") if m["List-Unsubscribe"]]
    assert len(digests) == 1


def test_subscribe_again_makes_the_old_link_stop_working(site, fresh_engine, smtp_server):
    settings, base, client = site
    page = client.get("/search")
    for _ in range(2):
        client.post("/subscribe", data={"email": "twice@example.org", "csrf_token": csrf(page.text)})
    mails = smtp_server.wait_for("twice@example.org", 2)
    links = [re.search(r"(http://\S+/confirm/\S+)", m.get_body(("plain",)).get_content()).group(1) for m in mails]
    token = csrf(client.get(links[1]).text)
    assert client.post(links[0], data={"csrf_token": token}).status_code == 410
    assert client.post(links[1], data={"csrf_token": token}).status_code == 200


def test_one_click_unsubscribe_from_the_header(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_papers(fresh_engine, 2)
    seed_subscribers(fresh_engine, settings, ["one@example.org"])
    run_digest(settings, fresh_engine)
    msg = smtp_server.wait_for("one@example.org")[0]
    url = str(msg["List-Unsubscribe"]).strip("<>")
    # As a mail client does it (RFC 8058): a POST with no cookies and no CSRF token.
    r = httpx.post(url, data={"List-Unsubscribe": "One-Click"}, timeout=10)
    assert r.status_code == 200 and "no more digests" in r.text
    assert status_of(fresh_engine, "one@example.org") == "unsubscribed"
    assert enqueue_due(settings, fresh_engine, period="2025-01-16").due == 0  # a later period: nothing


def test_unsubscribe_link_shows_a_confirmation_page(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_papers(fresh_engine, 2)
    seed_subscribers(fresh_engine, settings, ["page@example.org"])
    run_digest(settings, fresh_engine)
    html = smtp_server.wait_for("page@example.org")[0].get_body(("html",)).get_content()
    url = re.search(r'href="([^"]+/subscriptions/unsubscribe/[^"]+)"', html).group(1)
    page = client.get(url)
    assert page.status_code == 200 and "Stop sending" in page.text
    assert status_of(fresh_engine, "page@example.org") == "active"  # GET changes nothing
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    r = client.post(action, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200
    assert status_of(fresh_engine, "page@example.org") == "unsubscribed"
    # A click by mistake: the settings (which subscribe again) are one link away.
    assert "Changed your mind?" in r.text and re.search(r'<a href="[^"]+/settings">Digest settings</a>', r.text)


def test_links_in_the_digest_resolve_and_settings_change_the_next_one(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_papers(fresh_engine, 3, title="Plain <b>bold</b> title")
    seed_subscribers(fresh_engine, settings, ["links@example.org"])
    run_digest(settings, fresh_engine)
    msg = smtp_server.wait_for("links@example.org")[0]
    html = msg.get_body(("html",)).get_content()
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    ours = [h.replace("&amp;", "&") for h in hrefs if h.startswith(base)]
    assert any("/papers/" in h for h in ours) and any("/settings" in h for h in ours)
    for href in ours:
        r = client.get(href)
        assert r.status_code == 200, href
    settings_url = next(h for h in ours if h.endswith("/settings"))
    page = client.get(settings_url)
    assert "links@example.org" in page.text
    form = {"csrf_token": csrf(page.text), "frequency": "weekly", "weekday": "4", "send_hour": "18",
            "timezone": "Europe/Paris", "top_n": "5", "categories": "cs.LG math.AG", "alerts": "diffusion\n",
            "include_follows": "1", "skip_empty": "0"}
    r = client.post(settings_url, data=form, follow_redirects=False)
    assert r.status_code == 303 and settings_url.endswith(r.headers["location"].removesuffix("?saved=1"))
    assert r.headers["location"].endswith("/settings?saved=1")  # the page, so a reload sends nothing
    saved = client.get(r.headers["location"]).text
    assert "Saved. The next digest is due Friday" in saved and "(Europe/Paris; 17:00 UTC)" in saved
    assert "Saved." not in client.get(settings_url).text
    bad = client.post(settings_url, data={**form, "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "not an IANA time zone" in bad.text
    # Categories as a follow takes them: arXiv's (in its spelling), not made-up ones that
    # would mail nothing for ever.
    bad = client.post(settings_url, data={**form, "categories": "cs.LG cs.FAKE notacat"})
    assert bad.status_code == 400 and "not arXiv categories: cs.FAKE notacat" in bad.text
    client.post(settings_url, data={**form, "categories": "cs.lg MATH.AG"})
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "links@example.org")).one()
        assert (sub.frequency, sub.weekday, sub.send_hour, sub.timezone, sub.top_n) == ("weekly", 4, 18, "Europe/Paris", 5)
        assert sub.categories == "cs.LG math.AG" and sub.alerts == ["diffusion"] and sub.skip_empty is False
    preview = client.get(settings_url.replace("/settings", "/preview"))
    assert preview.status_code == 200 and "Plain &lt;b&gt;bold&lt;/b&gt; title" in preview.text
    assert "<b>bold</b>" not in preview.text


def test_a_permanent_failure_pauses_and_the_settings_page_says_why(site, fresh_engine, tmp_path):
    from tests.digest.test_delivery_failures import RejectingSMTP

    settings, base, client = site
    seed_papers(fresh_engine, 2)
    with RejectingSMTP({"gone@example.org"}) as server:
        s2 = settings.model_copy(update={"smtp_url": server.url})
        seed_subscribers(fresh_engine, s2, ["gone@example.org", "fine@example.org"])
        enqueue_due(s2, fresh_engine, period=PERIOD)
        r = deliver(s2, fresh_engine, SMTPSender(server.url))
        assert (r.sent, r.failed, r.paused) == (1, 1, ["gone@example.org"])
        assert sorted(by_recipient(server.messages)) == ["fine@example.org"]
    assert status_of(fresh_engine, "gone@example.org") == "paused"
    from paperboy.digest.tokens import links

    with session_scope(fresh_engine) as db:
        token = db.scalars(select(Subscription.token).where(Subscription.email == "gone@example.org")).one()
    page = client.get(links(settings, token)["settings"].replace(settings.resolved_base_url, base))
    assert "Paused" in page.text and "550" in page.text and "permanently" in page.text


def test_a_signed_in_member_gets_settings_and_digests_with_follows(site, fresh_engine, smtp_server):
    from paperboy.community import accounts
    from paperboy.store.models import Follow
    from tests.support.factories import make_paper

    settings, base, client = site
    with session_scope(fresh_engine) as db:
        user = accounts.create_user(db, "member@example.org", "correct horse battery staple", "Member",
                                    verified=True)
        db.add(Follow(user_id=user.id, kind="author", target="Grace Hopper"))
        make_paper(db, title="Followed work", authors=["Grace Hopper"], categories=["cs.PL"])
    assert client.get("/account/digest", follow_redirects=False).status_code in (303, 307, 401)  # signed out
    page = client.get("/signin")
    r = client.post("/signin", data={"csrf_token": csrf(page.text), "email": "member@example.org",
                                     "password": "correct horse battery staple"}, follow_redirects=False)
    assert r.status_code == 303
    start = client.get("/account/digest", follow_redirects=False)
    assert start.status_code == 200 and "Start my digest" in start.text
    r = client.post("/account/digest", data={"csrf_token": csrf(start.text)}, follow_redirects=False)
    assert r.status_code == 303 and "/settings" in r.headers["location"]
    assert r.headers["location"] == client.get("/account/digest", follow_redirects=False).headers["location"] + "?started=1"
    page = client.get(r.headers["location"])
    assert "Digest settings for member@example.org" in page.text and "Not confirmed" not in page.text
    assert "Your digest is on; the first one is due " in page.text
    assert 'Your <a href="/for-you">For you</a> picks come first' in page.text
    assert status_of(fresh_engine, "member@example.org") == "active"  # verified address: no opt-in mail
    form = {"csrf_token": csrf(page.text), "frequency": "daily", "send_hour": "7", "timezone": "UTC", "top_n": "0",
            "categories": "", "alerts": "", "include_follows": "1", "skip_empty": "1"}
    assert "Saved" in client.post(r.headers["location"], data=form, follow_redirects=True).text
    run_digest(settings, fresh_engine)
    msg = smtp_server.wait_for("member@example.org")[0]
    text = msg.get_body(("plain",)).get_content()
    assert "== By Grace Hopper ==" in text and "Followed work" in text


def test_the_subscribe_box_cannot_flood_an_inbox_or_be_hammered(site, fresh_engine, smtp_server):
    settings, base, client = site
    page = client.get("/search")
    mails_allowed = DEFAULT_LIMITS["mail_email"][0]
    answers = [client.post("/subscribe", data={"email": "victim@example.org", "csrf_token": csrf(page.text)})
               for _ in range(mails_allowed + 2)]
    # The same answer every time, but only the first few confirmations are mailed.
    assert all(r.status_code == 200 and "Check your inbox" in r.text for r in answers)
    smtp_server.wait_for("victim@example.org", mails_allowed)
    time.sleep(0.5)
    assert len(smtp_server.to("victim@example.org")) == mails_allowed


@pytest.fixture
def tight_site(fresh_engine, tmp_path):
    settings = make_settings(tmp_path)
    app = create_app(settings, fresh_engine)
    app.state.rate_limits["subscribe_ip"] = (3, 3600)
    return app


def test_one_client_address_may_ask_for_a_few_subscriptions_an_hour(tight_site):
    from starlette.testclient import TestClient

    with TestClient(tight_site) as client:
        page = client.get("/search")
        codes = [client.post("/subscribe", data={"email": f"a{i}@example.org", "csrf_token": csrf(page.text)}).status_code
                 for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


def _member(client, engine, email: str, verified: bool = True) -> None:
    from paperboy.community import accounts

    with session_scope(engine) as db:
        accounts.create_user(db, email, "correct horse battery staple", "M", verified=verified)
    page = client.get("/signin")
    r = client.post("/signin", data={"csrf_token": csrf(page.text), "email": email,
                                     "password": "correct horse battery staple"}, follow_redirects=False)
    assert r.status_code == 303


def test_the_footer_asks_readers_for_an_address_and_sends_members_to_their_digest_settings(site, fresh_engine):
    settings, base, client = site
    anonymous = client.get("/").text
    assert 'action="/subscribe"' in anonymous and 'href="/account/digest"' not in anonymous
    _member(client, fresh_engine, "member@example.org")
    for path in ("/", "/trending", "/search?q=anything"):
        page = client.get(path).text
        assert re.search(r'<a [^>]*href="/account/digest">Digest settings</a>', page), path
        assert 'action="/subscribe"' not in page, path
    # under the digest settings themselves the footer does not point back to them
    assert "subscribe-box" not in client.get("/account/digest").text


def test_opening_the_account_digest_page_creates_nothing(site, fresh_engine):
    """A cross-site link to /account/digest (a GET) must not subscribe the member."""
    settings, base, client = site
    _member(client, fresh_engine, "member@example.org")
    for _ in range(3):
        assert client.get("/account/digest", follow_redirects=False).status_code == 200
    with session_scope(fresh_engine) as db:
        assert db.scalars(select(Subscription)).all() == []


def test_a_member_cannot_take_over_someone_elses_subscription(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_subscribers(fresh_engine, settings, ["victim@example.org"])
    _member(client, fresh_engine, "attacker@example.org")
    page = client.get("/search")
    r = client.post("/subscribe", data={"email": "victim@example.org", "csrf_token": csrf(page.text)})
    assert r.status_code == 200 and "Check your inbox" in r.text
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "victim@example.org")).one()
        assert sub.user_id is None and sub.status == "active"
    # The attacker's own digest page offers to start theirs; it never shows the victim's links.
    mine = client.get("/account/digest", follow_redirects=False)
    assert mine.status_code == 200 and "victim" not in mine.text
    assert "/subscriptions/" not in mine.text


@pytest.mark.parametrize("address", [
    "promo0,promo1,promo2:victim@example.org",
    "a:victim@example.org",
    "Friend <victim@example.org>",
    "victim@example.org, other@example.org",
    "(comment)victim@example.org",
    "\\victim@example.org",
    "victim@[127.0.0.1]",
])
def test_addresses_that_are_not_one_plain_mailbox_are_refused(site, fresh_engine, smtp_server, address):
    settings, base, client = site
    page = client.get("/search")
    r = client.post("/subscribe", data={"email": address, "csrf_token": csrf(page.text)})
    assert r.status_code == 400 and "not an email address" in r.text
    r = client.post("/signup", data={"email": address, "password": "correct horse battery staple",
                                     "csrf_token": csrf(client.get("/signup").text)})
    assert r.status_code == 400 and "valid email address" in r.text
    time.sleep(0.2)
    assert smtp_server.envelopes == []


def test_the_smtp_sender_delivers_only_to_the_one_to_address(smtp_server):
    from email.message import EmailMessage

    from paperboy.mail.interfaces import PermanentMailError

    sender = SMTPSender(smtp_server.url)
    ok = EmailMessage()
    ok["From"], ok["To"], ok["Subject"] = "site@example.org", "reader@example.org", "hello"
    ok.set_content("hi")
    sender.send(ok)
    for to in ("promo0,promo1:victim@example.org, reader@example.org;", "a@example.org, b@example.org"):
        bad = EmailMessage()
        bad["From"], bad["Subject"] = "site@example.org", "hello"
        bad["To"] = to
        bad.set_content("hi")
        with pytest.raises(PermanentMailError, match="exactly one address"):
            sender.send(bad)
    smtp_server.wait_for("reader@example.org")
    assert [rcpts for _, rcpts in smtp_server.envelopes] == [["reader@example.org"]]


def test_the_next_digest_is_named_once_in_the_subscribers_time_zone():
    import datetime as dt

    from paperboy.digest.views import next_digest_label

    due = dt.datetime(2026, 12, 4, 6, 0, tzinfo=dt.UTC)
    assert next_digest_label(due, "UTC") == "Friday 4 December 2026, 06:00 UTC"
    assert next_digest_label(due, "Europe/Paris") == "Friday 4 December 2026, 07:00 (Europe/Paris; 06:00 UTC)"


def test_a_new_subscription_comes_in_the_time_zone_the_browser_gave(site, fresh_engine):
    _settings, _base, client = site
    page = client.get("/search")
    for email, zone in (("tokyo@example.org", "Asia/Tokyo"), ("nowhere@example.org", "Mars/Olympus_Mons"),
                        ("silent@example.org", "")):
        client.post("/subscribe", data={"email": email, "timezone": zone, "csrf_token": csrf(page.text)})
    with session_scope(fresh_engine) as db:
        zones = dict(db.execute(select(Subscription.email, Subscription.timezone)).all())
    # an unknown zone, or none (no script), gets the instance's default
    assert zones == {"tokyo@example.org": "Asia/Tokyo", "nowhere@example.org": "UTC", "silent@example.org": "UTC"}
    # asked again from another browser, a subscription keeps the zone it has
    client.post("/subscribe", data={"email": "tokyo@example.org", "timezone": "Europe/Paris", "csrf_token": csrf(page.text)})
    with session_scope(fresh_engine) as db:
        assert db.scalar(select(Subscription.timezone).where(Subscription.email == "tokyo@example.org")) == "Asia/Tokyo"


def test_a_member_who_unsubscribed_can_subscribe_again_with_their_settings_kept(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_papers(fresh_engine, 2)
    _member(client, fresh_engine, "back@example.org")
    start = client.get("/account/digest")
    settings_url = client.post("/account/digest", data={"csrf_token": csrf(start.text), "alert": "fair division"},
                               follow_redirects=False).headers["location"].split("?")[0]
    unsubscribe = re.search(r'<a href="([^"]+/subscriptions/unsubscribe/[^"]+)">Unsubscribe</a>',
                            client.get(settings_url).text).group(1)
    action = re.search(r'<form method="post" action="([^"]*/subscriptions/unsubscribe/[^"]+)"',
                       client.get(unsubscribe).text).group(1)
    assert client.post(action, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert status_of(fresh_engine, "back@example.org") == "unsubscribed"

    page = client.get(settings_url)
    assert "Unsubscribed:" in page.text and "Your settings and alerts are kept" in page.text
    assert ">Unsubscribe</a>" not in page.text and "Next digest:" not in page.text
    # An alert added meanwhile says it waits for the digest to be on.
    added = client.post("/account/digest/alerts", data={"csrf_token": csrf(page.text), "q": "graph networks"},
                        follow_redirects=True)
    assert "Alert added. It is sent once your digest is on." in added.text
    again = client.post(settings_url.replace("/settings", "/resume"), data={"csrf_token": csrf(page.text)},
                        follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].endswith("?resumed=1")
    assert status_of(fresh_engine, "back@example.org") == "active"
    after = client.get(again.headers["location"]).text
    assert "Your digest is on again; the next one is due " in after and "Unsubscribed:" not in after
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "back@example.org")).one()
        assert sub.alerts == ["fair division", "graph networks"] and sub.unsubscribed_at is None


def test_start_my_digest_turns_a_members_unsubscribed_digest_back_on(site, fresh_engine, smtp_server):
    settings, base, client = site
    _member(client, fresh_engine, "restart@example.org")
    start = client.get("/account/digest")
    client.post("/account/digest", data={"csrf_token": csrf(start.text)})
    with session_scope(fresh_engine) as db:
        db.scalars(select(Subscription)).one().status = "unsubscribed"
    r = client.post("/account/digest", data={"csrf_token": csrf(start.text)}, follow_redirects=False)
    assert r.headers["location"].endswith("?started=1")
    assert status_of(fresh_engine, "restart@example.org") == "active"


def test_an_unconfirmed_subscription_is_not_turned_on_from_its_settings_link(site, fresh_engine, smtp_server):
    from paperboy.digest.tokens import links

    settings, base, client = site
    seed_subscribers(fresh_engine, settings, ["never@example.org"])
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription)).one()
        sub.status, sub.confirmed_at, token = "unsubscribed", None, sub.token
    page = client.get(links(settings, token)["settings"].replace(settings.resolved_base_url, base))
    assert "a confirmation mail comes first" in page.text and "Subscribe again</button>" not in page.text
    r = client.post(links(settings, token)["settings"].replace(settings.resolved_base_url, base).replace("/settings", "/resume"),
                    data={"csrf_token": csrf(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and "resumed" not in r.headers["location"]
    assert status_of(fresh_engine, "never@example.org") == "unsubscribed"


def test_a_refused_settings_form_keeps_everything_typed_for_mending(site, fresh_engine, smtp_server):
    settings, base, client = site
    seed_subscribers(fresh_engine, settings, ["mend@example.org"])
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "mend@example.org")).one()
        settings_url = f"/subscriptions/{sign(settings, 'settings', sub.token)}/settings"
    page = client.get(settings_url)
    form = {"csrf_token": csrf(page.text), "frequency": "weekly", "weekday": "4", "send_hour": "18",
            "timezone": "Europe/Paris", "top_n": "5", "categories": "cs.lg foo.BAR",
            "alerts": "graph neural networks\nprotein <design>\n", "include_follows": "1", "skip_empty": "0"}
    bad = client.post(settings_url, data=form)
    assert bad.status_code == 400 and "not arXiv categories: foo.BAR" in bad.text
    text = bad.text
    assert 'value="weekly" checked' in text and '<option value="4" selected>Friday</option>' in text
    assert '<option value="18" selected>18:00</option>' in text and 'value="cs.lg foo.BAR"' in text
    assert "Europe/Paris" in re.search(r'name="timezone"[^>]*>', text).group(0) or \
        '<option value="Europe/Paris" selected>' in text
    assert "graph neural networks\nprotein &lt;design&gt;" in text  # escaped, as typed
    assert re.search(r'name="skip_empty" value="1"(?! checked)', text)  # unticked, as sent
    with session_scope(fresh_engine) as db:  # nothing stored
        sub = db.scalars(select(Subscription).where(Subscription.email == "mend@example.org")).one()
        assert (sub.frequency, sub.categories, sub.alerts) == ("daily", "", [])
