"""HNSW build time, recall@10 and latency against exact search, on real-like vectors.

    HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python bench/hnsw_recall.py --embed-only     # embed once
    nice -n 10 .venv/bin/python bench/hnsw_recall.py --sizes 100000 300000
    nice -n 10 .venv/bin/python bench/hnsw_recall.py --sizes 10000 50000 --random    # random unit vectors

Vectors: the real sample abstracts (``../shared/data/arxiv/daily``, title + abstract as the
service embeds them, all-MiniLM-L6-v2 at the service's 256 word pieces) are embedded once
and cached (``--cache``). N vectors are drawn as a real vector plus Gaussian noise,
renormalised; the noise (``--noise``, per-dimension sigma) is chosen so that the
nearest-neighbour cosine distribution of the N synthetic vectors resembles the real
sample's (both are printed: a cloud of noisy copies of ~10k papers must not turn into
~10k tight clusters, nor into random vectors). Queries: real typed-query embeddings (2-4
word pieces of held-out titles, embedded like a search) and, separately, held-out
papers' vectors ("more like this"); neither is in the index.

For each N: the HNSW build with the service's parameters (``paperboy/index/vectors.py``:
i8 re-ranked by the f32 vectors, or ``--dtype f16``; cosine, M, ef_add), its file size; then, per ef (``expansion_search``), recall@10
against an exact f32 scan of the same vectors and p50/p95 of a top-10 and of a top-110
search (what a hybrid query asks: ``SearchService`` fetches 110 candidates) through the
service's own ``VectorSearcher`` on the saved file, one thread, with ann-benchmarks'
"epsilon" recall beside it (a result counts if it is no farther than 1.01 times the exact
10th neighbour: near-ties are not misses); and the exact f16 store
(``ExactStore``, what a node serves while its file is built) at the same N. The load
average is printed with each figure (the machine is shared). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import typed_queries  # noqa: E402  (bench/search.py: the same typed queries)

from paperboy.index import vectors as vx  # noqa: E402
from paperboy.index.exact import DTYPE, ExactStore  # noqa: E402

DIM = 384
DAILY = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "daily"
EFS = (16, 32, 64, 128, 256)
HYBRID_K = 110  # the semantic candidates a hybrid query fetches (service.py)
EXACT_QUERIES = 100  # the exact store is timed on the first 100 queries of each set (it is slow)
EPSILON = 0.01  # of the cosine distance, for epsilon recall (ann-benchmarks' default)
SAMPLE_CACHE = Path("/tmp/pb-hnsw-sample-minilm.npz")  # the sample's vectors (--embed-only)
NOISE = 0.035  # per-dimension sigma, chosen with --calibrate (docs/scale.md)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def pct(xs: list[float]) -> tuple[float, float]:
    a = np.array(xs) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def read_papers() -> tuple[list[str], list[str]]:
    """Distinct papers of the sample: (id, title + abstract as the service embeds it), and titles."""
    import orjson

    from paperboy.index.embedder import paper_text

    recs: dict[str, tuple[str, str]] = {}
    for f in sorted(DAILY.glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            r = orjson.loads(line)
            recs.setdefault(r["id"], (" ".join(r["title"].split()), " ".join(r["summary"].split())))
    return [paper_text(t, a) for t, a in recs.values()], [t for t, _ in recs.values()]



def embed_sample(cache: Path, queries: int) -> None:
    """Embed every sample paper (and typed queries from held-out titles) once, into ``cache``."""
    from paperboy.index.embedder import get_embedder

    texts, titles = read_papers()
    emb = get_embedder("minilm")
    print(f"embedding {len(texts):,} papers with {emb.name}, {load()}", flush=True)
    t = time.perf_counter()
    parts = []
    for lo in range(0, len(texts), 512):
        parts.append(emb.embed(texts[lo:lo + 512]))
        print(f"\r  {lo + len(parts[-1]):,}/{len(texts):,} in {time.perf_counter() - t:.0f} s", end="", flush=True)
    vecs = np.concatenate(parts).astype(np.float32)
    print(f"\n  {len(texts) / (time.perf_counter() - t):.1f} papers/s, {load()}")
    # The last 5% of papers (a fixed shuffle) are held out: their titles give the typed
    # queries and their vectors the "more like this" queries; neither is indexed.
    order = np.random.default_rng(7).permutation(len(texts))
    held = order[: len(texts) // 20]
    qtexts = typed_queries([titles[i] for i in held], queries)
    qvecs = np.stack([emb.embed_query(q) for q in qtexts]).astype(np.float32)
    np.savez(cache, vectors=vecs, held=held, queries=qvecs, query_texts=np.array(qtexts))
    print(f"  cached in {cache}")


def nn_cosines(vecs: np.ndarray, sample: int, seed: int = 3) -> np.ndarray:
    """Each of ``sample`` random rows' cosine with its nearest other row (exact)."""
    rows = np.random.default_rng(seed).choice(len(vecs), min(sample, len(vecs)), replace=False)
    best = np.full(len(rows), -1.0, dtype=np.float32)
    q = vecs[rows]
    for lo in range(0, len(vecs), 50_000):
        sims = vecs[lo:lo + 50_000] @ q.T  # (block, sample)
        own = (rows >= lo) & (rows < lo + 50_000)
        sims[rows[own] - lo, np.nonzero(own)[0]] = -1.0
        best = np.maximum(best, sims.max(axis=0))
    return best


