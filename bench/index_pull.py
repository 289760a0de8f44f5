"""How long a new node takes to get a running node's indexes (`paperboy index pull`).

    .venv/bin/python bench/index_pull.py [--data-dir /tmp/paperboy-bench] [--filler-mb 2300]

The serving node is `bench/web.py`'s database and data dir (the 10k-paper sample; its
keyword index is built here if missing) served by uvicorn in its own process, as a
node of a deployment. ``--filler-mb`` adds a file of that many MB as one more vector
file (a model's `vectors-*.usearch` at 2.6M papers, f16, M=16, is ~2,300 MB: see
docs/scale.md), so the copy moves the bytes a full-size node has. The new node pulls
into a temporary dir over loopback; the bench prints the snapshot time, the copy time
and rate, and the time until the new node answers its first keyword search.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

FILLER = "vectors-bench-filler.usearch"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/paperboy-bench")
    ap.add_argument("--filler-mb", type=int, default=2300)
    args = ap.parse_args()

    import web as benchweb

    from paperboy.config import Settings
    from paperboy.index import copy
    from paperboy.index.jobs import refresh_index
    from paperboy.index.service import SearchService
    from paperboy.store.db import get_engine

    benchweb.prepare(args.data_dir)
    source = Settings(data_dir=Path(args.data_dir), embedder="null", mail_backend="null")
    engine = get_engine(source)
    refresh_index(source, engine, progress=False, embed=False)
    filler = source.resolved_index_dir / FILLER
    if args.filler_mb and (not filler.exists() or filler.stat().st_size != args.filler_mb << 20):
        with open(filler, "wb") as fh:
            block = os.urandom(1 << 20)
            for _ in range(args.filler_mb):
                fh.write(block)
    print(f"load average before {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    proc, port = benchweb.start_server("paperboy", args.data_dir)
    try:
        with tempfile.TemporaryDirectory(dir=args.data_dir) as tmp:
            new = Settings(data_dir=Path(tmp), embedder="null", mail_backend="null",
                           secret_key=source.resolved_secret_key())
            started = time.perf_counter()
            snap = copy.snapshot(source, reuse_s=0)
            snapped = time.perf_counter() - started
            stats = copy.pull(new, f"http://127.0.0.1:{port}")
            svc = SearchService(new, engine)
            hits = svc.search("diffusion models", mode="keyword", limit=10).total
            ready = time.perf_counter() - started
            mb = stats["bytes"] / 1e6
            print(f"snapshot (hard links, {stats['files']} files): {snapped * 1000:.0f} ms")
            print(f"copied {mb:,.0f} MB in {stats['seconds']:.1f} s: {mb / stats['seconds']:,.0f} MB/s over loopback")
            print(f"new node answered its first keyword search ({hits} matches) {ready:.1f} s after the start")
            shutil.rmtree(snap, ignore_errors=True)
    finally:
        proc.terminate()
        proc.join(10)
        filler.unlink(missing_ok=True)
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
