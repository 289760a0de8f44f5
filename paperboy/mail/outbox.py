"""Mail a request asks for is queued, never sent inside the request.

``MailOutbox.enqueue(db, message, kind, to=address)`` adds the message to ``mail_outbox``
in the caller's transaction (so a request that fails sends nothing) and wakes the deliverer
once that transaction commits. The deliverer is a daemon thread of the web process;
``paperboy worker`` drains the same table, so mail queued by a process that died is
still sent. Rows are claimed with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on
SQLite the claim's transaction holds the write lock), so several deliverers never send
one row at the same time. Transient failures are retried with exponential backoff;
permanent ones (5xx, a malformed recipient) and rows out of attempts end as ``failed``.

The recipient is the stored address the caller passes (``to``), never one read back
from the message's headers: a message whose To disagrees with it is refused when
queued, and checked again before it is sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage

from sqlalchemy import and_, event, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from paperboy.mail.addresses import AddressError, sole_recipient
from paperboy.mail.interfaces import MailSender, PermanentMailError, SendErrors, TransientMailError
from paperboy.mail.models import OutgoingMail
from paperboy.mail.render import MAIL_POLICY
from paperboy.store.claims import claim_rows
from paperboy.store.db import write_tx
from paperboy.store.models import utcnow

log = logging.getLogger(__name__)


@dataclass
class DeliveryCounts:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: SendErrors = field(default_factory=SendErrors)  # why sends failed


class MailOutbox:
    """Queue and deliver one service's mail through ``sender``."""

    def __init__(self, engine: Engine, sender: MailSender, *, lease_seconds: float = 300.0,
                 max_attempts: int = 8, retry_base_seconds: float = 30.0, poll_seconds: float = 30.0) -> None:
        self.engine = engine
        self.sender = sender
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.retry_base = retry_base_seconds
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stop = False

    # --- queueing ------------------------------------------------------------------

    def enqueue(self, db: Session, message: EmailMessage, kind: str, *, to: str) -> None:
        """Queue ``message`` for ``to`` (the address as stored) in ``db``'s transaction;
        it goes out once that commits. Raises AddressError if the message's one To
        address is not ``to``."""
        self.enqueue_in(db, message, kind, to=to)
        event.listen(db, "after_commit", self._committed, once=True)

    def enqueue_in(self, conn: Connection | Session, message: EmailMessage, kind: str, *, to: str) -> None:
        """``enqueue`` inside a transaction the caller commits itself (a Connection's):
        the caller calls ``wake()`` once it has committed."""
        _check_recipient(message, to)
        now = utcnow()
        conn.execute(insert(OutgoingMail).values(
            kind=kind, recipient=to, message=bytes(message), state="pending",
            attempts=0, next_attempt_at=now, created_at=now))

    def _committed(self, _session) -> None:
        self.wake()

    # --- the background deliverer ----------------------------------------------------

    def wake(self) -> None:
        """Have the deliverer thread look now, starting it if it is not running."""
        with self._start_lock:
            self._wake.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mail-outbox", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()

    def _run(self) -> None:
        """Deliver until nothing is left pending (retries included), then end: the next
        enqueue starts the thread again, and `paperboy worker` drains what is left."""
        while not self._stop:
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.deliver_due()
                idle = not self._pending()
            except Exception:  # noqa: BLE001 - the rows stay queued for the next wake or the worker
                log.exception("mail delivery pass failed")
                idle = True
            if idle:
                with self._start_lock:
                    if not self._wake.is_set():
                        self._thread = None
                        return
        with self._start_lock:
            self._thread = None

    def _pending(self) -> bool:
        with self.engine.connect() as conn:
            return conn.scalar(select(OutgoingMail.id).where(OutgoingMail.state == "pending").limit(1)) is not None

    # --- delivery ------------------------------------------------------------------

    def deliver_due(self, limit: int = 100) -> DeliveryCounts:
        """Send every due message (in batches of ``limit``); what happened to them."""
        counts = DeliveryCounts()
        while True:
            claimed = self._claim(limit)
            for row_id, lease in claimed:
                self._deliver_one(row_id, lease, counts)
            if len(claimed) < limit:
                return counts

    def _claim(self, limit: int) -> list[tuple[int, dt.datetime]]:
        now = utcnow()
        lease = now + self.lease
        t = OutgoingMail.__table__
        due = and_(t.c.state == "pending", t.c.next_attempt_at <= now,
                   or_(t.c.lease_until.is_(None), t.c.lease_until < now))
        with write_tx(self.engine) as conn:
            rows = claim_rows(conn, t, claimable=due, values={"lease_until": lease}, order_by=[t.c.id], limit=limit)
        return [(r.id, lease) for r in rows]

    def _deliver_one(self, row_id: int, lease: dt.datetime, counts: DeliveryCounts) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(select(OutgoingMail.message, OutgoingMail.attempts, OutgoingMail.recipient)
                               .where(OutgoingMail.id == row_id)).one()
        ours = and_(OutgoingMail.id == row_id, OutgoingMail.lease_until == lease)
        attempts = row.attempts + 1
        try:
            message = message_from_bytes(row.message, policy=MAIL_POLICY)
            # The sender's envelope comes from the one To address; it must still be the
            # stored one (a row written by hand or an older version is not trusted).
            _check_recipient(message, row.recipient)
            self.sender.send(message)
        except AddressError as exc:
            return self._finish(ours, counts, "failed", attempts, str(exc))
        except TransientMailError as exc:
            if attempts >= self.max_attempts:
                return self._finish(ours, counts, "failed", attempts, str(exc))
            delay = self.retry_base * 2 ** (attempts - 1)
            with write_tx(self.engine) as conn:
                conn.execute(update(OutgoingMail).where(ours).values(
                    attempts=attempts, lease_until=None, last_error=str(exc)[:2000],
                    next_attempt_at=utcnow() + dt.timedelta(seconds=delay)))
            counts.retried += 1
            counts.errors.note(str(exc))
            # Said where the operator looks (serve's terminal, the worker's log): a mail
            # server that cannot be reached was otherwise only a column in the database.
            log.warning("mail not sent (attempt %d, tried again in %.0f s): %s", attempts, delay, exc)
            return None
        except PermanentMailError as exc:
            return self._finish(ours, counts, "failed", attempts, str(exc))
        self._finish(ours, counts, "sent", attempts, None)
        return None

    def _finish(self, ours, counts: DeliveryCounts, state: str, attempts: int, error: str | None) -> None:
        now = utcnow()
        with write_tx(self.engine) as conn:
            conn.execute(update(OutgoingMail).where(ours).values(
                state=state, attempts=attempts, lease_until=None, last_error=error and error[:2000],
                sent_at=now if state == "sent" else None))
        if state == "sent":
            counts.sent += 1
        else:
            counts.failed += 1
            counts.errors.note(error or state)
            log.warning("mail %s for good: %s", state, error)


def _check_recipient(message: EmailMessage, to: str) -> None:
    named = sole_recipient(message)
    if named != to:
        raise AddressError(f"refusing to send: To names {named!r}, not the stored address {to!r}")
