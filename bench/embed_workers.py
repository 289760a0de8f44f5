"""Embedding throughput with 1 and 2 `paperboy worker` processes sharing the work.

    nice -n 10 .venv/bin/python bench/embed_workers.py                 # 2000 papers, 1 then 2 workers
    nice -n 10 .venv/bin/python bench/embed_workers.py --papers 5000 --workers 1 2 4
    .venv/bin/python bench/embed_workers.py --database-url postgresql+psycopg://...  # an empty database

Imports the newest daily listings of the sample (../shared/data/arxiv/daily) until it
has ``--papers`` papers, then for each worker count W embeds all of them from scratch
with the real all-MiniLM-L6-v2 (offline, on CPU unless PAPERBOY_EMBED_DEVICE says
otherwise): W `paperboy worker --embed-only` processes claim the embedding batches
through the database, each with ``cores // W`` torch threads (``--threads`` to
override). Prints, per W: the wall time from starting the processes until every paper
has a vector (model loading included) and the steady rate between the first and the
last batch written (from ``embedded_at``), with the load average before and after (the
machine may be shared: other work changes the figures). Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, select  # noqa: E402

from paperboy.index import batches  # noqa: E402
from paperboy.index.embedder import embedder_name  # noqa: E402
from paperboy.index.models import EmbedBatch, PaperEmbedding  # noqa: E402
from paperboy.ingest.listing import SOURCE, listing_files, read_listing  # noqa: E402
from paperboy.ingest.pipeline import run_source  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from paperboy.store.models import Paper  # noqa: E402

DAILY = ROOT.parent / "shared" / "data" / "arxiv" / "daily"
MODEL = embedder_name("minilm")
WORKER = "from paperboy.cli import app; app(['worker', '--embed-only'])"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def import_papers(engine, folder: Path, n: int) -> int:
    """The newest listing files until at least ``n`` papers are stored."""
    for path in sorted(listing_files([folder]), reverse=True):
        with engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(Paper)) >= n:
                break
        run_source(engine, f"{SOURCE}:{path.resolve()}", read_listing(path))
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Paper))


def run(url: str, data_dir: Path, workers: int, threads: int, batch: int, total: int) -> dict:
    engine = make_engine(url)
    with engine.begin() as conn:  # from scratch: no vector, no batch
        conn.execute(delete(PaperEmbedding).where(PaperEmbedding.model == MODEL))
        conn.execute(delete(EmbedBatch))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(data_dir), "PAPERBOY_SECRET_KEY": "bench",
                "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "minilm", "PAPERBOY_EMBED_THREADS": str(threads),
                "PAPERBOY_EMBED_BATCH_SIZE": str(batch), "PAPERBOY_WORKER_POLL_SECONDS": "0.5",
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT),
                "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)})
    before = load()
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for _ in range(workers)]
    try:
        while batches.count_missing(engine, MODEL) > 0:
            if any(p.poll() is not None for p in procs):
                err = next(p for p in procs if p.poll() is not None).stderr.read().decode()[-2000:]
                raise SystemExit(f"a worker exited early:\n{err}")
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
    with engine.connect() as conn:
        stamps = sorted(conn.scalars(select(PaperEmbedding.embedded_at).where(PaperEmbedding.model == MODEL)))
        owners = conn.execute(select(func.count(func.distinct(EmbedBatch.id)))).scalar_one()
    first, last = stamps[0], stamps[-1]
    first_batch = sum(1 for s in stamps if s == first)
    steady = (len(stamps) - first_batch) / max((last - first).total_seconds(), 1e-9)
    engine.dispose()
    return {"workers": workers, "threads": threads, "papers": len(stamps), "batches": owners, "wall_s": wall,
            "wall_rate": total / wall, "steady_rate": steady, "load_before": before, "load_after": load()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=2000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=0, help="torch threads per worker (default: cores // workers)")
    ap.add_argument("--batch", type=int, default=128, help="papers per embedding batch")
    ap.add_argument("--data", type=Path, default=DAILY)
    ap.add_argument("--database-url", default="", help="an empty database (default: a new SQLite file)")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no sample listings at {args.data}")
    work = Path(tempfile.mkdtemp(prefix="pb-embed-bench-"))
    url = args.database_url or f"sqlite:///{work / 'paperboy.db'}"
    engine = make_engine(url)
    upgrade(engine)
    total = import_papers(engine, args.data, args.papers)
    engine.dispose()
    cores = os.cpu_count() or 1
    print(f"{total} papers from {args.data}, model {MODEL}, {cores} cores, database {url.split(':')[0]}, "
          f"batches of {args.batch}")
    for w in args.workers:
        threads = args.threads or max(1, cores // w)
        r = run(url, work, w, threads, args.batch, total)
        print(f"{w} worker(s) x {threads} torch thread(s): {r['papers']} papers in {r['wall_s']:.1f} s wall "
              f"({r['wall_rate']:.1f} papers/s with model loading), steady {r['steady_rate']:.1f} papers/s; "
              f"{r['batches']} batches; load {r['load_before']} -> {r['load_after']}", flush=True)


if __name__ == "__main__":
    main()
