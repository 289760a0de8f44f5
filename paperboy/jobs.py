"""The worker loop and its schedule: ingest, index, digest.

Each job runs once per *slot* (its interval, aligned to the epoch in UTC). A worker
writes the current slot of every job into the ``jobs`` table (unique on name and
slot, so several workers writing it is harmless), then claims due rows one at a time
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite serialises writers) with a lease.
So N workers on PostgreSQL never run the same slot twice; a worker that dies while
running a job leaves a lease that runs out, and the slot is run again by another
(every job is idempotent: the ingest upsert, the index refresh, the digest outbox).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import case, select, update
from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.digest.models import Job
from paperboy.digest.outbox import insert_ignore, worker_name
from paperboy.mail.interfaces import MailSender
from paperboy.mail.outbox import MailOutbox
from paperboy.store.db import write_tx
from paperboy.store.models import utcnow

log = logging.getLogger("paperboy.jobs")
J = Job.__table__
ORDER = ("ingest", "index", "digest")


@dataclass
class JobSpec:
    name: str
    interval_seconds: int
    run: Callable[[Worker], str]


def run_ingest(w: Worker) -> str:
    cats = w.settings.categories.split()
    if not cats:
        return "skipped: no categories configured (PAPERBOY_CATEGORIES)"
    # Imported here: a worker that runs no ingest never loads the sources.
    from paperboy.ingest.arxiv_api import ingest_recent
    with w.engine.connect() as conn:
        last = conn.scalar(
            select(J.c.started_at).where(J.c.name == "ingest", J.c.state == "done").order_by(J.c.started_at.desc()).limit(1)
        )
    since = (last or utcnow() - dt.timedelta(days=3)).date() - dt.timedelta(days=1)
    result = ingest_recent(w.settings, w.engine, since=since)
    return f"ingested since {since}: {result}"


def run_index(w: Worker) -> str:
    # Imported here: it loads the embedder's heavy dependencies (torch).
    from paperboy.index.jobs import refresh_index
    return f"index refreshed: {refresh_index(w.settings, w.engine, progress=False)}"


def run_digest(w: Worker) -> str:
    from paperboy.digest.outbox import Deliverer, enqueue_due
    from paperboy.index.service import get_search_service

    q = enqueue_due(w.settings, w.engine, search=lambda: get_search_service(w.settings, w.engine))
    r = Deliverer(w.settings, w.engine, w.sender, worker=w.name).run(should_stop=w.stop.is_set)
    # Mail queued by web processes (account links, confirmations) that no web process
    # delivered, e.g. because it died: sent here.
    m = MailOutbox(w.engine, w.sender).deliver_due()
    return (f"queued {q.queued} ({q.skipped_empty} empty); sent {r.sent}, retry {r.retried}, "
            f"failed {r.failed}, resent after a dead worker {r.uncertain}; "
            f"other mail sent {m.sent}, retry {m.retried}, failed {m.failed}")


def default_jobs(settings: Settings) -> list[JobSpec]:
    return [
        JobSpec("ingest", settings.worker_ingest_minutes * 60, run_ingest),
        JobSpec("index", settings.worker_ingest_minutes * 60, run_index),
        JobSpec("digest", settings.worker_digest_minutes * 60, run_digest),
    ]


def slot_of(now: dt.datetime, interval: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % interval, dt.UTC)


class Worker:
    def __init__(self, settings: Settings, engine: Engine, sender: MailSender, jobs: list[JobSpec] | None = None,
                 name: str | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.sender = sender
        self.jobs = {j.name: j for j in (jobs if jobs is not None else default_jobs(settings))}
        self.name = name or worker_name()
        self.stop = threading.Event()

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
        pick = (
            select(J.c.id).where(claimable, J.c.name.in_(list(self.jobs)))
            .order_by(J.c.due_at, priority, J.c.id).limit(1)
            .with_for_update(skip_locked=True).scalar_subquery()
        )
        stmt = (
            update(J).where(J.c.id == pick, claimable)
            .values(state="running", lease_owner=self.name, attempts=J.c.attempts + 1, started_at=now,
                    lease_until=now + dt.timedelta(seconds=self.settings.worker_job_lease_seconds))
            .returning(J.c.id, J.c.name, J.c.slot)
        )
        with write_tx(self.engine) as conn:
            return conn.execute(stmt).first()

    def run_one(self) -> tuple[str, str] | None:
        """Claim and run one due job; (name, result) or None when nothing is due."""
        job = self.claim()
        if job is None:
            return None
        spec = self.jobs[job.name]
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

    def run(self, once: bool = False, echo: bool = True) -> None:
        """Loop over the schedule until stopped. ``echo`` prints a line per job run (the
        `paperboy worker` console); inside `paperboy serve` only failures are logged."""
        if not once and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop.set())
        if echo:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        while not self.stop.is_set():
            self.schedule()
            for name, result in self.run_due():
                if echo:
                    print(f"{utcnow():%Y-%m-%d %H:%M:%S} {name}: {result.splitlines()[0] if result else ''}", flush=True)
            if once:
                break
            self.stop.wait(self.settings.worker_poll_seconds)


def start_in_process(settings: Settings, engine: Engine, sender: MailSender) -> Worker:
    """The single-node setup: the worker's schedule and the indexer as daemon threads of
    the web process. The indexer refreshes every ``index_refresh_seconds`` so new and
    submitted papers become searchable quickly; the index job of the schedule then
    finds little to do (one refresh at a time: the index dir has a file lock)."""
    from paperboy.index.jobs import start_background_indexer

    start_background_indexer(settings, engine, interval=settings.index_refresh_seconds)
    worker = Worker(settings, engine, sender)
    threading.Thread(target=worker.run, kwargs={"echo": False}, name="paperboy-worker", daemon=True).start()
    return worker
