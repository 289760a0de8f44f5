"""Search benchmark: build a synthetic N-paper store and time keyword, vector and hybrid search.

    .venv/bin/python bench/search.py                 # 1,000,000 papers
    .venv/bin/python bench/search.py --papers 100000 --queries 200
    .venv/bin/python bench/search.py --only embed    # embedding throughput: raw model vs pipeline
    # build the 1M corpus once (the HNSW build is most of the time), then time queries on it:
    .venv/bin/python bench/search.py --dir /tmp/pbwork/bench1m --build-only --only search
    .venv/bin/python bench/search.py --dir /tmp/pbwork/bench1m --reuse
    # search latency while the indexer embeds real papers, against the idle index:
    .venv/bin/python bench/search.py --only during-index --index-papers 2000

Prints p50/p95/p99 per query kind, index build times, sizes and memory, with raw
baselines from the same run: SQLite FTS5 bm25() for keywords, a numpy brute-force
scan for vectors (plus HNSW recall@10 against it), and the bare MiniLM forward pass
(tokenizer + transformer + mean pooling, fp32, 1 thread) next to sentence-transformers'
encode() and the service's embed_query. Services and their baselines are timed twice,
alternating, with the load average printed (the machine is shared). Text is synthetic (Zipf-distributed
pseudo-words); vectors are random unit vectors (the hardest case for HNSW: its recall@10
on them is ~0.01 at 1M, which says nothing about real embeddings; bench/hnsw_recall.py
measures recall on real-like ones); the hybrid query embedding uses the real
all-MiniLM-L6-v2. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from paperboy.config import Settings  # noqa: E402
from paperboy.index import jobs  # noqa: E402
from paperboy.index import vectors as vx  # noqa: E402
from paperboy.index.embedder import embedder_name, get_embedder, paper_text  # noqa: E402
from paperboy.index.service import SearchService  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from paperboy.store.models import Paper, utcnow  # noqa: E402

DIM = 384
CATS = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "cs.RO", "stat.ML", "math.OC", "physics.optics", "q-bio.NC", "eess.IV"]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20


def time_each(fn, items) -> list[float]:
    """Seconds each ``fn(item)`` took."""
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return times


def pct(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms  p99 {np.percentile(a, 99):7.2f} ms"


def vocabulary(rng, n=60_000) -> np.ndarray:
    letters = np.array(list("etaoinshrdlucmfwypvbgkqjxz"))
    p = 1 / np.arange(1, 27)
    p /= p.sum()
    words = set()
    while len(words) < n:
        length = rng.integers(3, 11)
        words.add("".join(rng.choice(letters, length, p=p)))
    return np.array(sorted(words))


def zipf_ids(rng, size, n) -> np.ndarray:
    return np.minimum(rng.zipf(1.15, size) - 1, n - 1)


def build_papers(engine, n: int, rng, vocab: np.ndarray) -> list[tuple[int, str, str]]:
    """Insert n synthetic papers; returns (id, title, abstract) rows for the FTS5 baseline."""
    names = np.array([f"{a.title()} {b.title()}" for a, b in zip(vocab[rng.integers(0, 5000, 20000)],
                                                                   vocab[rng.integers(0, 5000, 20000)], strict=True)])
    now = utcnow()
    out = []
    chunk = 10_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        title_words = vocab[zipf_ids(rng, (m, 10), len(vocab))]
        abs_words = vocab[zipf_ids(rng, (m, 150), len(vocab))]
        rows = []
        for i in range(m):
            pid = start + i + 1
            title = " ".join(title_words[i])
            abstract = " ".join(abs_words[i])
            day = dt.date(2020, 1, 1) + dt.timedelta(days=int(pid % 2000))
            rows.append({
                "id": pid, "arxiv_id": f"{2000 + pid // 100000}.{pid % 100000:05d}", "version": 1,
                "title": title, "abstract": abstract,
                "authors_text": ", ".join(names[rng.integers(0, len(names), 3)]),
                "primary_category": CATS[pid % len(CATS)], "categories": CATS[pid % len(CATS)],
                "announced_on": day, "links": [], "sources": "bench", "content_hash": f"{pid:032x}",
                "upvotes": int(pid % 7), "num_comments": 0, "hidden": False, "created_at": now, "modified_at": now,
            })
            out.append((pid, title, abstract))
        with engine.begin() as conn:
            conn.execute(insert(Paper.__table__), rows)
        print(f"\r  papers {start + m:,}/{n:,}", end="", flush=True)
    print()
    return out


def make_queries(rng, vocab, count) -> list[str]:
    # 2-4 words from the frequent-but-not-stopword range, like typed queries
    return [" ".join(vocab[rng.integers(20, 3000, rng.integers(2, 5))]) for _ in range(count)]


def read_rows(engine) -> list[tuple[int, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, title, abstract FROM papers ORDER BY id")]


def build_fts5(rows, path: Path) -> None:
    t = time.perf_counter()
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.execute("CREATE VIRTUAL TABLE fts USING fts5(title, abstract, tokenize='porter unicode61')")
    con.executemany("INSERT INTO fts(rowid, title, abstract) VALUES (?, ?, ?)", rows)
    con.commit()
    con.close()
    print(f"  FTS5 build {time.perf_counter() - t:.1f}s, {path.stat().st_size / 2**20:.0f} MB")


def bench_fts5(queries, path: Path) -> None:
    con = sqlite3.connect(path)
    times = []
    for q in queries:
        match = " OR ".join(f'"{w}"' for w in q.split())
        t = time.perf_counter()
        con.execute("SELECT rowid, bm25(fts, 2.0, 1.0) AS r FROM fts WHERE fts MATCH ? ORDER BY r LIMIT 20",
                    (match,)).fetchall()
        times.append(time.perf_counter() - t)
    print(f"  baseline SQLite FTS5 bm25 top-20        {pct(times)}")
    con.close()


def bench_pg_fts(rows, queries, url: str) -> None:
    """PostgreSQL's own full-text search on the same papers (weighted tsvector, GIN, ts_rank)."""
    import psycopg

    url = url.replace("postgresql+psycopg://", "postgresql://")
    name = f"paperboy_bench_fts_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        base, _, _ = url.rpartition("/")
        with psycopg.connect(f"{base}/{name}", autocommit=True) as con:
            t = time.perf_counter()
            con.execute("CREATE TABLE docs (id int primary key, title text, abstract text)")
            with con.cursor().copy("COPY docs (id, title, abstract) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            con.execute("ALTER TABLE docs ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                        "(setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')) STORED")
            con.execute("CREATE INDEX docs_tsv ON docs USING gin (tsv)")
            con.execute("ANALYZE docs")
            print(f"  PostgreSQL FTS build {time.perf_counter() - t:.1f}s ({len(rows):,} docs)")
            times = []
            for q in queries:
                t = time.perf_counter()
                con.execute(
                    "SELECT id, ts_rank(tsv, q) AS r FROM docs, to_tsquery('english', %s) q "
                    "WHERE tsv @@ q ORDER BY r DESC LIMIT 20", (" | ".join(q.split()),)).fetchall()
                times.append(time.perf_counter() - t)
            print(f"  baseline PostgreSQL ts_rank top-20       {pct(times)}")
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_embedding(n: int) -> None:
    """Raw model throughput vs the pipeline (embed_missing: DB read, embed, DB write)."""
    import orjson

    daily = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "daily"
    recs = {}
    for f in sorted(daily.glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            r = orjson.loads(line)
            recs.setdefault(r["id"], (r["title"], " ".join(r["summary"].split())))
            if len(recs) >= n:
                break
        if len(recs) >= n:
            break
    texts = [paper_text(t, a) for t, a in recs.values()]
    emb = get_embedder("minilm")
    emb.embed(texts[:16])  # warm up
    import torch

    print(f"embedding {len(texts)} real abstracts, {emb.name}, device {emb.model.device}, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/e.db")
        upgrade(engine)
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(insert(Paper.__table__), [
                {"id": i + 1, "arxiv_id": f"9999.{i:05d}", "title": t, "abstract": a, "authors_text": "", "categories": "",
                 "links": [], "sources": "bench", "content_hash": f"{i:032x}", "version": 1, "upvotes": 0,
                 "num_comments": 0, "hidden": False, "created_at": now, "modified_at": now}
                for i, (t, a) in enumerate(recs.values())
            ])
        for round_ in (1, 2):  # alternate, the machine is shared
            t = time.perf_counter()
            emb.model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
            raw = len(texts) / (time.perf_counter() - t)
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM paper_embeddings")
            t = time.perf_counter()
            done = jobs.embed_missing(engine, emb)
            pipe = done / (time.perf_counter() - t)
            print(f"  round {round_}: raw model.encode {raw:.1f} papers/s, pipeline embed_missing {pipe:.1f} papers/s "
                  f"({pipe / raw:.0%} of raw)")
        for seq in (128,):
            e2 = get_embedder("minilm", max_seq_length=seq)
            t = time.perf_counter()
            e2.embed(texts)
            print(f"  max_seq_length {seq}: {len(texts) / (time.perf_counter() - t):.1f} papers/s")
        engine.dispose()


def raw_query_embedder(emb):
    """The model without the service around it: tokenizer + transformer + mean pooling on 1 thread."""
    import torch

    st = emb.model
    tok, hf = st.tokenizer, st[0].auto_model

    def embed(text: str) -> np.ndarray:
        with torch.inference_mode():
            enc = tok([text], padding=True, truncation=True, max_length=256, return_tensors="pt")
            out = hf(**enc).last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(out.dtype)
            v = (out * mask).sum(1) / mask.sum(1)
            return torch.nn.functional.normalize(v, dim=1)[0].numpy()

    return embed


def bench_queries(settings, engine, queries: list[str], vecs: np.ndarray) -> None:
    import torch

    from paperboy.index.query import parse_query

    svc = SearchService(settings, engine)
    svc.search("warm up", mode="keyword")
    emb = get_embedder("minilm")
    svc._embedder = emb
    qrng = np.random.default_rng(45)
    qvecs = qrng.standard_normal((len(queries), DIM), dtype=np.float32)
    qvecs /= np.linalg.norm(qvecs, axis=1, keepdims=True)
    print(f"queries: {len(queries)} distinct, 2-4 words, top 20; service RSS {rss_mb():.0f} MB "
          f"(HNSW memory-mapped: {svc._vec.hnsw is not None}); {load()}")

    kw = svc._kw
    parsed = [parse_query(q) for q in queries]
    for round_ in (1, 2):  # alternate raw and service: the machine is shared
        times = time_each(lambda pq: kw.search(kw.build(pq), limit=20), parsed)
        print(f"  tantivy BM25 top-20 (raw)               {pct(times)}  round {round_}")
        times = time_each(lambda q: svc.search(q, mode="keyword"), queries)
        print(f"  keyword search (service: +hits, snippets) {pct(times)}  round {round_}, {load()}")

    exact_ids, times = [], []
    sub = qvecs[: min(100, len(qvecs))]
    for qv in sub:
        t = time.perf_counter()
        sims = vecs @ qv
        top = np.argpartition(-sims, 10)[:10]
        exact_ids.append(set((top[np.argsort(-sims[top])] + 1).tolist()))
        times.append(time.perf_counter() - t)
    print(f"  baseline numpy brute force top-10        {pct(times)}")
    served_ef = svc._vec.ef_search  # the setting's, or chosen by the index's size
    for ef in sorted({64, served_ef, 256}):
        if svc._vec.hnsw is None:
            break
        svc._vec.hnsw.expansion_search = ef
        times, recall = [], []
        for qv, ex in zip(sub, exact_ids, strict=True):
            t = time.perf_counter()
            got, _ = svc._vec.search(qv, 10)
            times.append(time.perf_counter() - t)
            recall.append(len(ex & set(got)) / 10)
        print(f"  usearch HNSW top-10 ef={ef:<4}            {pct(times)}  recall@10 {np.mean(recall):.3f}")
    if svc._vec.hnsw is not None:
        svc._vec.hnsw.expansion_search = served_ef  # the setting's, for the timings below

    raw = raw_query_embedder(emb)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    raw("warm up")
    for round_ in (1, 2):
        times = time_each(raw, queries)
        print(f"  baseline raw MiniLM forward, 1 thread   {pct(times)}  round {round_}")
        times = time_each(lambda q: emb.model.encode([q], normalize_embeddings=True, convert_to_numpy=True,
                                                     show_progress_bar=False), queries)
        print(f"  sentence-transformers encode(), 1 thread {pct(times)}  round {round_}")
        times = time_each(emb.embed_query, queries)
        print(f"  query embedding (embedder.embed_query)   {pct(times)}  round {round_}, {load()}")
    torch.set_num_threads(threads)

    def hybrid(q: str) -> None:
        svc.search(q + " hybrid", mode="hybrid")

    for round_ in (1, 2):
        svc.clear_query_cache()
        times = time_each(hybrid, queries)
        print(f"  hybrid search incl. query embedding      {pct(times)}  round {round_}, {load()}")
    times = time_each(hybrid, queries)
    print(f"  hybrid, repeated query (cached embed)    {pct(times)}")
    times = time_each(lambda q: svc.search(q + " hybrid", mode="hybrid", category="cs.CV"), queries)
    print(f"  hybrid + category filter (cached embed)  {pct(times)}")


STATE = "bench-state.json"


def load_state(work: Path, n: int, nv: int) -> set[str]:
    """Build stages a previous run finished in ``work`` for the same corpus size."""
    import json

    try:
        state = json.loads((work / STATE).read_text())
    except (FileNotFoundError, ValueError):
        return set()
    if state.get("papers") != n or state.get("vectors") != nv:
        return set()
    return set(state.get("done", []))


def save_state(work: Path, n: int, nv: int, done: set[str]) -> None:
    import json

    (work / STATE).write_text(json.dumps({"papers": n, "vectors": nv, "done": sorted(done)}))


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def import_daily(settings, engine, n: int) -> int:
    """Real papers: whole daily listing files of ../shared/data/arxiv/daily until n are stored."""
    from sqlalchemy import func, select

    from paperboy.ingest.listing import SOURCE, listing_files, read_listing
    from paperboy.ingest.pipeline import run_source

    daily = Path(__file__).resolve().parents[2] / "shared" / "data" / "arxiv" / "daily"
    stored = 0
    for path in listing_files([daily]):
        run_source(engine, f"{SOURCE}:{path.resolve()}", read_listing(path))
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(Paper))
        if stored >= n:
            break
    return stored


