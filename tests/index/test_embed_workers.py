"""`paperboy worker` processes embedding through the database: a kill -9'd worker's batch
is taken over once its (short, renewed) lease runs out; every paper ends with one vector."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sqlalchemy import select

from paperboy.index import batches
from paperboy.index.embedder import HashEmbedder, paper_text
from paperboy.index.models import EmbedBatch, EmbedBatchItem, PaperEmbedding
from paperboy.store.db import make_engine
from paperboy.store.models import Paper
from tests.index.conftest import add_papers
from tests.index.test_embed_batches import many

ROOT = Path(__file__).resolve().parents[2]
MODEL = HashEmbedder().name

# A real `paperboy worker` whose embedder hangs inside its first batch (after saying so
# in a file): the worker is mid-batch, its heartbeat thread alive, when it is killed.
HANGING_WORKER = """
import pathlib, sys, time
from paperboy.index.embedder import HashEmbedder
def hang(self, texts, *, batch_size=32):
    pathlib.Path(sys.argv[1]).write_text(str(len(texts)))
    time.sleep(3600)
HashEmbedder.embed = hang
from paperboy.cli import app
app(["worker", "--embed-only"])
"""

PLAIN_WORKER = "from paperboy.cli import app; app(['worker', '--embed-only'])"


def worker_env(url: str, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(data_dir), "PAPERBOY_SECRET_KEY": "test",
                "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "hash", "PAPERBOY_EMBED_BATCH_SIZE": "4",
                "PAPERBOY_WORKER_LEASE_SECONDS": "2", "PAPERBOY_WORKER_POLL_SECONDS": "0.2",
                "PYTHONPATH": str(ROOT)})
    return env


def wait_for(what, deadline: float, step: float = 0.05):
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(step)
    return what()


def batch_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(EmbedBatch.id, EmbedBatch.state, EmbedBatch.lease_owner, EmbedBatch.lease_until,
                                   EmbedBatch.attempts)).all()


def test_a_killed_workers_batch_is_taken_over_and_every_paper_gets_one_vector(fresh_url, tmp_path):
    engine = make_engine(fresh_url)
    add_papers(engine, many(30))
    env = worker_env(fresh_url, tmp_path)
    marker = tmp_path / "hanging"
    deadline = time.monotonic() + 120
    a = subprocess.Popen([sys.executable, "-c", HANGING_WORKER, str(marker)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    b = None
    try:
        assert wait_for(marker.exists, deadline), "worker A never started a batch"
        (held,) = [r for r in batch_rows(engine) if r.state == "running"]
        assert held.attempts == 1
        b = subprocess.Popen([sys.executable, "-c", PLAIN_WORKER], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # B embeds everything else while A, alive, keeps renewing its lease: well past the
        # first lease's end A still holds its batch.
        others = wait_for(lambda: batches.count_missing(engine, MODEL) == int(marker.read_text()), deadline)
        assert others, "worker B did not embed the other batches"
        first_until = held.lease_until
        wait_for(lambda: time.time() > first_until.timestamp() + 2, deadline, 0.2)  # its first lease is long over
        now_held = next(r for r in batch_rows(engine) if r.id == held.id)
        assert now_held.state == "running" and now_held.lease_owner == held.lease_owner
        assert now_held.lease_until > first_until  # renewed by A's heartbeat
        a.send_signal(signal.SIGKILL)
        a.wait(30)
        # A is gone: its lease runs out and B takes the batch over.
        assert wait_for(lambda: batches.count_missing(engine, MODEL) == 0, deadline, 0.2), \
            "nobody took the killed worker's batch over"
    finally:
        for p in (a, b):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
    assert b.returncode == 0, b.stdout.read().decode()[-3000:]
    rows = batch_rows(engine)
    assert all(r.state == "done" for r in rows)
    # Only the killed batch ran twice; each of the others once.
    assert sorted(r.attempts for r in rows) == [1] * (len(rows) - 1) + [2]
    assert next(r for r in rows if r.id == held.id).attempts == 2
    with engine.connect() as conn:
        assert conn.execute(select(EmbedBatchItem.batch_id)).all() == []
        got = conn.execute(select(Paper.title, Paper.abstract, PaperEmbedding.vector)
                           .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)
                           .where(PaperEmbedding.model == MODEL)).all()
        n_papers = len(conn.execute(select(Paper.id)).all())
    assert len(got) == n_papers == 30  # one vector per paper (and per model: the key)
    emb = HashEmbedder()
    for title, abstract, vector in got:
        assert np.array_equal(np.frombuffer(vector, dtype="<f4"), emb.embed([paper_text(title, abstract)])[0])
    engine.dispose()


def test_embed_only_with_no_embedder_is_a_one_line_error(tmp_path):
    env = worker_env("", tmp_path)
    env["PAPERBOY_EMBEDDER"] = "null"
    del env["PAPERBOY_DATABASE_URL"]
    r = subprocess.run([sys.executable, "-c", PLAIN_WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "PAPERBOY_EMBEDDER=null computes no vectors" in r.stderr
    assert "Traceback" not in r.stderr
