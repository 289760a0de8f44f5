"""Embedding as distributed work: batches planned in the database, claimed by any worker.

Papers missing a vector for a model (new, or changed since they were embedded) are
*planned* into ``embed_batches`` rows, newest papers first, by whoever sees them
missing (the indexer, a worker before each claim). Planning is serialised (SQLite's
write lock; a transaction-scoped advisory lock on PostgreSQL) and skips papers that an
open batch already holds, and a batch's key is a digest of its papers and their
content hashes (unique per model), so two planners never plan a paper twice.

Any number of processes on any machines then *claim* batches with a lease through
``store.claims.claim_rows`` (newest batch first), embed them, and write the vectors to
``paper_embeddings`` **in the transaction that marks the batch done**, guarded by the
lease: a worker whose lease was taken over writes nothing. A running worker renews its
lease (``store.claims.Heartbeat``); a killed one's batch is claimed again once its
lease runs out. A batch that fails ``MAX_ATTEMPTS`` times is split in halves, so a paper
the model cannot embed ends alone in a batch of one, left ``failed`` (its error kept),
and is not planned again until that row is deleted; the others get their vectors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, case, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from paperboy.config import Settings
from paperboy.index.embedder import (
    Embedder,
    configured_embedder,
    embedder_name,
    get_embedder,
    paper_text,
)
from paperboy.index.models import EmbedBatch, EmbedBatchItem, PaperEmbedding
from paperboy.index.repeats import Repeats
from paperboy.papers.visibility import visible
from paperboy.store.claims import Heartbeat, claim_rows, insert_ignore, worker_name
from paperboy.store.db import write_tx
from paperboy.store.models import Paper, utcnow

log = logging.getLogger(__name__)

papers = Paper.__table__
emb_t = PaperEmbedding.__table__
B = EmbedBatch.__table__
ITEMS = EmbedBatchItem.__table__

BATCH_SIZE = 256
MAX_ATTEMPTS = 5
NO_DAY = dt.date(1, 1, 1)  # sorts papers without an announce date after all others
KEEP_DONE = dt.timedelta(hours=1)  # done batches are deleted after this (their items at once)
_PLAN_LOCK = 0x7061_7065_7262  # "paperb": PostgreSQL advisory lock key of the planner
OPEN = ("due", "running", "failed")  # a paper in such a batch is not planned again


class LeaseLost(Exception):
    """The batch's lease ran out and another worker took it over: nothing was written."""


def newest_first() -> tuple:
    """Newest papers first: by announce date (papers without one last), then by id. The
    first hour after an import then gives semantic search and similar papers for the
    papers people look at (today's), not for the oldest ones."""
    return (func.coalesce(papers.c.announced_on, NO_DAY).desc(), papers.c.id.desc())


def missing_condition(model: str):
    """(from clause, condition) for visible papers with no vector for ``model`` or whose
    content changed since theirs was computed."""
    joined = papers.outerjoin(emb_t, and_(emb_t.c.paper_id == papers.c.id, emb_t.c.model == model))
    cond = and_(visible(), or_(emb_t.c.paper_id.is_(None), emb_t.c.content_hash != papers.c.content_hash))
    return joined, cond


def count_missing(engine: Engine, model: str) -> int:
    joined, cond = missing_condition(model)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(joined).where(cond)).scalar_one()


def _unplanned(model: str):
    joined, cond = missing_condition(model)
    held = (
        select(ITEMS.c.paper_id).select_from(ITEMS.join(B, B.c.id == ITEMS.c.batch_id))
        .where(ITEMS.c.paper_id == papers.c.id, B.c.model == model, B.c.state.in_(OPEN))
    )
    return joined, and_(cond, ~held.exists())


def _batch_key(model: str, rows) -> str:
    h = hashlib.sha1(model.encode())
    for r in rows:
        h.update(f"{r.id}:{r.content_hash};".encode())
    return h.hexdigest()


