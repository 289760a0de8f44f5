"""`paperboy serve` alone is a whole instance: the web process also embeds new papers in
the background and runs the worker's schedule (PAPERBOY_SERVE_WORKER, on by default)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest
from sqlalchemy import select

from paperboy.index.models import EmbedBatch
from paperboy.store.db import make_engine, session_scope
from paperboy.worker.models import Job
from tests.support.cluster import PAPERBOY, children, serve_app_in_process, wait_until
from tests.support.factories import make_paper
from tests.support.servers import free_port

# The first and the second share no word, so only vectors can pair them.
VISION = ("Convolutional networks for image recognition",
          "We train convolutional networks that recognise objects in images.")
PHOTOS = ("Deep visual models classify photographs",
          "Neural models label the content of pictures with high accuracy.")
PROTEINS = ("Predicting protein folding from amino-acid sequences",
            "A model of protein structure derived from residue sequences.")


def _similar(base: str, arxiv_id: str) -> list[str]:
    r = httpx.get(f"{base}/api/papers/{arxiv_id}/similar", timeout=60)
    assert r.status_code == 200, r.text
    return [item["id"] for item in r.json()]


@pytest.mark.slow
def test_serve_embeds_papers_in_the_background_and_runs_the_schedule(fresh_url, tmp_path):
    engine = make_engine(fresh_url)
    with session_scope(engine) as db:
        vision, photos, proteins = (make_paper(db, title=t, abstract=a).arxiv_id for t, a in (VISION, PHOTOS, PROTEINS))
    env = {"PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path), "PAPERBOY_SECRET_KEY": "test",
           "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "minilm", "PAPERBOY_INDEX_REFRESH_SECONDS": "1",
           "HF_HUB_OFFLINE": "1",
           # Similar papers are asked for every second: a page kept 30 s (the default)
           # would show the answer from before the vectors for that long.
           "PAPERBOY_PAGE_CACHE_SECONDS": "1"}
    with serve_app_in_process(env) as base:
        deadline = time.monotonic() + 240
        while (found := _similar(base, vision)) != [photos, proteins] and time.monotonic() < deadline:
            time.sleep(1)
        assert found == [photos, proteins], "the indexer in the web process never embedded the papers"
        with engine.connect() as conn:
            ran = set(conn.scalars(select(Job.name).where(Job.state == "done")))
        assert {"index", "digest"} <= ran
    engine.dispose()


def _batches(engine) -> list[tuple[str, int, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(EmbedBatch.state, EmbedBatch.attempts, EmbedBatch.error))]


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]  # noqa: SIM115
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_ctrl_c_lets_the_embedding_batch_in_progress_finish_and_the_server_exits_cleanly(fresh_url, tmp_path):
    """Ctrl-C in a terminal signals every process of the group, the embedding child too:
    it died mid-batch, printed tracebacks (its own and the indexer's) and cost the batch an
    attempt. Now the child leaves the signal to `paperboy serve`, which stops the web, then
    lets the batch finish and stops the child.

    systemd's stop (deploy/paperboy-web.service, KillMode=mixed) is a SIGTERM to the main
    process alone: uvicorn raised it again once stopped, Python's default ended the
    process there, and the embedding child was left running, orphaned. The handling is the
    same on both backends, so one takes Ctrl-C and the other systemd's stop."""
    engine = make_engine(fresh_url)
    with session_scope(engine) as db:
        for i in range(400):
            make_paper(db, title=f"Study {i} of topic {i % 23}", abstract=f"We measure effect {i} in setting {i % 7}.")
    env = {**os.environ, "PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path),
           "PAPERBOY_SECRET_KEY": "test", "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "minilm",
           "PAPERBOY_EMBED_BATCH_SIZE": "32", "PAPERBOY_INDEX_REFRESH_SECONDS": "1", "HF_HUB_OFFLINE": "1"}
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen([PAPERBOY, "serve", "--host", "127.0.0.1", "--port", str(free_port())], env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: {"done", "running"} <= {state for state, _, _ in _batches(engine)}, 240,
                   "a batch embedded and the next one running")
        spawned = children(server.pid)
        assert spawned, "serve runs its embedding in a child process"
        if fresh_url.startswith("sqlite"):
            os.killpg(server.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
        else:
            server.send_signal(signal.SIGTERM)  # as systemd stops it: the main process only
        assert server.wait(60) == 0, log.read_text()[-3000:]
        assert "stopping: the background work finishes" in log.read_text()
        wait_until(lambda: not any(_alive(pid) for pid in spawned), 30, "serve's children to stop with it")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    output = log.read_text()
    assert "Traceback" not in output and "failed" not in output, output[-3000:]
    batches = _batches(engine)
    assert all(error is None for _, _, error in batches)
    assert all((state, attempts) in {("done", 1), ("due", 0)} for state, attempts, _ in batches), batches
    engine.dispose()
