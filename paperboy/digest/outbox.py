"""The outbox: every digest is recorded before it is sent, and sent by one worker.

Life of an ``digest_outbox`` row, keyed by (subscription, period):

    queued ──claim──> claimed ──(commit)──> sending ──SMTP 250──> sent
       ^                 │                     │
       └── transient ────┴─────────────────────┘   (retry later, same Message-ID)
                      permanent / too many attempts ──> failed (subscription paused)
    (empty digest with skip_empty, or subscription gone) ──> skipped

* ``enqueue_due`` writes the rows of every due (subscription, period) with the papers
  chosen once; the unique key makes concurrent or repeated passes harmless.
* ``deliver`` claims a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one
  writer at a time), renders it, and for each message commits ``sending`` (with a
  lease) *before* handing it to SMTP, and ``sent`` right after the 250 reply — the
  ``sent`` mark travels in the same commit as the next message's ``sending`` mark.
* A worker that dies leaves ``claimed``/``sending`` rows whose lease runs out; the
  next worker takes them over. ``claimed`` rows were never handed to SMTP; a
  ``sending`` row may or may not have been accepted, so it is sent again with the
  SAME Message-ID and counted in ``uncertain``. That is the one at-least-once window:
  between the server's 250 and our commit, at most one message per dead worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import bindparam, case, func, or_, select, text, update
from sqlalchemy.engine import Connection, Engine

from paperboy.config import Settings
from paperboy.digest.compose import BatchRenderer, Composer, PaperCache, SubView, message_id
from paperboy.digest.models import OutboxEntry, Subscription
from paperboy.digest.schedule import DigestPeriod, latest_due, parse_digest_period, stored_period
from paperboy.mail.interfaces import MailSender, PermanentMailError, SendErrors, TransientMailError
from paperboy.mail.senders import open_session
from paperboy.store.claims import claim_rows, insert_ignore, worker_name
from paperboy.store.db import write_tx
from paperboy.store.models import UTCDateTime, utcnow

OB = OutboxEntry.__table__
S = Subscription.__table__
SUB_COLUMNS = (S.c.id, S.c.email, S.c.token, S.c.user_id, S.c.frequency, S.c.top_n, S.c.categories,
               S.c.include_follows, S.c.alerts, S.c.skip_empty)

log = logging.getLogger(__name__)


# --- enqueue -------------------------------------------------------------------------


def _not_composed(report: EnqueueReport, key: str, subscription_id: int) -> None:
    """Said from an ``except``: one subscriber's digest that could not be composed is
    logged with its traceback and left without a row, so the next pass tries again."""
    log.exception("composing the %s digest of subscription %s failed; the next pass tries again",
                  key, subscription_id)
    report.not_composed += 1


@dataclass
class Planned:
    subscription_id: int
    email: str
    period: str
    sections: list[dict]
    state: str  # queued | skipped
    days: tuple[str, str] = ("", "")  # the first and last announce day it covers

    @property
    def papers(self) -> int:
        return sum(len(s["ids"]) for s in self.sections)


@dataclass
class EnqueueReport:
    due: int = 0
    queued: int = 0
    skipped_empty: int = 0
    already: int = 0
    not_composed: int = 0  # failed to compose (logged); no row, so the next pass tries again
    planned: list[Planned] = field(default_factory=list)


def due_subscriptions(conn: Connection, now: dt.datetime, period: str | None = None):
    """(row, DigestPeriod) for each active subscription with a digest due at ``now``.

    With ``period`` (2025-01-15 or 2025-W03) every active subscription of that
    frequency is due for that period, whatever its hour: a manual run.
    """
    forced: DigestPeriod | None = parse_digest_period(period) if period else None
    cols = (*SUB_COLUMNS, S.c.send_hour, S.c.timezone, S.c.weekday, S.c.confirmed_at)
    stmt = select(*cols).where(S.c.status == "active").order_by(S.c.id)
    if forced is not None:
        stmt = stmt.where(S.c.frequency == forced.frequency)
    for row in conn.execute(stmt):
        if forced is not None:
            yield row, forced
            continue
        per, due_at = latest_due(row.frequency, row.send_hour, row.timezone, row.weekday, now)
        if row.confirmed_at is not None and due_at < row.confirmed_at:
            continue  # confirmed after this period's send time: starts with the next one
        yield row, per


def enqueue_due(
    settings: Settings,
    engine: Engine,
    *,
    now: dt.datetime | None = None,
    period: str | None = None,
    search=None,
    dry_run: bool = False,
    chunk: int = 1000,
) -> EnqueueReport:
    """Record an outbox row for every due (subscription, period) that has none yet."""
    now = now or utcnow()
    report = EnqueueReport()
    with engine.connect() as conn:
        due = list(due_subscriptions(conn, now, period))
        report.due = len(due)
        existing: set[tuple[int, str]] = set()
        keys = sorted({p.key for _, p in due})
        for start in range(0, len(keys), 100):
            part = keys[start : start + 100]
            rows = conn.execute(select(OB.c.subscription_id, OB.c.period).where(OB.c.period.in_(part)))
            existing.update((r[0], r[1]) for r in rows)
        composer = Composer(conn, settings, search)
        todo = [(row, p) for row, p in due if (row.id, p.key) not in existing]
        report.already = len(due) - len(todo)
        planned: list[Planned] = []
        subs: list[tuple[SubView, DigestPeriod]] = []
        for row, p in todo:
            try:
                subs.append((SubView.of(row), p))
            except Exception:  # noqa: BLE001 - a row written by hand (alerts that are no list)
                _not_composed(report, p.key, row.id)
        composer.prepare([sub for sub, _ in subs], {p.key for _, p in todo})
        for sub, p in subs:
            try:
                sections = composer.sections(sub, p)
            except Exception:  # noqa: BLE001 - one subscriber's digest never stops the others'
                _not_composed(report, p.key, sub.id)
                conn.rollback()  # a failed statement (PostgreSQL) must not fail the reads after it
                continue
            empty = not sections
            state = "skipped" if empty and sub.skip_empty else "queued"
            planned.append(Planned(sub.id, sub.email, p.key, sections, state,
                                   (p.first_day.isoformat(), p.last_day.isoformat())))
        conn.rollback()
    report.planned = planned
    if dry_run:
        report.queued = sum(1 for p in planned if p.state == "queued")
        report.skipped_empty = len(planned) - report.queued
        return report
    for start in range(0, len(planned), chunk):
        rows = [
            {
                "subscription_id": p.subscription_id,
                "period": p.period,
                "message_id": message_id(settings, p.subscription_id, p.period),
                # The days as composed: a weekly key names its ISO week, not the send day.
                "content": {"sections": p.sections, "days": list(p.days)},
                "state": p.state,
                "attempts": 0,
                "uncertain": 0,
                "next_attempt_at": now,
                "created_at": now,
                "last_error": "nothing to send (skip empty digests is on)" if p.state == "skipped" else None,
            }
            for p in planned[start : start + chunk]
        ]
        with write_tx(engine) as conn:
            insert_ignore(conn, OB, rows)
    report.queued = sum(1 for p in planned if p.state == "queued")
    report.skipped_empty = len(planned) - report.queued
    return report


# --- deliver -------------------------------------------------------------------------


@dataclass
class DeliverReport:
    sent: int = 0
    retried: int = 0  # transient failures put back in the queue
    failed: int = 0  # given up (permanent, or out of attempts)
    cancelled: int = 0  # subscription no longer active when its turn came
    taken_over: int = 0  # rows whose lease had run out (a worker died or stalled)
    uncertain: int = 0  # of those, rows that were "sending": resent with the same Message-ID
    lease_lost: int = 0  # our own lease ran out under us (possible duplicate; should be 0)
    paused: list[str] = field(default_factory=list)
    errors: SendErrors = field(default_factory=SendErrors)  # why sends failed: the error, how many digests

    def merge(self, other: DeliverReport) -> None:
        for name in ("sent", "retried", "failed", "cancelled", "taken_over", "uncertain", "lease_lost"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused += other.paused
        self.errors.update(other.errors)


def _claimable(now: dt.datetime):
    return or_(
        (OB.c.state == "queued") & (OB.c.next_attempt_at <= now),
        OB.c.state.in_(("claimed", "sending")) & (OB.c.lease_until < now),
    )


def claim(conn: Connection, worker: str, now: dt.datetime, lease: float, limit: int):
    """Take up to ``limit`` rows for ``worker`` in one statement; returns them."""
    return claim_rows(
        conn, OB, claimable=_claimable(now), order_by=[OB.c.id], limit=limit,
        values={
            "state": "claimed",
            "lease_owner": worker,
            "lease_until": now + dt.timedelta(seconds=lease),
            "uncertain": OB.c.uncertain + case((OB.c.state == "sending", 1), else_=0),
        },
        returning=[OB.c.subscription_id, OB.c.period, OB.c.message_id, OB.c.content,
                   OB.c.attempts, OB.c.lease_until, OB.c.next_attempt_at],
    )


# The two statements run for every message: plain SQL, no construction per call.
_TO_SENDING = text(
    "UPDATE digest_outbox SET state = 'sending', attempts = attempts + 1, lease_until = :until "
    "WHERE id = :id AND lease_owner = :w AND state = 'claimed' AND EXISTS "
    "(SELECT 1 FROM subscriptions WHERE subscriptions.id = digest_outbox.subscription_id "
    "AND subscriptions.status = 'active')"
).bindparams(bindparam("until", type_=UTCDateTime()))
_TO_SENT = text(
    "UPDATE digest_outbox SET state = 'sent', sent_at = :now, lease_owner = NULL, lease_until = NULL, "
    "last_error = NULL WHERE id = :id AND lease_owner = :w AND state = 'sending'"
).bindparams(bindparam("now", type_=UTCDateTime()))


def _backoff(settings: Settings, attempts: int) -> float:
    return min(settings.digest_retry_base_seconds * (2 ** max(attempts - 1, 0)), settings.digest_retry_max_seconds)


class Deliverer:
    """One worker's delivery loop. ``clock`` is injectable for tests of the schedule only."""

    def __init__(self, settings: Settings, engine: Engine, sender: MailSender, *, worker: str | None = None,
                 clock: Callable[[], dt.datetime] = utcnow, on_sent: Callable[[int], None] | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.worker = worker or worker_name()
        self.clock = clock
        self.on_sent = on_sent
        self.papers: PaperCache | None = None
        self.renderer = BatchRenderer(settings)

    # One transaction: mark the previous message sent, then this one sending.
    def _advance(self, prev: tuple[int, int | None] | None, row, report: DeliverReport) -> bool:
        now = self.clock()
        lease = dt.timedelta(seconds=self.settings.digest_lease_seconds)
        with write_tx(self.engine) as conn:
            if prev is not None:
                self._mark_sent(conn, prev[0], now, report)
                if prev[1] is not None:  # delivered again: the bounce streak is over
                    conn.execute(update(S).where(S.c.id == prev[1]).values(bounces=0))
            if row is None:
                return False
            n = conn.execute(_TO_SENDING, {"id": row.id, "w": self.worker, "until": now + lease}).rowcount
            if n == 1:
                return True
            # Either another worker took the row over, or the subscription stopped.
            n = conn.execute(
                update(OB)
                .where(OB.c.id == row.id, OB.c.lease_owner == self.worker, OB.c.state == "claimed")
                .values(state="skipped", lease_owner=None, lease_until=None,
                        last_error="subscription no longer active when its turn came")
            ).rowcount
            if n:
                report.cancelled += 1
            else:
                report.lease_lost += 1
            return False

    def _mark_sent(self, conn: Connection, row_id: int, now: dt.datetime, report: DeliverReport) -> None:
        n = conn.execute(_TO_SENT, {"id": row_id, "w": self.worker, "now": now}).rowcount
        if n:
            report.sent += 1
        else:
            report.lease_lost += 1
        if self.on_sent:
            self.on_sent(row_id)

    def _failed(self, row, exc: Exception, report: DeliverReport, sub_email: str) -> None:
        now = self.clock()
        report.errors.note(str(exc) or type(exc).__name__)
        attempts = row.attempts + 1
        permanent = isinstance(exc, PermanentMailError)
        give_up = permanent or attempts >= self.settings.digest_max_attempts
        with write_tx(self.engine) as conn:
            if not give_up:
                conn.execute(
                    update(OB)
                    .where(OB.c.id == row.id, OB.c.lease_owner == self.worker)
                    .values(state="queued", lease_owner=None, lease_until=None, last_error=str(exc)[:2000],
                            next_attempt_at=now + dt.timedelta(seconds=_backoff(self.settings, attempts)))
                )
                report.retried += 1
                return
            conn.execute(
                update(OB)
                .where(OB.c.id == row.id, OB.c.lease_owner == self.worker)
                .values(state="failed", lease_owner=None, lease_until=None, last_error=str(exc)[:2000])
            )
            report.failed += 1
            bounces = conn.scalar(
                update(S).where(S.c.id == row.subscription_id).values(bounces=S.c.bounces + 1).returning(S.c.bounces)
            )
            if permanent or (bounces or 0) >= self.settings.digest_bounce_limit:
                why = (
                    f"the mail server refused the digest for {row.period} permanently: {exc}"
                    if permanent
                    else f"{bounces} digests in a row could not be delivered (last: {exc})"
                )
                conn.execute(
                    update(S).where(S.c.id == row.subscription_id, S.c.status == "active")
                    .values(status="paused", paused_reason=why[:2000], updated_at=now)
                )
                report.paused.append(sub_email)

    def run_batch(self, limit: int | None = None) -> tuple[int, DeliverReport]:
        """Claim, render and send one batch. Returns (rows claimed, report)."""
        report = DeliverReport()
        now = self.clock()
        with self.engine.connect() as conn:
            # Rows whose worker died, read first only to report them (the claim is atomic).
            # Its own transaction: on SQLite a read before a write may not upgrade.
            expired = dict(conn.execute(
                select(OB.c.id, OB.c.state).where(OB.c.state.in_(("claimed", "sending")), OB.c.lease_until < now)
            ).all())
            conn.rollback()
        with write_tx(self.engine) as conn:
            rows = claim(conn, self.worker, now, self.settings.digest_lease_seconds,
                         limit or self.settings.digest_batch_size)
        if not rows:
            return 0, report
        report.taken_over = sum(1 for r in rows if r.id in expired)
        report.uncertain = sum(1 for r in rows if expired.get(r.id) == "sending")
        with self.engine.connect() as conn:
            subs = {
                r.id: r
                for r in conn.execute(
                    select(*SUB_COLUMNS, S.c.bounces).where(S.c.id.in_({r.subscription_id for r in rows}))
                )
            }
            if self.papers is None:
                self.papers = PaperCache(conn, self.settings)
            self.papers.conn = conn
            self.papers.load(i for r in rows for s in (r.content or {}).get("sections", []) for i in s["ids"])
            conn.rollback()
        messages = []
        for r in rows:
            sub = subs.get(r.subscription_id)
            if sub is None:
                continue
            to, data = self.renderer.render(SubView.of(sub), stored_period(r.period, r.content), r.content or {},
                                            self.papers, r.message_id)
            messages.append((r, sub, (to, data)))
        prev: tuple[int, int | None] | None = None  # (row id, subscription whose bounces to reset)
        with open_session(self.sender) as session:
            for r, sub, msg in messages:
                if not self._advance(prev, r, report):
                    prev = None
                    continue
                prev = None
                try:
                    session.send_raw(self.renderer.envelope_from, [msg[0]], msg[1])
                except (TransientMailError, PermanentMailError) as exc:
                    self._failed(r, exc, report, sub.email)
                    continue
                except Exception as exc:  # a bug or a poison message: count it, never loop on it
                    self._failed(r, TransientMailError(f"{type(exc).__name__}: {exc}"), report, sub.email)
                    continue
                prev = (r.id, sub.id if sub.bounces else None)
        if prev is not None:
            self._advance(prev, None, report)
        return len(rows), report

    def next_wakeup(self) -> dt.datetime | None:
        """When the earliest row that is not done becomes claimable."""
        with self.engine.connect() as conn:
            a = conn.scalar(select(func.min(OB.c.next_attempt_at)).where(OB.c.state == "queued"))
            b = conn.scalar(select(func.min(OB.c.lease_until)).where(OB.c.state.in_(("claimed", "sending"))))
        times = [t for t in (a, b) if t is not None]
        return min(times) if times else None

    def run(self, *, wait: float = 0.0, should_stop: Callable[[], bool] = lambda: False) -> DeliverReport:
        """Deliver until nothing is claimable; with ``wait`` > 0, also wait for retries and
        expired leases due within that many seconds."""
        total = DeliverReport()
        deadline = time.monotonic() + wait
        while not should_stop():
            claimed, report = self.run_batch()
            total.merge(report)
            if claimed:
                continue
            wake = self.next_wakeup()
            if wake is None:
                break
            delay = (wake - self.clock()).total_seconds()
            if time.monotonic() + max(delay, 0) > deadline:
                break
            time.sleep(min(max(delay, 0.01), 1.0))
        return total


def deliver(settings: Settings, engine: Engine, sender: MailSender, *, wait: float = 0.0, worker: str | None = None,
            should_stop: Callable[[], bool] = lambda: False) -> DeliverReport:
    return Deliverer(settings, engine, sender, worker=worker).run(wait=wait, should_stop=should_stop)


def outbox_errors(engine: Engine, period: str | None = None, limit: int = 5) -> list[tuple[str, int]]:
    """Why digests wait or failed: each distinct last error of queued (tried before) and
    failed rows, with how many rows it stopped, the commonest first."""
    stmt = (select(OB.c.last_error, func.count()).where(OB.c.last_error.is_not(None), OB.c.state.in_(("queued", "failed")))
            .group_by(OB.c.last_error).order_by(func.count().desc()).limit(limit))
    if period:
        stmt = stmt.where(OB.c.period == period)
    with engine.connect() as conn:
        return [(e, n) for e, n in conn.execute(stmt).all()]


def outbox_counts(engine: Engine, period: str | None = None) -> dict[str, int]:
    stmt = select(OB.c.state, func.count()).group_by(OB.c.state)
    if period:
        stmt = stmt.where(OB.c.period == period)
    with engine.connect() as conn:
        return dict(conn.execute(stmt).all())