def plan(engine: Engine, model: str, *, batch_size: int = BATCH_SIZE, limit: int | None = None) -> int:
    """Plan batches of up to ``batch_size`` for the newest ``limit`` (None: all) papers
    missing a vector for ``model`` that no open batch holds; how many papers it planned."""
    joined, cond = _unplanned(model)
    query = select(papers.c.id, papers.c.content_hash, papers.c.announced_on).select_from(joined).where(cond) \
        .order_by(*newest_first())
    if limit is not None:
        query = query.limit(limit)
    planned = 0
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PLAN_LOCK})
        conn.execute(delete(B).where(B.c.model == model, B.c.state == "done", B.c.finished_at < utcnow() - KEEP_DONE))
        rows = conn.execute(query).all()
        now = utcnow()
        for start in range(0, len(rows), batch_size):
            planned += _add_batch(conn, model, rows[start:start + batch_size], now)
    return planned


def plan_first(engine: Engine, model: str, paper_ids: list[int], *, batch_size: int = BATCH_SIZE) -> int:
    """Plan batches for these papers that any worker claims before the rest (their day is
    today): papers a member just asked for, fetched for their collection or seeds, get
    their vectors next instead of after a backlog of older ones (a bulk import's can
    take a day on CPU). How many papers it planned (those with a vector or already in an
    open batch are left as they are)."""
    if not paper_ids:
        return 0
    joined, cond = _unplanned(model)
    query = (select(papers.c.id, papers.c.content_hash, papers.c.announced_on).select_from(joined)
             .where(cond, papers.c.id.in_(paper_ids)).order_by(papers.c.id.desc()))
    planned = 0
    with write_tx(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PLAN_LOCK})
        rows = conn.execute(query).all()
        now = utcnow()
        for start in range(0, len(rows), batch_size):
            planned += _add_batch(conn, model, rows[start:start + batch_size], now, day=now.date())
    return planned


def _add_batch(conn: Connection, model: str, chunk, now: dt.datetime, day: dt.date | None = None) -> int:
    """A due batch of ``chunk`` (rows of id, content_hash, announced_on, newest first),
    claimed in the order of ``day`` (default: its newest paper's announce day); how many
    papers it took (none when the same papers and contents were done within KEEP_DONE:
    left for a later plan)."""
    key = _batch_key(model, chunk)
    insert_ignore(conn, B, [{"model": model, "key": key, "day": day or chunk[0].announced_on or NO_DAY,
                             "top_id": chunk[0].id, "size": len(chunk), "state": "due", "attempts": 0,
                             "created_at": now}])
    batch_id, state = conn.execute(select(B.c.id, B.c.state).where(B.c.model == model, B.c.key == key)).one()
    if state != "due":
        return 0
    conn.execute(insert(ITEMS), [{"batch_id": batch_id, "paper_id": r.id} for r in chunk])
    return len(chunk)


def _claimable(model: str, now: dt.datetime):
    return (B.c.model == model) & (B.c.attempts < MAX_ATTEMPTS) & (
        (B.c.state == "due") | ((B.c.state == "running") & (B.c.lease_until < now)))


def claim(engine: Engine, model: str, owner: str, lease_until: dt.datetime, now: dt.datetime | None = None):
    """Take the newest claimable batch of ``model`` (a row with id, size, attempts) or None."""
    now = now or utcnow()
    with write_tx(engine) as conn:
        rows = claim_rows(
            conn, B, claimable=_claimable(model, now),
            order_by=[B.c.day.desc(), B.c.top_id.desc(), B.c.id],
            values={"state": "running", "lease_owner": owner, "lease_until": lease_until,
                    "attempts": B.c.attempts + 1},
            returning=[B.c.size, B.c.attempts],
        )
    return rows[0] if rows else None


def _db_now(conn: Connection) -> dt.datetime:
    """The time stamped on vectors: PostgreSQL's clock (one clock for every machine, so
    the indexers' watermark over ``embedded_at`` is not skewed by a worker's clock);
    this machine's on SQLite (one machine)."""
    if conn.dialect.name == "postgresql":
        return conn.execute(select(func.now())).scalar_one().astimezone(dt.UTC)
    return utcnow()


