"""The worker loop: schedule every job's current slot, claim due ones, run them.

Each job runs once per *slot* (its interval, aligned to the epoch in UTC). A worker
writes the current slot of every job into the ``jobs`` table (unique on name and
slot, so several workers writing it is harmless), then claims due rows one at a time
with a lease (``paperboy.store.claims``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL;
SQLite serialises writers). So N workers on PostgreSQL never run the same slot twice;
a worker that dies while running a job leaves a lease that runs out, and the slot is
run again by another (every job is idempotent: the ingest upsert, the index refresh,
the digest outbox).

A running worker renews the lease of what it runs (``store.claims.Heartbeat``), so
leases are short (``PAPERBOY_WORKER_LEASE_SECONDS``) and a killed worker's job or
embedding batch is taken over within about one lease. Between jobs a worker claims
embedding batches (``index.batches``), newest papers first; due jobs go before the
next batch. After the due jobs it also fetches the papers members imported or seeded
that the instance lacked (``worker.wanted``), one arXiv request at a time, and between
rounds as soon as any is queued (``_nap``).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, update
from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.index.batches import EmbedRunner, count_missing, worker_runner
from paperboy.ingest import wanted as ingest_wanted
from paperboy.mail.interfaces import MailSender
from paperboy.store.claims import Heartbeat, claim_rows, insert_ignore, worker_name
from paperboy.store.db import write_tx
from paperboy.store.models import utcnow
from paperboy.worker import wanted
from paperboy.worker.models import Job

log = logging.getLogger("paperboy.worker")
J = Job.__table__
ORDER = ("ingest", "index", "digest")
WANTED_CHECK_SECONDS = 2.0  # between a worker's rounds, how often it looks for papers members just asked for


@dataclass
class JobSpec:
    name: str
    interval_seconds: int
    run: Callable[[Worker], str]


def slot_of(now: dt.datetime, interval: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % interval, dt.UTC)


class Worker:
    def __init__(self, settings: Settings, engine: Engine, sender: MailSender, jobs: list[JobSpec],
                 name: str | None = None, *, embed: bool = False) -> None:
        """``embed``: also claim and run embedding batches between jobs."""
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.jobs = {j.name: j for j in jobs}
        self.name = name or worker_name()
        self.stop = threading.Event()
        self.heartbeat = Heartbeat(engine, self.name, settings.worker_lease_seconds)
        self.embedding: EmbedRunner | None = (
            worker_runner(settings, engine, owner=self.name, heartbeat=self.heartbeat) if embed else None)

    def schedule(self, now: dt.datetime | None = None) -> None:
        """Write the current slot of every job (idempotent)."""
        now = now or utcnow()
        rows = []
        for spec in self.jobs.values():
            start = slot_of(now, spec.interval_seconds)
            rows.append({"name": spec.name, "slot": start.strftime("%Y-%m-%dT%H:%M"), "state": "due",
                         "due_at": start, "attempts": 0})
        with write_tx(self.engine) as conn:
            insert_ignore(conn, J, rows)

    def claim(self, now: dt.datetime | None = None):
        now = now or utcnow()
        claimable = ((J.c.state == "due") & (J.c.due_at <= now)) | ((J.c.state == "running") & (J.c.lease_until < now))
        priority = case(*[(J.c.name == n, i) for i, n in enumerate(ORDER)], else_=len(ORDER))
        with write_tx(self.engine) as conn:
            rows = claim_rows(
                conn, J, claimable=claimable & J.c.name.in_(list(self.jobs)),
                order_by=[J.c.due_at, priority, J.c.id],
                values={"state": "running", "lease_owner": self.name, "attempts": J.c.attempts + 1,
                        "started_at": now,
                        "lease_until": self.heartbeat.lease_until(now)},
                returning=[J.c.name, J.c.slot],
            )
        return rows[0] if rows else None

    def run_one(self) -> tuple[str, str] | None:
        """Claim and run one due job; (name, result) or None when nothing is due."""
        job = self.claim()
        if job is None:
            return None
        spec = self.jobs[job.name]
        with self.heartbeat.holding(J, [job.id]):
            try:
                result, state = spec.run(self), "done"
            except Exception as exc:  # a failed job is recorded and retried in its next slot
                log.exception("job %s (%s) failed", job.name, job.slot)
                result, state = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}", "failed"
        with write_tx(self.engine) as conn:
            conn.execute(
                update(J).where(J.c.id == job.id, J.c.lease_owner == self.name)
                .values(state=state, finished_at=utcnow(), lease_owner=None, lease_until=None, result=result[:4000])
            )
        log.debug("job %s (%s): %s %s", job.name, job.slot, state, result.splitlines()[0] if result else "")
        return job.name, result

    def run_due(self) -> list[tuple[str, str]]:
        done = []
        while not self.stop.is_set():
            got = self.run_one()
            if got is None:
                break
            done.append(got)
        return done

    def fetch_wanted(self, echo: bool = False) -> int:
        """Fetch and save the papers members asked for that this instance lacked, a batch
        (one arXiv request) at a time, arXiv's delay apart; batches served."""
        if not self.settings.fetch_wanted:
            return 0
        served = 0
        while not self.stop.is_set():
            try:
                got = wanted.serve_batch(self.settings, self.heartbeat)
            except Exception:  # the rows' leases run out and they are tried again
                log.exception("fetching wanted papers failed")
                return served
            if got is None:
                return served
            served += 1
            if echo:
                print(f"{utcnow():%Y-%m-%d %H:%M:%S} wanted papers: {got}", flush=True)
            if got.stalled:  # arXiv is not answering: the rest wait for their retry, not this loop
                return served
            self.stop.wait(self.settings.arxiv_delay)  # the next batch is another request to arXiv
        return served

    def _nap(self, seconds: float, echo: bool = False) -> None:
        """Wait ``seconds`` for the next round, or until stopped; papers a member has just
        imported or seeded are fetched meanwhile, within WANTED_CHECK_SECONDS, so they
        arrive while the member is still on the page (one indexed read each check)."""
        deadline = time.monotonic() + seconds
        while not self.stop.wait(max(min(WANTED_CHECK_SECONDS, deadline - time.monotonic()), 0)):
            if time.monotonic() >= deadline:
                return
            try:
                due = self.settings.fetch_wanted and ingest_wanted.any_due(self.engine)
            except Exception:  # the database away for a moment: the next round finds them
                log.debug("checking for wanted papers failed", exc_info=True)
                continue
            if due:
                self.fetch_wanted(echo)

    def embed_one(self) -> int | None:
        """Run one embedding batch: papers embedded, or None when none was free (or this
        worker does not embed). A failed batch is logged and given back."""
        if self.embedding is None:
            return None
        try:
            return self.embedding.run_one()
        except Exception:
            log.exception("embedding failed")
            return None

    def _embed_line(self, embedded: int, seconds: float) -> str:
        """The console's line for an embedding run: how many, how fast, and what is left
        for every worker together (a backlog of days reads as hours, not as a stream of
        "embed: 256 papers")."""
        rate = embedded / seconds if seconds > 0 else 0.0
        line = f"{utcnow():%Y-%m-%d %H:%M:%S} embed: {embedded:,} papers in {seconds:.0f} s ({rate:.1f}/s)"
        try:
            left = count_missing(self.engine, self.embedding.model)
        except Exception:  # noqa: BLE001 - a progress line is not worth failing the loop
            return line
        if not left:
            return line + "; none left"
        eta = f", about {_duration(left / rate)} at this rate" if rate > 0 else ""
        return line + f"; {left:,} left{eta}"

    def run(self, once: bool = False, echo: bool = True) -> None:
        """Loop over the schedule until stopped. ``echo`` prints a line per job run (the
        `paperboy worker` console); inside `paperboy serve` only failures are logged."""
        if not once and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        if echo:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        try:
            while not self.stop.is_set():
                self.schedule()
                self._run_due(echo)
                self.fetch_wanted(echo)
                embedded, scheduled = 0, time.monotonic()
                while not self.stop.is_set() and (n := self.embed_one()) is not None:
                    embedded += n
                    if time.monotonic() - scheduled >= self.settings.worker_poll_seconds:
                        # due jobs (ingest, digests) are not held up by a long embedding run
                        if echo and embedded:
                            print(self._embed_line(embedded, time.monotonic() - scheduled), flush=True)
                        embedded, scheduled = 0, time.monotonic()
                        self.schedule()
                        self._run_due(echo)
                if echo and embedded:
                    print(self._embed_line(embedded, time.monotonic() - scheduled), flush=True)
                if once:
                    break
                self._nap(self.settings.worker_poll_seconds, echo)
        finally:
            self.heartbeat.stop()
            if self.embedding is not None:
                self.embedding.close()

    def _run_due(self, echo: bool) -> None:
        for name, result in self.run_due():
            if echo:
                print(f"{utcnow():%Y-%m-%d %H:%M:%S} {name}: {result.splitlines()[0] if result else ''}", flush=True)


def _duration(seconds: float) -> str:
    """3 min, 2.5 h, 3 days: how long a backlog takes, said as a person would."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