def title_queries(engine, count: int) -> list[str]:
    """Distinct 2-4 word pieces of real titles, like typed queries."""
    with engine.connect() as conn:
        titles = [t for (t,) in conn.exec_driver_sql("SELECT title FROM papers ORDER BY id")]
    return typed_queries(titles, count)


def typed_queries(titles: list[str], count: int, seed: int = 46) -> list[str]:
    """Distinct 2-4 word pieces of the given titles, like typed queries."""
    rng = np.random.default_rng(seed)
    out: dict[str, None] = {}
    while len(out) < count:
        words = titles[int(rng.integers(len(titles)))].split()
        k = int(rng.integers(2, 5))
        start = int(rng.integers(max(1, len(words) - k + 1)))
        out[" ".join(words[start:start + k]).strip(".,:;()")] = None
    return list(out)


def bench_during_index(n: int, count: int, pace: float) -> None:
    """p50/p95 of the service's search (default hybrid mode, query embedded every time)
    while the indexer `paperboy serve` runs embeds every paper, against the same queries
    on the idle index before (keyword only: no vectors yet) and after (all vectors)."""
    from paperboy.index.jobs import count_missing, refresh_index, start_background_indexer

    tmp = tempfile.TemporaryDirectory(prefix="paperboy-bench-idx-")
    settings = Settings(data_dir=Path(tmp.name), embedder="minilm")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    stored = import_daily(settings, engine, n)
    refresh_index(settings, engine, progress=False, embed=False)
    queries = title_queries(engine, count)
    svc = SearchService(settings, engine)
    svc.search(queries[0])
    svc._embed_query("warm up the query model")
    print(f"{stored:,} real papers, keyword index built, no vectors; {len(queries)} distinct title queries, "
          f"{pace * 1000:.0f} ms apart; {load()}")

    def timed(q: str) -> tuple[float, str]:
        t = time.perf_counter()
        res = svc.search(q)
        return time.perf_counter() - t, res.mode

    def report(label: str, samples: list[tuple[float, str]], mode: str | None = None) -> list[float]:
        times = [t for t, m in samples if mode is None or m == mode]
        if times:
            print(f"  {label:<44} {pct(times)}  n={len(times)}")
        return times

    idle_kw = [timed(q) for q in queries]
    report("idle, no vectors (keyword)", idle_kw)

    during: list[tuple[float, str]] = []
    started = time.perf_counter()
    indexer = start_background_indexer(settings, engine, interval=5.0)
    done_at = None
    while done_at is None:
        svc.clear_query_cache()
        for q in queries:
            during.append(timed(q))
            time.sleep(pace)
        if count_missing(engine, svc.model) == 0 and svc.search(queries[0]).semantic_coverage >= 1.0:
            done_at = time.perf_counter() - started
    indexer.stop.set()
    indexer.join(120)
    print(f"  indexer embedded {stored:,} papers in {done_at:.0f} s ({stored / done_at:.1f} papers/s, incl. "
          f"model load; the last ANN refresh included); {load()}")
    d_kw = report("during embedding, keyword (no vectors yet)", during, "keyword")
    d_hy = report("during embedding, hybrid", during, "hybrid")
    report("during embedding, all", during)

    after: list[tuple[float, str]] = []
    for _ in (1, 2):
        svc.clear_query_cache()
        for q in queries:
            after.append(timed(q))
            time.sleep(pace)
    a_hy = report("idle, all vectors (hybrid)", after, "hybrid")
    i_kw = [t for t, _ in idle_kw]
    if d_kw:
        print(f"  p95 ratio keyword during/idle {np.percentile(d_kw, 95) / np.percentile(i_kw, 95):.2f}")
    if d_hy and a_hy:
        print(f"  p95 ratio hybrid during/idle {np.percentile(d_hy, 95) / np.percentile(a_hy, 95):.2f}; "
              f"max during {max(d_hy) * 1000:.0f} ms; {load()}")
    engine.dispose()
    tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--only", choices=["search", "embed", "during-index", "all"], default="all")
    ap.add_argument("--index-papers", type=int, default=2000, help="Real papers for --only during-index.")
    ap.add_argument("--pace", type=float, default=0.05, help="Seconds between queries in --only during-index.")
    ap.add_argument("--embed-papers", type=int, default=400)
    ap.add_argument("--postgres", default=os.environ.get("PAPERBOY_TEST_POSTGRES_URL", ""),
                    help="Also time PostgreSQL's own FTS on the same papers (server URL).")
    ap.add_argument("--pg-papers", type=int, default=200_000, help="Papers in the PostgreSQL FTS baseline.")
    ap.add_argument("--vectors", type=int, default=0, help="Vectors in the ANN part (default: --papers).")
    ap.add_argument("--dir", default="", help="Work folder (default: a temporary one, removed after).")
    ap.add_argument("--reuse", action="store_true",
                    help="Reuse the corpus a previous run built in --dir (same --papers/--vectors): skip the "
                         "SQLite insert, tantivy, FTS5 and HNSW builds and only time the queries.")
    ap.add_argument("--build-only", action="store_true", help="Build the corpus in --dir and stop (for --reuse).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(f"cores {os.cpu_count()}, {load()} at start")
    if args.only == "during-index":
        bench_during_index(args.index_papers, min(args.queries, 200), args.pace)
        return
    if args.only in ("embed", "all") and not args.build_only:
        bench_embedding(args.embed_papers)
    if args.only == "embed":
        return
    if (args.reuse or args.build_only) and not args.dir:
        ap.error("--reuse and --build-only need --dir")
    tmp = tempfile.TemporaryDirectory(prefix="paperboy-bench-") if not args.dir else None
    work = Path(args.dir or tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    n = args.papers
    nv = args.vectors or n
    done = load_state(work, n, nv) if args.reuse else set()
    if (work / STATE).exists() and not done:
        ap.error(f"{work} holds a corpus from an earlier run"
                 + (" of another size" if args.reuse else ": pass --reuse") + ", or use an empty --dir")
    # Separate generators, so a reusing run gets the same vocabulary, queries and vectors
    # without re-generating the papers.
    rng = np.random.default_rng(42)
    vocab = vocabulary(rng)
    qrng = np.random.default_rng(43)
    queries = make_queries(qrng, vocab, args.queries)
    settings = Settings(data_dir=work, embedder="minilm")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    rows = None
    if "papers" in done:
        print(f"reusing {n:,} synthetic papers in {work}")
    else:
        print(f"building {n:,} synthetic papers in {work}")
        t = time.perf_counter()
        rows = build_papers(engine, n, rng, vocab)
        print(f"  SQLite insert {time.perf_counter() - t:.1f}s")
        done.add("papers")
        save_state(work, n, nv, done)

    if "tantivy" not in done:  # (a refresh would re-read the last 2 minutes of inserts: all of them)
        base_rss = rss_mb()
        t = time.perf_counter()
        jobs.refresh_keyword(settings, engine)
        print(f"  tantivy build (from the database, incl. reads) {time.perf_counter() - t:.1f}s, "
              f"{dir_mb(jobs.keyword_dir(settings)):.0f} MB on disk, process RSS +{rss_mb() - base_rss:.0f} MB")
        done.add("tantivy")
        save_state(work, n, nv, done)
    if "fts5" not in done:
        if rows is None:
            rows = read_rows(engine)
        build_fts5(rows, work / "fts5.db")
        done.add("fts5")
        save_state(work, n, nv, done)
    if args.postgres and not args.build_only:
        if rows is None:
            rows = read_rows(engine)
        bench_pg_fts(rows[: args.pg_papers], queries, args.postgres)
    del rows
    gc.collect()

    # vectors: random unit vectors under the default model's name
    vecs = np.random.default_rng(44).standard_normal((nv, DIM), dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    path = vx.vector_file(settings.resolved_index_dir, embedder_name("minilm"))
    if "hnsw" not in done or not path.exists():
        keys = np.arange(1, nv + 1, dtype=np.uint64)
        before = rss_mb()
        t = time.perf_counter()
        index = vx.new_hnsw(DIM)
        index.add(keys, vecs, threads=os.cpu_count() or 1)
        vx.save_hnsw(index, path)
        print(f"  usearch HNSW build of {nv:,} vectors {time.perf_counter() - t:.1f}s "
              f"(M={vx.CONNECTIVITY}, ef_add={vx.EXPANSION_ADD}, {vx.DTYPE}), "
              f"{path.stat().st_size / 2**20:.0f} MB on disk, RSS +{rss_mb() - before:.0f} MB while building")
        del index
        gc.collect()
        done.add("hnsw")
        save_state(work, n, nv, done)
    print(f"corpus ready, {load()}")
    if args.build_only:
        engine.dispose()
        return

    bench_fts5(queries, work / "fts5.db")
    bench_queries(settings, engine, queries, vecs)
    print(f"process max RSS {__import__('resource').getrusage(__import__('resource').RUSAGE_SELF).ru_maxrss / 1024:.0f} MB, "
          f"{load()} at end")
    engine.dispose()
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
