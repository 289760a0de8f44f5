"""Keeping the indexes up to date: incremental, resumable, never in a request's way.

``refresh_index`` runs three steps, each resumable after a kill -9:

1. keyword: papers whose ``modified_at`` is after the stored watermark, or within a
   slack before it and not read yet (transactions that committed late: ``window``), are
   (re)written into tantivy; the watermark is saved after each tantivy commit.
   Re-indexing a paper is idempotent.
2. embed: papers with no vector for the current model, or whose ``content_hash``
   changed since, are planned into embedding batches (``batches``), which this
   process and any `paperboy worker` on any machine claim with a lease; each batch is
   committed to ``paper_embeddings`` with its "done" mark, so a kill loses at most one
   batch, and its lease runs out for another worker to take it over.
3. vectors: embeddings written since the ANN file's watermark (and, as for keywords,
   those other processes committed late) are added to it (changed ones replaced); the
   file is replaced atomically. This also runs every ``ANN_EVERY_S`` seconds during a
   long embedding run, so semantic coverage grows while it works. A changed
   ``PAPERBOY_EMBEDDER`` gets a file of its own; searches keep using the previous
   model's file until the new one covers as many papers (``update_serving``).

One process refreshes an index dir at a time (an advisory file lock); others skip.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import tantivy
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from paperboy import clitools
from paperboy.config import Settings
from paperboy.index import batches, copy
from paperboy.index import keyword as kw
from paperboy.index import vectors as vx
from paperboy.index.embedder import (
    Embedder,
    NullEmbedder,
    configured_embedder,
    embedder_name,
    get_embedder,
    needs_no_model,
)
from paperboy.index.embedproc import ProcessEmbedder
from paperboy.index.lock import refresh_lock
from paperboy.index.models import PaperEmbedding
from paperboy.index.repeats import Repeats
from paperboy.index.window import Window
from paperboy.store.models import Paper, utcnow

log = logging.getLogger(__name__)

papers = Paper.__table__
emb_t = PaperEmbedding.__table__

KEYWORD_SCHEMA_VERSION = 2
SLACK = dt.timedelta(seconds=120)  # re-read window for late-committing writers
KEYWORD_BATCH = 20_000
EMBED_BATCH = batches.BATCH_SIZE
ANN_EVERY_S = 60.0
PLAN_AHEAD = 16  # batches the indexer plans ahead of the workers


def keyword_dir(settings: Settings) -> Path:
    return settings.resolved_index_dir / "keyword"


def _state_path(settings: Settings, name: str) -> Path:
    return settings.resolved_index_dir / f"{name}-state.json"


def read_state(settings: Settings, name: str) -> dict:
    try:
        return json.loads(_state_path(settings, name).read_text())
    except (FileNotFoundError, ValueError):
        return {}


def write_state(settings: Settings, name: str, state: dict) -> None:
    path = _state_path(settings, name)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, default=str))
    os.replace(tmp, path)


def forget_indexes(settings: Settings) -> bool:
    """Make the next refresh rebuild this node's keyword and vector indexes from the
    database (after a restore their watermarks describe another database). Whether
    there was anything to forget."""
    found = False
    for name in ("keyword", "vectors", "serving"):
        path = _state_path(settings, name)
        found = found or path.exists()
        path.unlink(missing_ok=True)
    return found


class _Bars:
    """Rich progress bars when asked for, nothing otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled:

            self.bar = clitools.progress()
            self.bar.start()

    def task(self, name: str, total: int | None):
        return self.bar.add_task(name, total=total, status="") if self.bar else None

    def advance(self, task, n: int, status: str = "") -> None:
        if self.bar is not None and task is not None:
            self.bar.update(task, advance=n, status=status)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --- 1. keyword -----------------------------------------------------------------------


