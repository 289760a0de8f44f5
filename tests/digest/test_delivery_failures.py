"""Permanent failures and repeated bounces pause a subscription."""

from __future__ import annotations

from email import message_from_bytes, policy

from sqlalchemy import select

from paperboy.digest.models import OutboxEntry, Subscription
from paperboy.digest.outbox import deliver, enqueue_due
from paperboy.mail.senders import SMTPSender
from paperboy.store.db import session_scope
from tests.digest.conftest import PERIOD, make_settings, seed_papers, seed_subscribers
from tests.support.servers import free_port


class RejectingSMTP:
    """An aiosmtpd server answering 550 to some recipients (a hard bounce) and 250 to others."""

    def __init__(self, reject: set[str], code: str = "550 5.1.1 no such user") -> None:
        from aiosmtpd.controller import Controller

        self.messages = []
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address in reject:
                    return code
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


def test_hard_bounce_pauses_with_a_reason(fresh_engine, tmp_path):
    with RejectingSMTP({"gone@example.org"}) as server:
        settings = make_settings(tmp_path, smtp_url=server.url)
        seed_papers(fresh_engine, 2)
        seed_subscribers(fresh_engine, settings, ["gone@example.org", "ok@example.org"])
        enqueue_due(settings, fresh_engine, period=PERIOD)
        r = deliver(settings, fresh_engine, SMTPSender(server.url))
    assert (r.sent, r.failed) == (1, 1)
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "gone@example.org")).one()
        assert sub.status == "paused" and "550" in sub.paused_reason
        # Paused: the next period is not even queued.
    assert enqueue_due(settings, fresh_engine, period="2025-01-16").due == 1


def test_repeated_transient_failures_count_as_bounces(fresh_engine, tmp_path):
    with RejectingSMTP({"full@example.org"}, code="452 4.2.2 mailbox full") as server:
        settings = make_settings(tmp_path, smtp_url=server.url, digest_max_attempts=2, digest_bounce_limit=2)
        seed_papers(fresh_engine, 2)
        seed_subscribers(fresh_engine, settings, ["full@example.org"])
        for period in (PERIOD, "2025-01-16"):
            enqueue_due(settings, fresh_engine, period=period)
            deliver(settings, fresh_engine, SMTPSender(server.url), wait=10)
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "full@example.org")).one()
        states = db.scalars(select(OutboxEntry.state).order_by(OutboxEntry.id)).all()
        assert states == ["failed", "failed"]
        assert sub.status == "paused" and "2 digests in a row" in sub.paused_reason