def _upsert(conn: Connection, rows: list[dict]) -> None:
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = make(emb_t)
    stmt = stmt.on_conflict_do_update(
        index_elements=[emb_t.c.paper_id, emb_t.c.model],
        set_={c: stmt.excluded[c] for c in ("content_hash", "dim", "vector", "embedded_at")},
    )
    conn.execute(stmt, rows)


def run_batch(engine: Engine, embedder: Embedder, batch_id: int, owner: str, *, encode_batch_size: int = 16,
              before_write: Callable[[], None] | None = None) -> int:
    """Embed a claimed batch and write its vectors in the transaction that marks it done
    (only while ``owner`` still holds it, else ``LeaseLost``); how many papers it had."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.content_hash)
            .select_from(ITEMS.join(papers, papers.c.id == ITEMS.c.paper_id))
            .where(ITEMS.c.batch_id == batch_id).order_by(*newest_first())
        ).all()
    vecs = embedder.embed([paper_text(r.title, r.abstract) for r in rows], batch_size=encode_batch_size) if rows else []
    if before_write:
        before_write()
    with write_tx(engine) as conn:
        now = _db_now(conn)
        mine = conn.execute(
            update(B).where(B.c.id == batch_id, B.c.lease_owner == owner, B.c.state == "running")
            .values(state="done", finished_at=now, lease_owner=None, lease_until=None)
        ).rowcount
        if mine != 1:
            raise LeaseLost(f"embedding batch {batch_id} was taken over by another worker")
        if rows:
            _upsert(conn, [
                {"paper_id": r.id, "model": embedder.name, "content_hash": r.content_hash, "dim": embedder.dim,
                 "vector": v.astype("<f4").tobytes(), "embedded_at": now}
                for r, v in zip(rows, vecs, strict=True)
            ])
        conn.execute(delete(ITEMS).where(ITEMS.c.batch_id == batch_id))
    return len(rows)


def release(engine: Engine, batch_id: int, owner: str) -> None:
    """Give a claimed batch back untried: due again, its claim's attempt not counted."""
    with write_tx(engine) as conn:
        conn.execute(update(B).where(B.c.id == batch_id, B.c.lease_owner == owner, B.c.state == "running")
                     .values(state="due", lease_owner=None, lease_until=None,
                             attempts=case((B.c.attempts > 0, B.c.attempts - 1), else_=0)))


def _give_back(engine: Engine, batch_id: int, owner: str, error: str) -> None:
    """A batch whose embedding failed: due again. After MAX_ATTEMPTS a batch of several
    papers is split in two halves, each due with no attempts, so a paper the model
    cannot embed ends alone in a batch of one, left ``failed``, and holds back no other
    paper's vector."""
    with write_tx(engine) as conn:
        mine = conn.execute(select(B.c.model, B.c.attempts, B.c.size)
                            .where(B.c.id == batch_id, B.c.lease_owner == owner)).one_or_none()
        if mine is not None and mine.attempts >= MAX_ATTEMPTS and mine.size > 1:
            _split(conn, batch_id, mine.model)
            return
        conn.execute(
            update(B).where(B.c.id == batch_id, B.c.lease_owner == owner)
            .values(state=case((B.c.attempts >= MAX_ATTEMPTS, "failed"), else_="due"),
                    lease_owner=None, lease_until=None, error=error[:2000])
        )



def _split(conn: Connection, batch_id: int, model: str) -> None:
    rows = conn.execute(
        select(papers.c.id, papers.c.content_hash, papers.c.announced_on)
        .select_from(ITEMS.join(papers, papers.c.id == ITEMS.c.paper_id))
        .where(ITEMS.c.batch_id == batch_id).order_by(*newest_first())
    ).all()
    conn.execute(delete(ITEMS).where(ITEMS.c.batch_id == batch_id))
    conn.execute(delete(B).where(B.c.id == batch_id))
    half, now = (len(rows) + 1) // 2, utcnow()
    for chunk in (rows[:half], rows[half:]):
        if chunk:
            _add_batch(conn, model, chunk, now)
    log.warning("embedding batch %s failed %s times: split into batches of %s and %s papers",
                batch_id, MAX_ATTEMPTS, half, len(rows) - half)