def refresh_keyword(settings: Settings, engine: Engine, bars: _Bars | None = None) -> dict:
    state = read_state(settings, "keyword")
    path = keyword_dir(settings)
    if state.get("schema") != KEYWORD_SCHEMA_VERSION or not path.exists():
        shutil.rmtree(path, ignore_errors=True)
        state = {"schema": KEYWORD_SCHEMA_VERSION, "watermark": None}
    index = kw.open_index(path)
    schema = index.schema
    fresh = index.searcher().num_docs == 0
    window = Window.from_state(state)
    cols = (papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors_text, papers.c.categories,
            papers.c.announced_on, papers.c.submitted_at, papers.c.upvotes, papers.c.hidden, papers.c.modified_at)
    with engine.connect() as conn:
        cond, todo = window.to_read(conn, papers.c.modified_at, True, SLACK)
        if todo is None:  # the first build: every paper
            todo = conn.execute(select(func.count()).select_from(papers).where(cond)).scalar_one()
    if todo == 0:
        window.advance(Counter(), SLACK)
        write_state(settings, "keyword", window.to_state(state))
        return {"keyword_indexed": 0}
    done = 0
    task = bars.task("keyword index", todo) if bars else None
    writer = index.writer(heap_size=128_000_000, num_threads=1)
    read: Counter = Counter()  # rows read per modified_at, for the window
    try:
        pending = 0
        buffer: list = []

        def flush() -> None:
            # Replace, not duplicate: delete the batch's ids (ops apply in order), then add.
            if not fresh and buffer:
                writer.delete_documents_by_query(
                    tantivy.Query.term_set_query(schema, "id", [int(r.id) for r in buffer]))
            for r in buffer:
                writer.add_document(kw.paper_document(schema, r))
            buffer.clear()

        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=2000).execute(
                select(*cols).where(cond).order_by(papers.c.modified_at, papers.c.id)
            )
            for row in result:
                buffer.append(row)
                pending += 1
                read[row.modified_at] += 1
                if len(buffer) >= 2000:
                    flush()
                if pending >= KEYWORD_BATCH:
                    writer.commit()
                    # A kill after this resumes here: the last stamp's count may be
                    # partial, so the next refresh reads that stamp again.
                    window.advance(read, SLACK, done=False)
                    write_state(settings, "keyword", window.to_state(state))
                    done += pending
                    if bars:
                        bars.advance(task, pending)
                    pending = 0
            flush()
        writer.commit()
        writer.wait_merging_threads()
    except BaseException:
        with contextlib.suppress(Exception):
            writer.rollback()
        raise
    done += pending
    if bars:
        bars.advance(task, pending)
    window.advance(read, SLACK)
    write_state(settings, "keyword", window.to_state(state))
    return {"keyword_indexed": done}


# --- 2. embeddings --------------------------------------------------------------------

count_missing = batches.count_missing


def embed_missing(engine: Engine, embedder: Embedder, *, bars: _Bars | None = None,
                  batch_size: int = EMBED_BATCH, on_batch=None, stop: threading.Event | None = None,
                  lease_seconds: float = 120.0) -> int:
    """Embed new and changed papers here, newest first, through the embedding batches
    any worker may claim (``batches``); returns how many this process embedded.

    Before each claim the newest papers still missing a vector are planned, so papers
    imported during a long run are embedded next rather than after all older ones;
    batches other processes are running are left to them."""
    total = count_missing(engine, embedder.name)
    if total == 0:
        return 0
    task = bars.task(f"embedding ({embedder.name})", total) if bars else None
    runner = batches.EmbedRunner(engine, embedder.name, lambda: embedder, lease_seconds=lease_seconds,
                                 batch_size=batch_size)
    started = time.perf_counter()
    try:
        while not (stop and stop.is_set()):
            n = runner.run_one()
            if n is None:
                break
            if bars:
                rate = runner.embedded / max(time.perf_counter() - started, 1e-9)
                bars.advance(task, n, f"{rate:.1f} papers/s")
            if on_batch:
                on_batch()
    finally:
        runner.heartbeat.stop()
    return runner.embedded


# --- 3. ANN file ----------------------------------------------------------------------


def _stored_dim(engine: Engine, model: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(emb_t.c.dim).where(emb_t.c.model == model).limit(1)).scalar()


