"""What each scheduled job does: ingest new papers, refresh the index, send due digests,
find what is rising now."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.digest.outbox import Deliverer, enqueue_due
from paperboy.index.jobs import refresh_index, start_background_indexer, stop_background
from paperboy.index.service import get_search_service
from paperboy.ingest.arxiv_api import ingest_recent
from paperboy.mail.interfaces import MailSender
from paperboy.mail.outbox import MailOutbox
from paperboy.rank import rising
from paperboy.store.models import utcnow
from paperboy.worker.loop import J, JobSpec, Worker


def run_ingest(w: Worker) -> str:
    cats = w.settings.categories.split()
    if not cats:
        return "skipped: no categories configured (PAPERBOY_CATEGORIES)"
    with w.engine.connect() as conn:
        last = conn.scalar(
            select(J.c.started_at).where(J.c.name == "ingest", J.c.state == "done").order_by(J.c.started_at.desc()).limit(1)
        )
    since = (last or utcnow() - dt.timedelta(days=3)).date() - dt.timedelta(days=1)
    result = ingest_recent(w.settings, w.engine, since=since)
    return f"ingested since {since}: {result}"


def run_index(w: Worker) -> str:
    # A worker that embeds (``paperboy worker``) only plans batches here and claims them
    # between jobs, like its peers on other machines; one that does not (the schedule
    # inside ``paperboy serve``) embeds here, as the indexer there does.
    stats = refresh_index(w.settings, w.engine, progress=False, embed=w.embedding is None, plan=True)
    # "keyword_indexed 12, planned 4096": the figures, not a Python dict, in the log
    return "index refreshed: " + (", ".join(f"{name.replace('_', ' ')} {value}" for name, value in stats.items())
                                  or "nothing to do")


def run_digest(w: Worker) -> str:
    q = enqueue_due(w.settings, w.engine, search=lambda: get_search_service(w.settings, w.engine))
    r = Deliverer(w.settings, w.engine, w.sender, worker=w.name).run(should_stop=w.stop.is_set)
    # Mail queued by web processes (account links, confirmations) that no web process
    # delivered, e.g. because it died: sent here.
    m = MailOutbox(w.engine, w.sender).deliver_due()
    why = "".join(f"; why ({n}): {error}" for error, n in (m.errors + r.errors).most_common(3))
    return (f"queued {q.queued} ({q.skipped_empty} empty, {q.not_composed} failed to compose); "
            f"sent {r.sent}, retry {r.retried}, "
            f"failed {r.failed}, resent after a dead worker {r.uncertain}; "
            f"other mail sent {m.sent}, retry {m.retried}, failed {m.failed}{why}")


def run_rising(w: Worker) -> str:
    found = rising.refresh(w.engine)
    return "rising now: " + (", ".join(f"{n} terms this {unit}" for unit, n in found.items()) or "no papers")


def default_jobs(settings: Settings) -> list[JobSpec]:
    return [
        JobSpec("ingest", settings.worker_ingest_minutes * 60, run_ingest),
        JobSpec("index", settings.worker_ingest_minutes * 60, run_index),
        JobSpec("digest", settings.worker_digest_minutes * 60, run_digest),
        JobSpec("rising", rising.EVERY_SECONDS, run_rising),
    ]


def start_in_process(settings: Settings, engine: Engine, sender: MailSender) -> Callable[[float], None]:
    """The single-node setup: the worker's schedule and the indexer as daemon threads of
    the web process. The indexer refreshes every ``index_refresh_seconds`` so new and
    submitted papers become searchable quickly; the index job of the schedule then
    finds little to do (one refresh at a time: the index dir has a file lock). Returns
    what stops both as the server stops, waiting at most the seconds it is given."""
    indexer = start_background_indexer(settings, engine, interval=settings.index_refresh_seconds)
    worker = Worker(settings, engine, sender, default_jobs(settings))
    thread = threading.Thread(target=worker.run, kwargs={"echo": False}, name="paperboy-worker", daemon=True)
    thread.start()
    return lambda timeout: stop_background([indexer, thread], [indexer.stop, worker.stop], timeout)
