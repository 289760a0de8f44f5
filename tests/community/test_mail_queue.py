"""Mail a request asks for is queued in the database and sent in the background: no
request waits for the mail server, registered and unknown addresses answer alike, and
queued mail survives the process that queued it."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from paperboy.mail.models import OutgoingMail
from paperboy.mail.outbox import MailOutbox
from paperboy.mail.senders import SMTPSender
from paperboy.site import create_app
from paperboy.store.db import session_scope
from tests.community.conftest import Site, make_settings
from tests.community.test_concurrency import _anonymous
from tests.support.servers import SMTPSink, serve_app_in_thread

SLOW = 3.0  # seconds the mail server takes to accept a message


@pytest.fixture
def slow_smtp():
    sink = SMTPSink(delay=SLOW).start()
    yield sink
    sink.stop()


@pytest.fixture
def slow_mail_site(fresh_engine, tmp_path, slow_smtp):
    settings = make_settings(tmp_path, mail_backend="smtp", smtp_url=slow_smtp.url)
    site = Site(create_app(settings, fresh_engine), fresh_engine)
    with serve_app_in_thread(site.app) as base:
        yield site, base


def _timed(fn):
    started = time.monotonic()
    r = fn()
    return r, time.monotonic() - started


def test_account_mail_never_makes_a_request_wait_for_the_mail_server(slow_mail_site, slow_smtp):
    site, base = slow_mail_site
    user = site.user()
    answers = {}
    for label, email in (("registered", user.email), ("unknown", "nobody@example.org")):
        for path in ("/reset", "/signin/magic"):
            guest = _anonymous(base)
            answers[(label, path)] = _timed(lambda g=guest, p=path, e=email: g.post(p, {"email": e}))
    for key, (r, seconds) in answers.items():
        assert r.status_code == 200 and "Check your inbox" in r.text, key
        assert seconds < SLOW / 2, key  # the mail server was never waited for
    got = slow_smtp.wait_for(user.email, count=2, timeout=4 * SLOW + 5)
    assert {m["Subject"] for m in got} and slow_smtp.to("nobody@example.org") == []


def test_a_slow_mail_server_does_not_stall_other_requests(slow_mail_site, slow_smtp):
    site, base = slow_mail_site
    guests = [_anonymous(base) for _ in range(4)]
    # The front page once before: its first answer in a new process also compiles its
    # templates and queries (up to a second on a busy machine), which is not the stall
    # this test looks for.
    assert httpx.get(base + "/", timeout=30).status_code == 200
    with ThreadPoolExecutor(5) as pool:
        subscribes = [pool.submit(_timed, lambda g=g, i=i: g.post("/subscribe", {"email": f"reader{i}@example.org"}))
                      for i, g in enumerate(guests)]
        time.sleep(0.1)
        page, page_seconds = _timed(lambda: httpx.get(base + "/", timeout=30))
        answered = [f.result() for f in subscribes]
    assert page.status_code == 200 and page_seconds < SLOW / 2
    assert all(r.status_code == 200 and seconds < SLOW / 2 for r, seconds in answered)
    for i in range(4):
        slow_smtp.wait_for(f"reader{i}@example.org", timeout=6 * SLOW + 5)


def test_queued_mail_outlives_the_process_and_is_sent_once(fresh_engine, tmp_path):
    from tests.support.servers import SMTPSink

    sink = SMTPSink().start()
    try:
        settings = make_settings(tmp_path, mail_backend="smtp", smtp_url=sink.url)
        app = create_app(settings, fresh_engine)
        site = Site(app, fresh_engine)
        user = site.user()
        # Queued and committed, but the process "dies" before its deliverer runs.
        from paperboy.community import accounts

        dead = MailOutbox(fresh_engine, SMTPSender(sink.url))
        dead.stop()  # its deliverer never gets to send
        app.state.outbox = dead
        with session_scope(fresh_engine) as db:
            accounts.send_account_mail(app, db, "reset", user.email, {"link": "http://x/reset/abc"})
        # A worker (another process) drains the table: once, however often it runs.
        worker = MailOutbox(fresh_engine, SMTPSender(sink.url))
        assert worker.deliver_due().sent == 1
        assert worker.deliver_due().sent == 0
        sink.wait_for(user.email)
        time.sleep(0.3)
        assert len(sink.to(user.email)) == 1
        with fresh_engine.connect() as conn:
            assert conn.execute(select(OutgoingMail.state, OutgoingMail.attempts)).all() == [("sent", 1)]
    finally:
        sink.stop()


def _message(to: str):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "paperboy@example.org", to, "hello"
    msg.set_content("queued")
    return msg


def _queue_one(engine, outbox: MailOutbox, to: str) -> None:
    with session_scope(engine) as db:
        outbox.enqueue(db, _message(to), "test", to=to)


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(OutgoingMail.state, OutgoingMail.attempts)).all()


def test_a_transient_refusal_is_retried_later_and_then_sent_once(fresh_engine, caplog):
    sink = SMTPSink(refuse_rate=1.0).start()  # every DATA answered 451 for now
    try:
        outbox = MailOutbox(fresh_engine, SMTPSender(sink.url), retry_base_seconds=3600)
        outbox.stop()  # only the explicit passes below deliver
        _queue_one(fresh_engine, outbox, "reader@example.org")
        with caplog.at_level("WARNING", logger="paperboy.mail.outbox"):
            counts = outbox.deliver_due()
        assert counts.retried == 1 and len(counts.errors) == 1
        # Said in the log (serve's terminal), with the server's reason, not only stored.
        assert "mail not sent (attempt 1, tried again in 3600 s)" in caplog.text and "451" in caplog.text
        assert _rows(fresh_engine) == [("pending", 1)]
        sink.refuse_rate = 0.0
        assert outbox.deliver_due().sent == 0  # backing off: not due for an hour
        with session_scope(fresh_engine) as db:  # the hour has passed
            db.execute(OutgoingMail.__table__.update().values(next_attempt_at=OutgoingMail.created_at))
        assert outbox.deliver_due().sent == 1
        assert _rows(fresh_engine) == [("sent", 2)]
        assert len(sink.wait_for("reader@example.org")) == 1
    finally:
        sink.stop()


def test_a_leased_row_is_not_sent_twice_and_a_dead_deliverers_lease_runs_out(fresh_engine):
    sink = SMTPSink().start()
    try:
        dead = MailOutbox(fresh_engine, SMTPSender(sink.url), lease_seconds=3600)
        dead.stop()
        _queue_one(fresh_engine, dead, "reader@example.org")
        assert len(dead._claim(10)) == 1  # claimed, then the process is killed mid-send
        other = MailOutbox(fresh_engine, SMTPSender(sink.url))
        other.stop()
        assert other.deliver_due().sent == 0  # the lease still holds: never sent twice at once
        with session_scope(fresh_engine) as db:  # the hour-long lease has run out
            db.execute(OutgoingMail.__table__.update().values(lease_until=OutgoingMail.created_at))
        assert other.deliver_due().sent == 1  # nothing the dead deliverer claimed is lost
        assert other.deliver_due().sent == 0
        assert _rows(fresh_engine) == [("sent", 1)]
        assert len(sink.wait_for("reader@example.org")) == 1
    finally:
        sink.stop()


def test_mail_goes_only_to_the_stored_address_it_was_queued_for(fresh_engine):
    from paperboy.mail.addresses import AddressError

    sink = SMTPSink().start()
    try:
        outbox = MailOutbox(fresh_engine, SMTPSender(sink.url))
        outbox.stop()
        with session_scope(fresh_engine) as db, pytest.raises(AddressError, match="not the stored address"):
            outbox.enqueue(db, _message("reader@example.org"), "test", to="other@example.org")
        assert _rows(fresh_engine) == []
        # A queued message whose To no longer names the stored address is never sent.
        _queue_one(fresh_engine, outbox, "reader@example.org")
        with session_scope(fresh_engine) as db:
            db.execute(OutgoingMail.__table__.update().values(message=bytes(_message("victim@example.org"))))
        assert outbox.deliver_due().failed == 1
        assert _rows(fresh_engine) == [("failed", 1)]
        assert sink.messages == []
    finally:
        sink.stop()
