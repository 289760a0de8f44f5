"""A member's pages in the first seconds after `paperboy serve` starts.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python bench/startup.py [--seconds 30] [--worker]

A web process that has just started is busy: it loads the embedding model (for queries),
opens the keyword index, reads the stored vectors, and builds For you's windows and
vocabulary (``foryou.Warmer``), in threads beside the requests. ``bench/foryou.py``
measures a settled process; this measures the start, as a member who opens the site
the moment a deploy restarts it.

It serves ``bench/foryou.py``'s instance (the sample's 10,348 papers, a 384-d vector each
under the MiniLM model's name, 200 members; built on first use) with `paperboy serve`
in a subprocess, the real MiniLM model loaded for queries (``HF_HUB_OFFLINE=1``). From
the moment the port accepts, one member asks in turn for the front page, Trending, For
you, a search and a paper, one request at a time, for ``--seconds``. It prints each
route's latencies in the first 5 s, from 5 to 15 s, and after 15 s. ``--worker`` also
runs the worker's schedule in the web process (``PAPERBOY_SERVE_WORKER``, as
`scripts/start` does); by default it is a web node as docs/deploy.md runs them.
Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import foryou, web  # noqa: E402  (foryou: its instance of papers, vectors and members)

ROUTES = [("/", "/"), ("/trending", "/trending"), ("/for-you", "/for-you"),
          ("/search", "/search?q=diffusion+language+models"), ("/papers/<id>", None)]
PHASES = ((0, 5), (5, 15), (15, float("inf")))


def build_instance(data_dir: str) -> tuple[list[str], str]:
    """bench/foryou.py's instance (made once): its members' cookies and a paper id."""
    from sqlalchemy import select

    from paperboy.store.db import get_engine
    from paperboy.store.models import Paper

    args = argparse.Namespace(data_dir=data_dir, postgres=None, embedder="minilm", likes=20)
    settings, _ = foryou.settings_for(args)
    engine = get_engine(settings)
    foryou.load_papers(settings, engine)
    foryou.store_vectors(settings, engine, "minilm")
    cookies = foryou.make_members(engine, 200, 20)
    with engine.connect() as conn:
        paper = conn.scalar(select(Paper.arxiv_id).order_by(Paper.announced_on.desc(), Paper.arxiv_id).limit(1))
    engine.dispose()
    return cookies, paper


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/paperboy-bench-foryou")
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--worker", action="store_true", help="run the worker's schedule in the web process too")
    args = ap.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    cookies, paper = build_instance(args.data_dir)
    routes = [(name, path or f"/papers/{paper}") for name, path in ROUTES]
    port = web.free_port()
    env = {**os.environ, "PAPERBOY_DATA_DIR": args.data_dir, "PAPERBOY_EMBEDDER": "minilm",
           "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_SERVE_WORKER": "true" if args.worker else "false",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    print(f"load average before {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    started = time.perf_counter()
    server = subprocess.Popen([str(ROOT / ".venv/bin/paperboy"), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None or time.perf_counter() - started > 120:
                    raise SystemExit("paperboy serve did not start") from None
                time.sleep(0.02)
        up = time.perf_counter()
        print(f"port open {up - started:.1f} s after `paperboy serve` started")
        seen: list[tuple[float, str, float, int]] = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Cookie": cookies[0]}) as client:
            k = 0
            while time.perf_counter() - up < args.seconds:
                name, path = routes[k % len(routes)]
                t0 = time.perf_counter()
                status = client.get(path).status_code
                seen.append((t0 - up, name, (time.perf_counter() - t0) * 1000, status))
                k += 1
    finally:
        server.terminate()
        server.wait(30)
    errors = [s for s in seen if s[3] != 200]
    header = " ".join(f"{f'{lo:g}-{hi:g} s' if hi != float('inf') else f'after {lo:g} s':>22}" for lo, hi in PHASES)
    print(f"\n{'route (ms: p50 / max, n)':16} {header}")
    for name, _ in routes:
        cells = []
        for lo, hi in PHASES:
            ms = sorted(s[2] for s in seen if s[1] == name and lo <= s[0] < hi)
            cells.append(f"{ms[len(ms) // 2]:7.1f} / {ms[-1]:7.1f} {len(ms):4d}" if ms else f"{'-':>22}")
        print(f"{name:16} " + " ".join(f"{c:>22}" for c in cells))
    print(f"\n{len(seen)} requests, {len(errors)} not 200 {sorted({s[3] for s in errors})}; "
          f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
