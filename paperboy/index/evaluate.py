"""Search quality on a BEIR collection, through the real index and service code."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import insert

from paperboy.config import Settings
from paperboy.index import jobs
from paperboy.index.beir import Collection, corpus_vectors, ndcg_at, recall_at
from paperboy.index.embedder import Embedder
from paperboy.index.models import PaperEmbedding
from paperboy.index.service import SearchService
from paperboy.store.db import make_engine
from paperboy.store.migrate import upgrade
from paperboy.store.models import Paper, utcnow

MODES = ("keyword", "semantic", "hybrid")


@dataclass
class Scores:
    ndcg10: float
    recall100: float
    queries: int


def build_store(col: Collection, workdir: Path, embedder: Embedder | None, cache_dir: Path, progress=None):
    """A throw-away SQLite store + index dir holding the collection; returns (settings, engine)."""
    settings = Settings(data_dir=workdir, embedder="null" if embedder is None else "minilm")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    now = utcnow()
    rows = [
        {"id": i + 1, "arxiv_id": str(d["_id"])[:40], "title": d.get("title") or "", "abstract": d.get("text") or "",
         "authors_text": "", "categories": "", "sources": "beir", "links": [],
         "content_hash": hashlib.md5(f"{d.get('title')}\x00{d.get('text')}".encode()).hexdigest(),
         "created_at": now, "modified_at": now, "version": 1, "upvotes": 0, "num_comments": 0, "hidden": False}
        for i, d in enumerate(col.corpus)
    ]
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(insert(Paper.__table__), rows[start:start + 2000])
    jobs.refresh_keyword(settings, engine)
    if embedder is not None and embedder.dim:
        vecs = corpus_vectors(col, embedder, cache_dir, progress=progress)
        with engine.begin() as conn:
            emb_rows = [
                {"paper_id": r["id"], "model": embedder.name, "content_hash": r["content_hash"], "dim": embedder.dim,
                 "vector": np.asarray(v, dtype="<f4").tobytes(), "embedded_at": now}
                for r, v in zip(rows, vecs, strict=True)
            ]
            for start in range(0, len(emb_rows), 2000):
                conn.execute(insert(PaperEmbedding.__table__), emb_rows[start:start + 2000])
        jobs.refresh_vectors(settings, engine, embedder)
    return settings, engine


def run_queries(col: Collection, service: SearchService, mode: str, k: int = 100) -> dict[str, list[str]]:
    """Ranked doc ids for every judged query."""
    out = {}
    for qid in col.qrels:
        text = col.queries.get(qid)
        if text is None:
            continue
        res = service.search(text, limit=k, mode=mode)
        out[qid] = [h.arxiv_id for h in res.hits]
    return out


def score(col: Collection, runs: dict[str, list[str]]) -> Scores:
    nd = [ndcg_at(runs.get(q, []), rels, 10) for q, rels in col.qrels.items() if q in col.queries]
    rc = [recall_at(runs.get(q, []), rels, 100) for q, rels in col.qrels.items() if q in col.queries]
    return Scores(float(np.mean(nd)), float(np.mean(rc)), len(nd))


def evaluate(col: Collection, embedder: Embedder | None, cache_dir: Path, progress=None) -> dict[str, Scores]:
    with tempfile.TemporaryDirectory(prefix="paperboy-eval-") as tmp:
        settings, engine = build_store(col, Path(tmp), embedder, cache_dir, progress=progress)
        try:
            service = SearchService(settings, engine, embedder=embedder)
            modes = MODES if embedder is not None and embedder.dim else ("keyword",)
            return {mode: score(col, run_queries(col, service, mode)) for mode in modes}
        finally:
            engine.dispose()