def refresh_vectors(settings: Settings, engine: Engine, embedder: Embedder | str) -> dict:
    """Add the vectors stored since the ANN file's watermark to it. Only the embedder's
    name is used (the dimension is the stored vectors'), so no model is loaded here.

    The watermark is the newest ``embedded_at`` read; each refresh also looks ``SLACK``
    before it, so vectors that another process or machine stamped earlier but committed
    after the last refresh (a write transaction's time is taken before its commit) are
    still added, as the keyword step does with ``modified_at`` (``window``: only stamps
    not read whole before are read again)."""
    name = embedder if isinstance(embedder, str) else embedder.name
    dim = _stored_dim(engine, name)
    if dim is None:
        return {"vectors_added": 0, "vectors_total": 0}
    path = vx.vector_file(settings.resolved_index_dir, name)
    states = read_state(settings, "vectors")
    state = states.get(name, {})
    index = vx.load_hnsw(path) if state and path.exists() else None
    if index is None:
        index, state = vx.new_hnsw(dim), {}
    window = Window.from_state(state)
    of_model = emb_t.c.model == name
    added, read = 0, Counter()
    with engine.connect() as conn:
        cond, _rows = window.to_read(conn, emb_t.c.embedded_at, of_model, SLACK)
        if cond is not None:
            result = conn.execution_options(stream_results=True, yield_per=5000).execute(
                select(emb_t.c.paper_id, emb_t.c.vector, emb_t.c.embedded_at).where(and_(of_model, cond))
                .order_by(emb_t.c.embedded_at)
            )
            while chunk := result.fetchmany(5000):
                ids = np.array([r.paper_id for r in chunk], dtype=np.uint64)
                mat = np.frombuffer(b"".join(r.vector for r in chunk), dtype="<f4").reshape(len(chunk), dim)
                vx.upsert(index, ids, mat)
                added += len(chunk)
                read.update(r.embedded_at for r in chunk)
    if added or not path.exists():
        vx.save_hnsw(index, path)
    window.advance(read, SLACK)
    window.to_state(state)
    state["size"] = len(index)
    states[name] = state
    write_state(settings, "vectors", states)
    return {"vectors_added": added, "vectors_total": len(index)}


# --- all of it ------------------------------------------------------------------------


def indexing_embedder(settings: Settings, *, ignore_ctrl_c: bool = False) -> Embedder:
    """What ``refresh_index`` embeds papers with: a model runs in a niced child process
    (``embedproc``: searches in this process never wait for it), started only when
    there is something to embed; ``hash`` and ``null`` need no model and stay here.
    ``ignore_ctrl_c``: for a background indexer, which its server stops."""
    setting = configured_embedder(settings)
    if needs_no_model(setting):
        return get_embedder(setting)

    return ProcessEmbedder(setting, ignore_ctrl_c=ignore_ctrl_c)


def serving_model(settings: Settings) -> str:
    """The model whose ANN file searches use: the configured one, except while a new
    configured model covers fewer papers than the one served before it (``update_serving``)."""
    configured = embedder_name(configured_embedder(settings))
    if configured == NullEmbedder.name:
        return configured
    return read_state(settings, "serving").get("model") or configured


def update_serving(settings: Settings, engine: Engine) -> str:
    """Switch searches to the configured model once its ANN file holds at least as many
    papers as the one served now (so a model change never leaves members with less
    semantic coverage); until then the old model's file keeps serving, as it is."""
    configured = embedder_name(configured_embedder(settings))
    sizes = {name: st.get("size", 0) for name, st in read_state(settings, "vectors").items()
             if isinstance(st, dict) and vx.vector_file(settings.resolved_index_dir, name).exists()}
    current = read_state(settings, "serving").get("model")
    if current is None or current not in sizes:
        # No choice recorded (new instance, or one from before this existed): the biggest
        # other model file that is there serves until the configured one catches up.
        others = {n: z for n, z in sizes.items() if n != configured}
        current = max(others, key=others.get) if others else configured
    serving = configured if sizes.get(configured, 0) >= sizes.get(current, 0) else current
    if serving != read_state(settings, "serving").get("model"):
        if serving == configured and current != configured:
            log.info("semantic search switches from %s to %s", current, configured)
        write_state(settings, "serving", {"model": serving, "since": utcnow().isoformat()})
    return serving