def describe(label: str, cos: np.ndarray) -> None:
    p = np.percentile(cos, [5, 25, 50, 75, 95])
    print(f"  NN cosine {label:<34} p5 {p[0]:.3f}  p25 {p[1]:.3f}  p50 {p[2]:.3f}  p75 {p[3]:.3f}  p95 {p[4]:.3f}")


def sample_base(cache: Path = SAMPLE_CACHE) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """From ``embed_sample``'s cache: every sample vector, the held-out rows, the vectors
    not held out (what the synthetic vectors are drawn from), and the typed queries'."""
    data = np.load(cache)
    real, held = data["vectors"], data["held"]
    return real, held, np.delete(real, held, axis=0), data["queries"]


def noisy(base: np.ndarray, n: int, sigma: float, seed: int) -> np.ndarray:
    """``n`` unit vectors: base rows (each used n/len(base) times, in a shuffled order) plus
    N(0, sigma^2) per dimension, renormalised. f32."""
    rng = np.random.default_rng(seed)
    pick = np.resize(rng.permutation(len(base)), n)
    rng.shuffle(pick)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for lo in range(0, n, 100_000):
        m = min(100_000, n - lo)
        v = base[pick[lo:lo + m]] + rng.standard_normal((m, base.shape[1]), dtype=np.float32) * sigma
        out[lo:lo + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_top(vecs: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of each query's exact top-k by f32 cosine (rows are unit vectors)."""
    best_s = np.full((len(queries), 0), -2.0, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for lo in range(0, len(vecs), 100_000):
        sims = queries @ vecs[lo:lo + 100_000].T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        best_s = np.concatenate([best_s, np.take_along_axis(sims, part, 1)], axis=1)
        best_i = np.concatenate([best_i, part + lo], axis=1)
        keep = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    order = np.argsort(-best_s, axis=1)
    return np.take_along_axis(best_i, order, 1)


def timed_search(search, queries: np.ndarray, k: int) -> tuple[list[list[int]], list[float]]:
    got, times = [], []
    for q in queries:
        t = time.perf_counter()
        ids, _ = search(q, k)
        times.append(time.perf_counter() - t)
        got.append(ids)
    return got, times


def recall(got: list[list[int]], truth: np.ndarray, k: int) -> float:
    """Mean share of each query's exact top-k (ids = row + 1) found in ``got``."""
    return float(np.mean([len(set(g) & set((t[:k] + 1).tolist())) / k for g, t in zip(got, truth, strict=True)]))


def epsilon_recall(got: list[list[int]], vecs: np.ndarray, qs: np.ndarray, truth: np.ndarray, k: int = 10,
                   eps: float = EPSILON) -> float:
    """ann-benchmarks' "epsilon" recall: the share of the first k results whose exact cosine
    distance is at most (1 + eps) times that of the exact k-th neighbour. Unlike recall@k it
    does not count a miss when a result and a true neighbour are equally near (at 2.6M the
    synthetic set holds each real paper ~265 times, so the true top-10 lies among near-ties)."""
    shares = []
    for g, q, t in zip(got, qs, truth, strict=True):
        kth = 1.0 - float(vecs[t[k - 1]] @ q)
        rows = np.asarray(g[:k], dtype=np.int64) - 1
        dist = 1.0 - vecs[rows] @ q if len(rows) else np.zeros(0)
        shares.append(float(np.sum(dist <= kth * (1 + eps) + 1e-7)) / k)
    return float(np.mean(shares))


def near_ties(vecs: np.ndarray, qs: np.ndarray, truth: np.ndarray, k: int = 10, eps: float = EPSILON) -> float:
    """Median over queries of how many of the exact top-110 lie within (1 + eps) of the
    k-th neighbour's distance: how many vectors tie for the top-10's last places."""
    counts = []
    for q, t in zip(qs, truth, strict=True):
        dist = 1.0 - vecs[t] @ q
        counts.append(int(np.sum(dist <= dist[k - 1] * (1 + eps) + 1e-7)))
    return float(np.median(counts))


def run(n: int, vecs: np.ndarray, query_sets: dict[str, np.ndarray], workdir: Path, threads: int,
        efs: list[int], *, noise: str, keep: bool) -> None:
    truth = {name: exact_top(vecs, qs, HYBRID_K) for name, qs in query_sets.items()}
    for name, qs in query_sets.items():
        print(f"  {name}: median {near_ties(vecs, qs, truth[name]):.0f} of the exact top-{HYBRID_K} lie within "
              f"{EPSILON:.0%} of the 10th neighbour's cosine distance")
    keys = np.arange(1, n + 1, dtype=np.uint64)
    path = workdir / f"v{n}-{noise}-M{vx.CONNECTIVITY}-ef{vx.EXPANSION_ADD}-{vx.DTYPE}.usearch"
    if keep and path.exists():  # the same seed and size give the same vectors: its build is reusable
        print(f"  reusing {path} (built by an earlier run), {load()}")
    else:
        print(f"  building HNSW ({vx.DTYPE}, M={vx.CONNECTIVITY}, ef_add={vx.EXPANSION_ADD}, {threads} threads), "
              f"{load()}", flush=True)
        t = time.perf_counter()
        index = vx.new_hnsw(DIM)
        index.add(keys, vecs, threads=threads)
        build = time.perf_counter() - t
        vx.save_hnsw(index, path)
        del index
        print(f"  build {build:.1f} s ({n / build:,.0f} vectors/s), {path.stat().st_size / 2**20:.0f} MB on disk, "
              f"{load()}")
    # The service's read side, the file memory-mapped (HNSW even at or below BRUTE_FORCE_MAX,
    # where the service would scan instead).
    # An i8 file's candidates are re-ranked by the stored f32 vectors, as the service does
    # with paper_embeddings' rows (here: the same vectors, in memory).
    def stored(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return keys, vecs[np.asarray(keys, dtype=np.int64) - 1]

    searcher = vx.VectorSearcher(path, brute_force_max=0, stored=stored)
    print(f"  {'queries':<8} {'ef':>4}  {'recall@10':>9}  {'eps-recall':>9}  {'top-10 p50/p95 ms':>17}  "
          f"{'10 in 110':>9}  {'recall@110':>10}  {'top-110 p50/p95 ms':>18}")
    for name, qs in query_sets.items():
        for ef in efs:
            searcher.hnsw.expansion_search = ef
            print_row(name, str(ef), searcher.search, qs, truth[name], vecs=vecs)
    del searcher
    # The exact store (what a node serves while its file is built), filled in memory
    # instead of from the database: its search is what is timed.
    store = ExactStore.__new__(ExactStore)
    store.ids, store.matrix, store.size = keys.astype(np.int64), vecs.astype(DTYPE), n
    for name, qs in query_sets.items():
        qs = qs[:EXACT_QUERIES]
        print_row(name, "exact", store.search, qs, truth[name][:len(qs)], vecs=vecs,
                  note=f" (ExactStore, f16, 1 thread, {len(qs)} queries)")
    if not keep:
        path.unlink()


def print_row(name: str, label: str, search, qs, truth, *, vecs: np.ndarray, note: str = "") -> None:
    """One line: recall and latency of top-10 and of the hybrid's top-110 searches."""
    got10, t10 = timed_search(search, qs, 10)
    got110, t110 = timed_search(search, qs, HYBRID_K)
    a, b = pct(t10)
    c, d = pct(t110)
    print(f"  {name:<8} {label:>4}  {recall(got10, truth, 10):>9.3f}  {epsilon_recall(got10, vecs, qs, truth):>9.3f}  "
          f"{a:>7.2f} / {b:>7.2f}  {recall(got110, truth, 10):>9.3f}  {recall(got110, truth, HYBRID_K):>10.3f}  "
          f"{c:>7.2f} / {d:>7.2f}   {load()}{note}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", type=Path, default=SAMPLE_CACHE)
    ap.add_argument("--embed-only", action="store_true")
    ap.add_argument("--queries", type=int, default=300, help="typed queries embedded with --embed-only")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    ap.add_argument("--noise", type=float, default=NOISE, help="per-dimension sigma of the Gaussian noise")
    ap.add_argument("--random", action="store_true", help="random unit vectors and queries instead")
    ap.add_argument("--calibrate", type=float, nargs="*", default=None,
                    help="print the NN cosine distribution at the first size for these sigmas and stop")
    ap.add_argument("--ef", type=int, nargs="+", default=list(EFS), help="expansion_search values to time")
    ap.add_argument("--connectivity", type=int, default=vx.CONNECTIVITY, help="M of the build (the service's by default)")
    ap.add_argument("--ef-add", type=int, default=vx.EXPANSION_ADD, help="ef of the build (the service's by default)")
    ap.add_argument("--dtype", default=vx.DTYPE, choices=("f16", "i8"),
                    help="the file's scalar type (the service's by default; i8 is re-ranked by the f32 vectors)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="HNSW build threads")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="keep the HNSW files here and reuse them in a later run of the same sizes and noise")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    vx.CONNECTIVITY, vx.EXPANSION_ADD, vx.DTYPE = args.connectivity, args.ef_add, args.dtype  # new_hnsw reads them
    print(f"cores {os.cpu_count()}, {load()} at start")
    if not args.random and (args.embed_only or not args.cache.exists()):
        embed_sample(args.cache, args.queries)
    if args.embed_only:
        return
    rng = np.random.default_rng(11)
    if args.random:
        def unit(m: int) -> np.ndarray:
            v = rng.standard_normal((m, DIM), dtype=np.float32)
            return v / np.linalg.norm(v, axis=1, keepdims=True)
        query_sets = {"random": unit(args.queries)}
    else:
        real, held, base, typed = sample_base(args.cache)
        describe(f"real sample ({len(real):,} papers)", nn_cosines(real, len(real)))
        if args.calibrate is not None:
            for sigma in args.calibrate:
                describe(f"sigma {sigma}, {args.sizes[0]:,} vectors", nn_cosines(noisy(base, args.sizes[0], sigma, 1), 2000))
            return
        query_sets = {"typed": typed,
                      "similar": noisy(real[held], min(len(held), args.queries), args.noise, 2)}
    print("query sets: " + ", ".join(f"{k} {len(v)}" for k, v in query_sets.items()))
    tmp = tempfile.TemporaryDirectory(prefix="pb-hnsw-") if args.workdir is None else None
    workdir = args.workdir or Path(tmp.name)
    workdir.mkdir(parents=True, exist_ok=True)
    for n in args.sizes:
        vecs = unit(n) if args.random else noisy(base, n, args.noise, 1)
        print(f"\n== {n:,} vectors, " + ("random unit" if args.random else
              f"{len(base):,} real + noise sigma {args.noise}") + f", {load()} ==")
        if not args.random:
            describe(f"synthetic ({n:,}, 2,000 sampled)", nn_cosines(vecs, 2000))
        run(n, vecs, query_sets, workdir, args.threads, args.ef, noise="random" if args.random else str(args.noise),
            keep=args.workdir is not None)
        del vecs
    print(f"\n{load()} at end")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
