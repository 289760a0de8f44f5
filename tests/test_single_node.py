"""`paperboy serve` alone is a whole instance: the web process also embeds new papers in
the background and runs the worker's schedule (PAPERBOY_SERVE_WORKER, on by default)."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import select

from paperboy.store.db import make_engine, session_scope
from paperboy.worker.models import Job
from tests.support.cluster import serve_app_in_process
from tests.support.factories import make_paper

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