def refresh_index(settings: Settings, engine: Engine, progress: bool = True, *, embed: bool = True,
                  plan: bool | None = None, embedder: Embedder | None = None,
                  stop: threading.Event | None = None) -> dict:
    """Bring the keyword index, the stored embeddings and the ANN file up to date.

    ``plan`` (default: ``embed``): plan embedding batches for the papers missing a
    vector, for any worker to claim (``batches``), and update the ANN file from the
    stored vectors. ``embed``: also claim and run batches here, with ``embedder`` or by
    default ``indexing_embedder``. ``embed=False`` alone refreshes keywords only."""
    plan = embed if plan is None else plan
    with refresh_lock(settings) as mine:
        if not mine:
            return {"skipped": "another process or thread is refreshing this index dir"}
        bars = _Bars(progress)
        emb = None
        try:
            stats = refresh_keyword(settings, engine, bars)
            model = embedder.name if embedder is not None else embedder_name(configured_embedder(settings))
            if model == NullEmbedder.name or not (plan or embed):
                return stats
            if plan:
                # A horizon, not the whole backlog: every planning transaction stays short
                # (SQLite's write lock), and workers plan the next newest before each claim.
                stats["planned"] = batches.plan(engine, model, batch_size=settings.embed_batch_size,
                                                limit=settings.embed_batch_size * PLAN_AHEAD)
            if embed:
                # a background refresh (it has a stop event) is stopped by its server, not by Ctrl-C
                emb = embedder or indexing_embedder(settings, ignore_ctrl_c=stop is not None)
                last_ann = [time.monotonic()]

                def maybe_ann() -> None:
                    if time.monotonic() - last_ann[0] >= ANN_EVERY_S:
                        refresh_vectors(settings, engine, model)
                        update_serving(settings, engine)
                        last_ann[0] = time.monotonic()

                stats["embedded"] = embed_missing(engine, emb, bars=bars, on_batch=maybe_ann, stop=stop,
                                                  batch_size=settings.embed_batch_size,
                                                  lease_seconds=settings.worker_lease_seconds)
            stats.update(refresh_vectors(settings, engine, model))
            stats["serving"] = update_serving(settings, engine)
            return stats
        finally:
            if embedder is None and hasattr(emb, "close"):
                emb.close()
            bars.close()


def start_background_indexer(settings: Settings, engine: Engine, *, interval: float = 30.0,
                             embed: bool = True) -> threading.Thread:
    """A daemon thread that keeps refreshing the indexes (keyword first, then vectors).
    ``embed=False``: it plans embedding batches and updates the ANN file but runs no
    model (a web node of a cluster, or a worker that claims batches itself)."""
    stop = threading.Event()
    failures = Repeats(log)

    def loop() -> None:
        try:
            copy.pull_from_peers(settings)  # a new node: copy a peer's index, if one is set
        except Exception:  # then it is built from the database instead
            log.exception("copying a peer's index failed")
        while not stop.is_set():
            try:
                refresh_index(settings, engine, progress=False, stop=stop, embed=embed, plan=True)
                failures.ok()
            except Exception as exc:  # keep serving; the next round retries
                failures.failed("index refresh failed", exc)
            stop.wait(interval)

    thread = threading.Thread(target=loop, name="paperboy-indexer", daemon=True)
    thread.stop = stop  # type: ignore[attr-defined]
    thread.start()
    return thread


def stop_background(threads: list[threading.Thread], stops: list[threading.Event], timeout: float) -> None:
    """Ask background loops to stop and wait for them (``timeout`` seconds in all): an
    embedding batch in progress is finished and written, not cut and counted as failed."""
    for event in stops:
        event.set()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
