"""The "For you" candidate pools over time: what a member waits for when a window's pool
is rebuilt, and how much a long-running process keeps as days go by.

    PYTHONPATH=. .venv/bin/python bench/foryou_pools.py            # SQLite under /tmp/paperboy-bench-foryou

Uses ``bench/foryou.py``'s instance (the recorded sample, a stored vector per paper, its
members; made on the first run). In process, no HTTP:

* **Across rebuilds.** A window's candidates and vocabulary (``foryou.POOLS``) are built
  once and rebuilt after ``POOL_TTL`` seconds (300 in the service), the vocabulary after
  12 times that. Here the TTL is cut to ``--ttl`` seconds so that a short run crosses
  many rebuilds of both; members ask for their
  picks (``foryou.recommend``, today's window) in turn for ``--seconds``, and every call's
  wall time is recorded. ``--threads`` callers run side by side (a web process serves
  requests on a thread pool). A rebuild of the vocabulary (a tf-idf fit over the recent
  papers) costs about a second, so what matters is who pays it.
* **Windows kept.** The pools of the today window ending on each of the last ``--days``
  days (as a process that runs for weeks, or a digest pass over past periods, builds
  them), then how many pools and vocabularies the process still holds, and its RSS
  every 10 days.

Figures only; nothing asserted. Say what else the machine was doing.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import foryou as fb  # noqa: E402  (the instance of bench/foryou.py)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def across_rebuilds(engine, settings, model, uids, seconds: float, ttl: float, threads: int) -> None:
    from paperboy.rank import foryou

    foryou.POOL_TTL = ttl
    foryou.SPACE_TTL = ttl * 12  # as in the service: the vocabulary lives 12 pools' time
    foryou.POOLS.clear()
    with engine.connect() as conn:
        win = foryou.window(conn, settings, "today")
        foryou.recommend(conn, settings, uids[0], win, model=model)  # the first build, not counted
    times: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def caller(k: int) -> None:
        i = k
        with engine.connect() as conn:
            while time.monotonic() < stop:
                t = time.perf_counter()
                foryou.recommend(conn, settings, uids[i % len(uids)], win, model=model)
                with lock:
                    times.append(time.perf_counter() - t)
                i += threads
    workers = [threading.Thread(target=caller, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ms = sorted(t * 1000 for t in times)
    q = statistics.quantiles(ms, n=100)
    slow = sum(t > 250 for t in ms)
    print(f"across rebuilds (TTL {ttl:g} s, {seconds:g} s, {threads} caller(s)): {len(ms)} calls, "
          f"p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, p99 {q[98]:.1f} ms, max {ms[-1]:.0f} ms, "
          f"{slow} over 250 ms ({100 * slow / len(ms):.1f} %)")


def windows_kept(engine, settings, model, days: int) -> None:
    from sqlalchemy import select

    from paperboy.rank import foryou
    from paperboy.store.models import Paper

    foryou.POOL_TTL = 300.0
    foryou.POOLS.clear()
    with engine.connect() as conn:
        ends = sorted(conn.scalars(select(Paper.announced_on).distinct().where(Paper.announced_on.is_not(None))))[-days:]
        rss = [f"{rss_mb():.0f}"]
        t0 = time.perf_counter()
        for k, end in enumerate(ends, 1):
            foryou.POOLS.pool(conn, settings, foryou.Window(end, end), model)
            if k % 10 == 0 or k == len(ends):
                rss.append(f"{rss_mb():.0f}")
        took = time.perf_counter() - t0
    print(f"windows kept: {len(ends)} days' pools built in {took:.1f} s; the process holds "
          f"{len(foryou.POOLS._pools)} pools and {len(foryou.POOLS._space)} vocabularies; "
          f"RSS before, then every 10 days: {' -> '.join(rss)} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/paperboy-bench-foryou")
    ap.add_argument("--members", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--ttl", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--days", type=int, default=40)
    args = ap.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    args.postgres, args.embedder = None, "minilm"

    from sqlalchemy import select

    from paperboy.store.db import get_engine
    from paperboy.store.models import User

    settings, _ = fb.settings_for(args)
    engine = get_engine(settings)
    n = fb.load_papers(settings, engine)
    model = fb.store_vectors(settings, engine, args.embedder)
    fb.make_members(engine, args.members)
    with engine.connect() as conn:
        uids = list(conn.scalars(select(User.id).where(User.email.like("foryou-bench-%")).order_by(User.id)
                                 .limit(args.members)))
    print(f"data: {n} papers, vectors {model}, {len(uids)} members; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    across_rebuilds(engine, settings, model, uids, args.seconds, args.ttl, 1)
    across_rebuilds(engine, settings, model, uids, args.seconds, args.ttl, args.threads)
    windows_kept(engine, settings, model, args.days)
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
