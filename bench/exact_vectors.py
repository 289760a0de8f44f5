"""Exact search over stored vectors (``index/exact.py``): load time and query latency.

    nice -n 10 .venv/bin/python bench/exact_vectors.py                       # 100k and 1M
    nice -n 10 .venv/bin/python bench/exact_vectors.py --papers 100000 --hnsw

Vectors are 384-d unit vectors from a Gaussian mixture (2,000 topics, within-topic
spread like sentence embeddings'), not uniform random ones. For each size: the time to
load them from a real SQLite ``paper_embeddings`` table into the f16 store (the load a
fresh node does in the background; ``--load-max`` caps the sizes loaded from SQLite,
above it the store is filled in memory and only search is timed), the store's bytes
per paper, and p50/p95 of a top-110 exact search (what a hybrid query asks) with one
thread, against a numpy f32 scan and optionally (``--hnsw``) an HNSW file built at
the same size. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert  # noqa: E402

from paperboy.index import vectors as vx  # noqa: E402
from paperboy.index.exact import DTYPE, ExactStore  # noqa: E402
from paperboy.index.models import PaperEmbedding  # noqa: E402

DIM = 384
K = 110


def mixture(n: int, *, topics: int = 2000, seed: int = 0, chunk: int = 100_000) -> np.ndarray:
    """``n`` unit vectors around ``topics`` centres, as f32 chunks joined into f16."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), dtype=DTYPE)
    for lo in range(0, n, chunk):
        m = min(chunk, n - lo)
        v = centres[rng.integers(0, topics, m)] + rng.standard_normal((m, DIM)).astype(np.float32) * 0.05
        out[lo:lo + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def pct(xs: list[float]) -> str:
    a = np.array(xs) * 1000
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms"


def fill_sqlite(path: Path, vecs: np.ndarray, model: str) -> object:
    engine = create_engine(f"sqlite:///{path}")
    PaperEmbedding.metadata.create_all(engine, tables=[PaperEmbedding.__table__])
    t = time.perf_counter()
    with engine.begin() as conn:
        for lo in range(0, len(vecs), 20_000):
            conn.execute(insert(PaperEmbedding.__table__), [
                {"paper_id": lo + i + 1, "model": model, "content_hash": "x", "dim": DIM,
                 "vector": v.astype("<f4").tobytes()} for i, v in enumerate(vecs[lo:lo + 20_000])])
    print(f"  (sqlite filled in {time.perf_counter() - t:.0f} s)")
    return engine


def run(n: int, *, queries: int, load_max: int, hnsw: bool, workdir: Path) -> None:
    print(f"\n== {n:,} vectors, {DIM}-d, Gaussian mixture ==")
    vecs = mixture(n)
    qs = mixture(queries, seed=1)
    if n <= load_max:
        engine = fill_sqlite(workdir / f"emb{n}.db", vecs, "bench")
        store = ExactStore(engine, "bench", max_vectors=n)
        t = time.perf_counter()
        store.load()
        load_s = time.perf_counter() - t
        print(f"load from SQLite      {load_s:7.1f} s  ({n / load_s:,.0f} vectors/s, chunks of {store.chunk:,})")
    else:
        store = ExactStore.__new__(ExactStore)
        store.ids, store.matrix, store.size = np.arange(1, n + 1, dtype=np.int64), vecs, n
        print("load from SQLite      (not timed at this size: --load-max)")
    print(f"memory                {store.nbytes / n:7.0f} B per paper, {store.nbytes / 2**20:,.0f} MiB in all")
    times = []
    for q in qs:
        t = time.perf_counter()
        store.search(q, K)
        times.append(time.perf_counter() - t)
    print(f"exact f16 (usearch)   {pct(times)}")
    f32 = vecs[: min(n, 1_000_000)].astype(np.float32)
    times = []
    for q in qs[:20]:
        t = time.perf_counter()
        sims = np.concatenate([f32[i:i + 8192] @ q.astype(np.float32) for i in range(0, len(f32), 8192)])
        np.argpartition(-sims, K)[:K]
        times.append(time.perf_counter() - t)
    print(f"numpy f32 scan        {pct(times)}  (20 queries)")
    del f32
    if hnsw:
        index = vx.new_hnsw(DIM)
        t = time.perf_counter()
        index.add(np.arange(1, n + 1, dtype=np.uint64), vecs.astype(np.float32), threads=1)
        print(f"HNSW build (1 thread) {time.perf_counter() - t:7.1f} s")
        times = []
        for q in qs:
            t = time.perf_counter()
            index.search(q.astype(np.float32), K, threads=1)
            times.append(time.perf_counter() - t)
        print(f"HNSW                  {pct(times)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--papers", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--load-max", type=int, default=200_000, help="largest size loaded from SQLite")
    ap.add_argument("--hnsw", action="store_true", help="also build HNSW at each size (slow: ~25 min at 1M)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pb-exact-") as tmp:
        for n in args.papers:
            run(n, queries=args.queries, load_max=args.load_max, hnsw=args.hnsw, workdir=Path(tmp))


if __name__ == "__main__":
    main()
