"""Paperboy at the size of all of arXiv: import, index and serve a 2.6M-paper snapshot.

    .venv/bin/python bench/scale.py [--records 2600000] [--workdir /work/scale-data]
        [--backends postgresql,sqlite] [--steps ingest,index,search,serve]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--keep]
    .venv/bin/python bench/scale.py --floor-records 300000 --steps floor

For each backend, one at a time, into a fresh store (PostgreSQL: a database ``pb_scale``
made and dropped here; SQLite: a file under the work folder, deleted after):

1. ``paperboy ingest snapshot FILE`` (the real command, as a subprocess) of a snapshot
   from ``bench/snapshot_gen.py`` (written first if missing, kept for the next run):
   wall time, records/s, peak RSS of every process (the importer, its parser processes
   and, on PostgreSQL, the server's backend for this database), then the store's size.
2. ``paperboy index build --no-embed`` with the null embedder (keyword index only):
   time, peak RSS, size on disk. After ``vectors`` (below), ``paperboy index build`` with
   the MiniLM embedder instead: the keyword index and the HNSW file from the stored
   vectors (nothing is left to embed), what a new node without a peer to copy from runs.
3. Keyword search in a process of its own, as the web uses it (``SearchService.search``,
   mode keyword; raw tantivy beside it): p50/p95/p99 over distinct 2-4 word queries
   taken from the sample's titles, twice.
4. ``paperboy serve``: other queries over HTTP (``/api/papers/search``, ``/search``), then
   the web process's peak RSS.
5. ``fresh`` (after ``vectors``): a new node alone, ``paperboy serve`` on an empty index
   dir with its own indexer and no peer to copy from, polled with a hybrid ``/search``
   every 5 s: when it answers, when its keyword index holds every paper, when semantic
   matches cover them all (the stored vectors searched exactly meanwhile) and when the
   HNSW file it builds takes over; the searches' times in between; peak RSS.

``vectors`` stores a real-like vector for every paper in ``paper_embeddings``, under the
MiniLM model's name, as if the workers had embedded them all: ``bench/hnsw_recall.py``'s
vectors (a real sample abstract's MiniLM vector plus Gaussian noise, sigma 0.035; run
``bench/hnsw_recall.py --embed-only`` once first). The ``index`` and ``serve`` steps then
use the MiniLM embedder, so searches over HTTP are hybrid (the query embedded in the web
process, keyword and vector candidates fused).

``floor`` runs ``bench/ingest.py --floor`` on a generated snapshot of ``--floor-records``
(the import's rate against the schema floor, both in the same run).

Peak RSS is the kernel's high-water mark (``VmHWM``) of each process, read every 0.2 s
while it lives; PostgreSQL backends count the shared buffers they touched. Figures only;
nothing asserted. The machine is shared: the load average is printed with each step.
"""