@dataclass
class EmbedRunner:
    """Plans and runs embedding batches for one model: what a worker (or the indexer)
    does between its other work. The embedder is made by ``make_embedder`` at the first
    claimed batch, so a worker with nothing to embed loads no model."""

    engine: Engine
    model: str
    make_embedder: Callable[[], Embedder]
    lease_seconds: float = 120.0
    batch_size: int = BATCH_SIZE
    encode_batch_size: int = 0  # texts per forward pass; 0: 16 on CPU, 256 on CUDA
    owner: str = field(default_factory=worker_name)
    heartbeat: Heartbeat | None = None
    embedded: int = 0
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.heartbeat is None:
            self.heartbeat = Heartbeat(self.engine, self.owner, self.lease_seconds)
        self.failures = Repeats(log)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = self.make_embedder()
            return self._embedder

    def run_one(self) -> int | None:
        """Plan the newest missing papers, then claim and run one batch: how many papers
        it embedded (0 when its lease was lost), None when none was free. A batch whose
        embedding raised is given back (due again, or failed after MAX_ATTEMPTS) and the
        error re-raised."""
        plan(self.engine, self.model, batch_size=self.batch_size, limit=self.batch_size)
        batch = claim(self.engine, self.model, self.owner, self.heartbeat.lease_until())
        if batch is None:
            return None
        with self.heartbeat.holding(B, [batch.id]):
            try:
                emb = self.embedder
                n = run_batch(self.engine, emb, batch.id, self.owner, encode_batch_size=self.encode_batch_size
                              or (256 if getattr(emb, "device", "cpu") == "cuda" else 16))
            except LeaseLost as exc:
                log.warning("%s", exc)
                return 0
            except KeyboardInterrupt:
                # Stopped by its operator (Ctrl-C): the batch is due again at once, not
                # held for the rest of its lease, and the stop is no failed attempt.
                release(self.engine, batch.id, self.owner)
                raise
            except Exception as exc:
                self.failures.failed(f"embedding a batch failed (batch {batch.id}, attempt {batch.attempts})"
                                     if self.failures.key is None else "embedding a batch failed", exc)
                _give_back(self.engine, batch.id, self.owner, f"{type(exc).__name__}: {exc}")
                raise
        self.failures.ok()
        self.embedded += n
        return n

    def close(self) -> None:
        self.heartbeat.stop()
        if self._embedder is not None and hasattr(self._embedder, "close"):
            self._embedder.close()


def progress(engine: Engine, model: str) -> dict:
    """Batches of ``model`` by state, and the papers still missing a vector."""
    with engine.connect() as conn:
        states = dict(conn.execute(select(B.c.state, func.count()).where(B.c.model == model).group_by(B.c.state)).all())
    return {"batches": states, "missing": count_missing(engine, model)}


def worker_runner(settings: Settings, engine: Engine, *, owner: str | None = None,
                  heartbeat: Heartbeat | None = None) -> EmbedRunner | None:
    """The embedding part of a `paperboy worker`: the configured model, loaded in this
    process at its first batch on ``settings.embed_device`` with ``embed_threads``
    torch threads; None when the embedder is 'null'."""
    model = embedder_name(configured_embedder(settings))
    if model == "null":
        return None

    def make() -> Embedder:
        return get_embedder(configured_embedder(settings), device_setting=settings.embed_device, threads=settings.embed_threads)

    runner = EmbedRunner(engine, model, make, lease_seconds=settings.worker_lease_seconds,
                         batch_size=settings.embed_batch_size, owner=owner or worker_name(), heartbeat=heartbeat)
    runner.encode_batch_size = settings.embed_encode_batch or 0
    return runner