# SQL here is built from the bench's own database name.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAPERBOY = [sys.executable, "-c", "from paperboy.cli import app; app()"]
DB_NAME = "pb_scale"


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- processes and their memory ----------------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("VmHWM:", "VmRSS:", "RssAnon:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return found


def _pg_backends(dbname: str) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        cmd = _cmdline(int(proc.name))
        if cmd.startswith("postgres:") and f" {dbname} " in cmd:
            pids.append(int(proc.name))
    return pids


def _label(cmd: str) -> str:
    if cmd.startswith("postgres:"):
        return "postgres backend"
    if "multiprocessing.spawn" in cmd:  # the import's only spawned children: its parser processes
        return "snapshot parser"
    if "from paperboy.cli import app" in cmd:
        return "paperboy " + " ".join(cmd.split("app()", 1)[1].split()[:2])
    return cmd[:40]


class Watch:
    """Peak RSS (VmHWM) of a process, its descendants and (optionally) a database's
    PostgreSQL backends, sampled every 0.2 s while the process lives; and the peak of each
    one's private memory (``RssAnon`` as sampled: RSS also counts the pages of files it
    maps, such as the index files, which the kernel shares between processes and can
    drop and read again)."""

    def __init__(self, pid: int, pg_db: str | None = None) -> None:
        self.pid, self.pg_db = pid, pg_db
        self.peaks: dict[int, tuple[str, int]] = {}
        self.private: dict[int, int] = {}
        self.peak_total_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        pids = _descendants(self.pid) + (_pg_backends(self.pg_db) if self.pg_db else [])
        total = 0
        for pid in pids:
            st = _status(pid)
            if not st:
                continue
            total += st.get("VmRSS", 0)
            label = self.peaks.get(pid, (None, 0))[0] or _label(_cmdline(pid))
            self.peaks[pid] = (label, max(self.peaks.get(pid, ("", 0))[1], st.get("VmHWM", 0)))
            self.private[pid] = max(self.private.get(pid, 0), st.get("RssAnon", 0))
        self.peak_total_kb = max(self.peak_total_kb, total)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        by_label: dict[str, list[int]] = {}
        private: dict[str, list[int]] = {}
        for pid, (label, kb) in self.peaks.items():
            by_label.setdefault(label, []).append(kb)
            private.setdefault(label, []).append(self.private.get(pid, 0))
        return {"peak_rss_mb": {k: [round(v / 1024) for v in sorted(vs, reverse=True)] for k, vs in by_label.items()},
                "peak_private_mb": {k: [round(v / 1024) for v in sorted(vs, reverse=True)] for k, vs in private.items()},
                "peak_sum_rss_mb": round(self.peak_total_kb / 1024)}


def run(args: list[str], env: dict, pg_db: str | None = None, label: str = "") -> dict:
    """Run a command to its end under a Watch; its wall time, peak RSS and last output lines."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watch = Watch(proc.pid, pg_db)
    out, _ = proc.communicate()
    mem = watch.stop()
    wall = time.perf_counter() - t0
    text = out.decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{label or args}: exit {proc.returncode}\n{text[-3000:]}")
    last = [ln for ln in text.replace("\r", "\n").splitlines() if ln.strip() and "━" not in ln][-3:]
    return {"wall_s": round(wall, 1), **mem, "output": last}


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6 if path.exists() else 0.0


# --- stores --------------------------------------------------------------------------------


def _conninfo(pg_url: str, dbname: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    if dbname:
        u = u.set(database=dbname)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def make_store(backend: str, workdir: Path, pg_url: str) -> tuple[str, Path]:
    data_dir = workdir / f"data-{backend}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    if backend == "sqlite":
        return f"sqlite:///{data_dir / 'paperboy.db'}", data_dir
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(_conninfo(pg_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB_NAME}"')
    return make_url(pg_url).set(database=DB_NAME).render_as_string(hide_password=False), data_dir


def drop_store(backend: str, data_dir: Path, pg_url: str) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)
    if backend == "postgresql":
        import psycopg

        with psycopg.connect(_conninfo(pg_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def store_size(backend: str, url: str, data_dir: Path) -> dict:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    tables = ("papers", "authors", "paper_authors", "paper_categories")
    with engine.connect() as conn:
        counts = {t: conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables}
        # The page cache's version of the papers (web/cache.py, as the code reads it), read
        # by web requests, beside both maxima in one select (which SQLite answers by scanning
        # the table) and the count it used to take (which scanned every paper).
        from paperboy.web.cache import _VERSION

        version_ms: dict[str, list[float]] = {"now": [], "one_select": [], "with_count": []}
        for _ in range(3):
            for name, sql in (("now", _VERSION), ("one_select", text("SELECT max(modified_at), max(id) FROM papers")),
                              ("with_count", text("SELECT max(modified_at), count(*) FROM papers"))):
                t0 = time.perf_counter()
                conn.execute(sql).one()
                version_ms[name].append(round((time.perf_counter() - t0) * 1000, 2))
        if backend == "postgresql":
            size = {"database_mb": round(conn.scalar(text("SELECT pg_database_size(current_database())")) / 1e6),
                    **{f"{t}_mb": round(conn.scalar(text(f"SELECT pg_total_relation_size('{t}')")) / 1e6)
                       for t in tables}}
        else:
            db = data_dir / "paperboy.db"
            size = {f"{p.name}_mb": round(p.stat().st_size / 1e6)
                    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()}
    engine.dispose()
    return {"rows": counts, **size, "page_cache_version_query_ms": version_ms}


# --- search --------------------------------------------------------------------------------


def queries(n: int, seed: int = 11) -> list[str]:
    """Distinct 2-4 word queries from the real sample's titles (letters only)."""
    from bench.snapshot_gen import DAILY

    rng = random.Random(seed)
    titles = []
    for path in sorted(DAILY.glob("*.jsonl")):
        titles.extend(json.loads(line)["title"] for line in path.open(encoding="utf-8"))
    out: dict[str, None] = {}
    while len(out) < n:
        words = [w for w in rng.choice(titles).split() if w.isalpha() and len(w) > 2]
        if len(words) >= 2:
            k = rng.randint(2, min(4, len(words)))
            start = rng.randint(0, len(words) - k)
            out[" ".join(words[start:start + k]).lower()] = None
    return list(out)


def pct(times: list[float]) -> dict:
    import numpy as np

    a = np.array(times) * 1000
    return {f"p{p}_ms": round(float(np.percentile(a, p)), 2) for p in (50, 95, 99)}


def search_in_process(url: str, data_dir: Path, n: int) -> dict:
    """Keyword search as the web calls it, in this (fresh) process: raw tantivy and the
    service, alternated twice; RSS after opening and after the queries."""
    from paperboy.config import Settings
    from paperboy.index.query import parse_query
    from paperboy.index.service import SearchService
    from paperboy.store.db import make_engine

    def rss() -> int:
        return round(_status(os.getpid()).get("VmRSS", 0) / 1024)

    settings = Settings(data_dir=data_dir, database_url=url, embedder="null", mail_backend="null")
    engine = make_engine(url)
    svc = SearchService(settings, engine)
    svc.search("warm up", mode="keyword")
    opened = rss()
    qs = queries(n)
    kw, parsed = svc._kw, [parse_query(q) for q in qs]
    rounds = []
    for _ in (1, 2):
        raw, service = [], []
        for pq in parsed:
            t = time.perf_counter()
            kw.search(kw.build(pq), limit=20)
            raw.append(time.perf_counter() - t)
        for q in qs:
            t = time.perf_counter()
            svc.search(q, mode="keyword")
            service.append(time.perf_counter() - t)
        rounds.append({"tantivy_raw": pct(raw), "service_keyword": pct(service), "load": load()})
    return {"queries": len(qs), "rss_mb_opened": opened, "rss_mb_after": rss(), "rounds": rounds}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_and_query(env: dict, n: int) -> dict:
    import http.client

    port = _free_port()
    proc = subprocess.Popen([*PAPERBOY, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    watch = Watch(proc.pid)
    try:
        t0 = time.perf_counter()
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request("GET", "/")
                conn.getresponse().read()
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t0 > 300:
                    raise SystemExit("paperboy serve did not start") from None
                time.sleep(0.5)
        started = round(time.perf_counter() - t0, 1)
        # The first search loads what the process loads on demand (with an embedder, the
        # model that embeds queries): timed apart, from the start, as a new node's wait.
        conn.request("GET", "/api/papers/search?limit=20&q=" + urllib.parse.quote("warm up"))
        conn.getresponse().read()
        out = {"ready_s": started, "first_search_answered_s": round(time.perf_counter() - t0, 1)}
        qs = queries(n, seed=12)  # not the in-process queries: no page-cache hits
        for name, path in (("api_search", "/api/papers/search?limit=20&q="), ("search_page", "/search?q=")):
            times, statuses = [], set()
            for q in qs:
                t = time.perf_counter()
                conn.request("GET", path + urllib.parse.quote(q))
                r = conn.getresponse()
                r.read()
                times.append(time.perf_counter() - t)
                statuses.add(r.status)
            out[name] = {**pct(times), "status": sorted(statuses)}
        watch.sample()
        out["load"] = load()
    finally:
        proc.terminate()
        proc.wait(30)
        mem = watch.stop()
    return {**out, **mem}


def _keyword_docs(index_dir: Path) -> int:
    """Papers in the keyword index as a reader opened now sees them (0 before its first commit)."""
    from paperboy.index.keyword import KeywordIndex

    path = index_dir / "keyword"
    if not (path / "meta.json").exists():
        return 0
    try:
        return KeywordIndex(path).num_docs()
    except Exception:  # noqa: BLE001 - a commit under way: counted at the next poll
        return -1


def _ann_count(index_dir: Path) -> int:
    """Vectors in the saved HNSW file (0 while there is none)."""
    from usearch.index import Index

    files = list(index_dir.glob("vectors-*.usearch"))
    return max((int((Index.metadata(str(f)) or {}).get("count_present", 0)) for f in files), default=0)


def fresh_node(env: dict, data_dir: Path, records: int, n_queries: int, *, poll_s: float = 5.0,
               limit_s: float = 1800.0) -> dict:
    """A new web node alone: ``paperboy serve`` on an empty index dir, the database full
    (papers and their stored vectors), no peer to copy from. Its own indexer builds the
    keyword index, then the HNSW file; meanwhile the stored vectors are searched exactly
    (``PAPERBOY_EXACT_VECTORS_MAX`` set to hold all of them). Every ``poll_s`` a hybrid
    ``/search`` is sent and timed; the milestones are when the keyword index holds every
    paper, when semantic matches cover all of them too (no "Semantic matches cover N%"
    notice), and when the HNSW file takes over (the exact store released)."""
    import http.client
    import re

    shutil.rmtree(data_dir / "index", ignore_errors=True)
    env = {**env, "PAPERBOY_SERVE_WORKER": "false", "PAPERBOY_NODE_INDEXER": "true",
           "PAPERBOY_EXACT_VECTORS_MAX": str(records)}
    port = _free_port()
    log_path = data_dir / "fresh-serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen([*PAPERBOY, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                stdout=log_file, stderr=subprocess.STDOUT)
    watch = Watch(proc.pid)
    qs = queries(2000, seed=13)
    polls: list[dict] = []
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    conn = None
    try:
        while time.perf_counter() - t0 < limit_s and proc.poll() is None:
            now = round(time.perf_counter() - t0, 1)
            docs = _keyword_docs(data_dir / "index")
            if docs >= records:
                marks.setdefault("keyword_full_s", now)
            # The HNSW file, once saved with every vector: the next search re-opens it and
            # the exact store is released (``service._with_exact``).
            released = "ann_file_s" in marks
            ann = _ann_count(data_dir / "index")
            if not released and ann >= records:
                marks["ann_file_s"] = now
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                t = time.perf_counter()
                conn.request("GET", "/search?q=" + urllib.parse.quote(qs[len(polls) % len(qs)]))
                r = conn.getresponse()
                body = r.read().decode(errors="replace")
                took = round((time.perf_counter() - t) * 1000, 1)
            except OSError:
                conn = None
                time.sleep(0.5)
                continue
            marks.setdefault("ready_s", now)
            cover = re.search(r"Semantic matches cover (\d+)%", body)
            poll = {"t": now, "status": r.status, "ms": took, "keyword_docs": docs,
                    "cover": int(cover.group(1)) if cover else 100, "ann_vectors": ann, "ann": released}
            polls.append(poll)
            print(f"  {json.dumps(poll)}  {load()}", flush=True)
            if r.status == 200 and docs >= records and not cover:
                marks.setdefault("hybrid_full_s", now)
            if released:  # this search re-opened the file: the HNSW serves from here on
                marks.setdefault("ann_serving_s", now)
                break
            time.sleep(poll_s)
        out: dict = {"milestones": marks}
        exact_phase = [p["ms"] for p in polls if "hybrid_full_s" in marks and p["t"] >= marks["hybrid_full_s"]
                       and not p["ann"]]
        if exact_phase:
            out["search_while_building_ms"] = {**pct([x / 1000 for x in exact_phase]), "n": len(exact_phase)}
        if "ann_serving_s" in marks and conn is not None:
            times = []
            for q in qs[-n_queries:]:
                t = time.perf_counter()
                conn.request("GET", "/search?q=" + urllib.parse.quote(q))
                conn.getresponse().read()
                times.append(time.perf_counter() - t)
            out["search_after_ann"] = pct(times)
        out["load"] = load()
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        mem = watch.stop()
    return {**out, **mem}


def store_vectors(url: str, embedder: str, seed: int, chunk: int = 20_000) -> dict:
    """A real-like vector for every paper, stored as the embedding workers store theirs
    (``paper_embeddings``, the model's name, the paper's content hash). The vectors are
    ``bench/hnsw_recall.py``'s: a real sample abstract's MiniLM vector plus Gaussian noise
    (sigma 0.035, chosen there to match the sample's nearest-neighbour cosines)."""
    import datetime as dt

    from sqlalchemy import insert, select

    from bench import hnsw_recall
    from paperboy.index.embedder import embedder_name
    from paperboy.index.models import PaperEmbedding
    from paperboy.store.db import make_engine
    from paperboy.store.models import Paper

    if not hnsw_recall.SAMPLE_CACHE.exists():
        raise SystemExit(f"{hnsw_recall.SAMPLE_CACHE} is missing: run bench/hnsw_recall.py --embed-only first")
    base = hnsw_recall.sample_base()[2]
    model = embedder_name(embedder)
    emb, papers = PaperEmbedding.__table__, Paper.__table__
    engine = make_engine(url)
    t0 = time.perf_counter()
    stored = 0
    with engine.connect() as conn:
        rows = conn.execute(select(papers.c.id, papers.c.content_hash).order_by(papers.c.id)).all()
    now = dt.datetime.now(dt.UTC)
    for lo in range(0, len(rows), chunk):
        part = rows[lo:lo + chunk]
        vecs = hnsw_recall.noisy(base, len(part), hnsw_recall.NOISE, seed * 1_000_003 + lo)
        with engine.begin() as conn:
            conn.execute(insert(emb), [
                {"paper_id": r.id, "model": model, "content_hash": r.content_hash, "dim": vecs.shape[1],
                 "vector": v.astype("<f4").tobytes(), "embedded_at": now}
                for r, v in zip(part, vecs, strict=True)])
        stored += len(part)
        print(f"\r  stored {stored:,}/{len(rows):,} vectors", end="", flush=True)
    print()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE paper_embeddings")
    return {"vectors": stored, "model": model, "wall_s": round(time.perf_counter() - t0, 1), "load": load()}


# --- the run -------------------------------------------------------------------------------


def ensure_snapshot(workdir: Path, records: int, seed: int, text: str = "sample") -> Path:
    path = workdir / f"snapshot-{records}-s{seed}{'' if text == 'sample' else '-' + text}.json"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "bench" / "snapshot_gen.py"), "--records", str(records),
                        "--seed", str(seed), "--text", text, "--out", str(path)], check=True)
        print(f"generated {path} in {time.perf_counter() - t0:.0f}s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2_600_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--text", choices=("sample", "unigram"), default="sample",
                    help="the snapshot's titles and abstracts (bench/snapshot_gen.py --text): unigram is the "
                         "generator of the first 2.6M figures, whose words are spread over far more papers")
    ap.add_argument("--workdir", type=Path, default=Path("/work/scale-data"))
    ap.add_argument("--backends", default="postgresql,sqlite")
    ap.add_argument("--steps", default="ingest,index,search,serve",
                    help="any of ingest,vectors,index,search,serve,fresh,floor")
    ap.add_argument("--embedder", default=None,
                    help="embedder of the index, serve and fresh steps (default: minilm with the vectors or fresh step, else null)")
    ap.add_argument("--pg-url", default=os.environ.get("PAPERBOY_BENCH_POSTGRES_URL")
                    or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--queries", type=int, default=500, help="keyword queries timed in process")
    ap.add_argument("--serve-queries", type=int, default=100, help="queries sent to paperboy serve, per route")
    ap.add_argument("--floor-records", type=int, default=300_000)
    ap.add_argument("--keep", action="store_true", help="keep the stores (and pb_scale) after the run")
    ap.add_argument("--search-only", nargs=2, metavar=("URL", "DATA_DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.search_only:  # step 3, in a process of its own
        print(json.dumps(search_in_process(args.search_only[0], Path(args.search_only[1]), args.queries)))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    steps = set(args.steps.split(","))
    print(f"cpus {os.cpu_count()}, {load()}, disk free {shutil.disk_usage(args.workdir).free / 1e9:.0f} GB")

    if "floor" in steps:
        snap = ensure_snapshot(args.workdir, args.floor_records, args.seed, args.text)
        subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--records", str(args.floor_records),
                        "--snapshot", str(snap), "--floor", "--backends", args.backends,
                        "--workdir", str(args.workdir / "floor"), "--pg-url", args.pg_url], check=True)
        shutil.rmtree(args.workdir / "floor", ignore_errors=True)
    if not steps & {"ingest", "vectors", "index", "search", "serve", "fresh"}:
        return
    snapshot = ensure_snapshot(args.workdir, args.records, args.seed, args.text)
    print(f"snapshot {snapshot} ({snapshot.stat().st_size / 1e9:.2f} GB, {args.records:,} records)")
    for backend in args.backends.split(","):
        if "ingest" in steps:
            url, data_dir = make_store(backend, args.workdir, args.pg_url)
        else:
            data_dir = args.workdir / f"data-{backend}"
            url = (f"sqlite:///{data_dir / 'paperboy.db'}" if backend == "sqlite" else
                   _conninfo(args.pg_url, DB_NAME).replace("postgresql://", "postgresql+psycopg://", 1))
        embedder = args.embedder or ("minilm" if steps & {"vectors", "fresh"} else "null")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(data_dir),
               "PAPERBOY_EMBEDDER": embedder, "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_SERVE_WORKER": "false",
               "HF_HUB_OFFLINE": "1", "COLUMNS": "120"}
        env.pop("PAPERBOY_CONFIG", None)
        pg_db = DB_NAME if backend == "postgresql" else None
        try:
            if "ingest" in steps:
                print(f"\n[{backend}] ingest snapshot ({load()})", flush=True)
                r = run([*PAPERBOY, "ingest", "snapshot", str(snapshot)], env, pg_db, "ingest")
                r["records_per_s"] = round(args.records / r["wall_s"])
                print(json.dumps(r), flush=True)
                print(json.dumps(store_size(backend, url, data_dir)), f"disk free "
                      f"{shutil.disk_usage(args.workdir).free / 1e9:.0f} GB", flush=True)
            if "vectors" in steps:
                print(f"\n[{backend}] vectors ({load()})", flush=True)
                print(json.dumps(store_vectors(url, embedder, args.seed)), flush=True)
            if "index" in steps:
                build = ["index", "build"] + (["--no-embed"] if embedder == "null" else [])
                print(f"\n[{backend}] {' '.join(build)}, embedder {embedder} ({load()})", flush=True)
                r = run([*PAPERBOY, *build], env, pg_db, "index build")
                r["index_mb"] = round(du_mb(data_dir / "index"))
                print(json.dumps(r), flush=True)
            if "search" in steps:
                print(f"\n[{backend}] keyword search in process ({load()})", flush=True)
                r = run([sys.executable, __file__, "--search-only", url, str(data_dir), "--queries",
                         str(args.queries)], env, None, "search")
                print(json.dumps({**json.loads(r["output"][-1]), "peak_rss_mb": r["peak_rss_mb"]}), flush=True)
            if "serve" in steps:
                print(f"\n[{backend}] paperboy serve ({load()})", flush=True)
                print(json.dumps(serve_and_query(env, args.serve_queries)), flush=True)
            if "fresh" in steps:
                print(f"\n[{backend}] a fresh node alone: paperboy serve on an empty index dir ({load()})",
                      flush=True)
                print(json.dumps(fresh_node(env, data_dir, args.records, args.serve_queries)), flush=True)
        finally:
            if not args.keep:
                drop_store(backend, data_dir, args.pg_url)


if __name__ == "__main__":
    main()
