"""Requests/s and p99 latency of Paperboy's hottest routes beside a bare Starlette app.

    .venv/bin/python bench/web.py                 # imports the 10k sample once into /tmp/paperboy-bench
    .venv/bin/python bench/web.py --seconds 15 --connections 64 --no-cache-too

Each Paperboy route is measured anonymously and as a signed-in member (a session made
in the bench database, with votes and a collection, so the member's own state is
filled into every page they get).

Each server runs in its own process under uvicorn (uvloop + httptools, one worker, no
access log); the load generator is a small keep-alive HTTP/1.1 client on asyncio
(uvloop) in another process, the same client for every target. Figures depend on what
else the machine is doing: say so when you quote them.

    .venv/bin/python bench/web.py --cluster --seconds 60 [--kill]

``--cluster`` measures the several-process setup of docs/deploy.md on PostgreSQL (a
database of its own on the server of PAPERBOY_TEST_POSTGRES_URL): `paperboy serve
--workers 4` and two `paperboy worker` processes (each with a data dir of its own, as
on separate machines), anonymous readers and signed-in members who also vote, while
`paperboy ingest listing` imports a slice of ../shared/data/arxiv/daily and `paperboy
index build` builds a new node's index. ``--kill`` sends SIGKILL to one web process and one
worker half-way (the worker is started again two seconds later, as systemd's
Restart= would) and reports the errors seen around it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# --- servers ------------------------------------------------------------------------

def hello_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("hello")

    return Starlette(routes=[Route("/", hello)])


def paperboy_app(data_dir: str, cache: bool, overrides: dict | None = None):
    from paperboy.config import Settings
    from paperboy.site import create_app
    from paperboy.store.db import get_engine

    settings = Settings(**{"data_dir": Path(data_dir), "embedder": "null", "mail_backend": "null", **(overrides or {})})
    app = create_app(settings, get_engine(settings))
    app.state.page_cache.enabled = cache
    return app


def _serve(kind: str, port: int, data_dir: str, cache: bool, overrides: dict | None = None) -> None:
    import uvicorn

    app = hello_app() if kind == "hello" else paperboy_app(data_dir, cache, overrides)
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                access_log=False, log_level="warning", workers=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, data_dir: str, cache: bool = True, overrides: dict | None = None) -> tuple[mp.Process, int]:
    """A server in a process of its own; ``overrides`` are Paperboy settings (``embedder``, ``database_url``)."""
    port = free_port()
    proc = mp.get_context("spawn").Process(target=_serve, args=(kind, port, data_dir, cache, overrides), daemon=True)
    proc.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{kind} server did not start")


# --- the load generator ----------------------------------------------------------------

async def _connection(port: int, requests: list[bytes], turn, stop_at: float, warm_until: float, latencies: list,
                      errors: list):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            writer.write(requests[next(turn) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = None
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length is None:
                raise RuntimeError("response without Content-Length")
            await reader.readexactly(length)
            t1 = time.perf_counter()
            if status != 200:
                errors.append(status)
            if t0 >= warm_until:
                latencies.append(t1 - t0)
    finally:
        writer.close()


def _load(port: int, path: str, seconds: float, warmup: float, connections: int, out,
          cookie: str | list[str] = "") -> None:
    import itertools

    import uvloop

    def request(cookie: str) -> bytes:
        extra = f"Cookie: {cookie}\r\n" if cookie else ""
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n{extra}\r\n".encode()

    requests = [request(c) for c in ([cookie] if isinstance(cookie, str) else cookie)]
    turn = itertools.count()  # requests take the cookies in turn, across connections
    latencies: list[float] = []
    errors: list[int] = []

    async def main():
        start = time.perf_counter()
        warm_until = start + warmup
        stop_at = warm_until + seconds
        await asyncio.gather(*[_connection(port, requests, turn, stop_at, warm_until, latencies, errors)
                               for _ in range(connections)])
        return time.perf_counter() - warm_until

    elapsed = uvloop.run(main())
    out.put((latencies, errors, elapsed))


def measure(port: int, path: str, seconds: float, warmup: float, connections: int,
            cookie: str | list[str] = "") -> dict:
    """Load ``path`` over keep-alive connections; a list of cookies is used in turn (one member after another)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_load, args=(port, path, seconds, warmup, connections, q, cookie))
    proc.start()
    latencies, errors, elapsed = q.get()
    proc.join()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[max(0, int(len(latencies) * p) - 1)] * 1000 if latencies else float("nan")

    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000, "p95": pct(0.95), "p99": pct(0.99),
            "errors": len(errors), "n": len(latencies)}


# --- data ---------------------------------------------------------------------------

def prepare(data_dir: str) -> str:
    """Import the sample (once) and return the arXiv id of the first paper on the latest day."""
    from sqlalchemy import func, select

    from paperboy.config import Settings
    from paperboy.ingest.demo import import_sample
    from paperboy.store.db import get_engine
    from paperboy.store.migrate import upgrade
    from paperboy.store.models import Paper

    settings = Settings(data_dir=Path(data_dir), embedder="null", mail_backend="null")
    engine = get_engine(settings)
    upgrade(engine)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Paper))
    if n < 10_000:
        import_sample(settings, engine)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Paper))
        day = conn.scalar(select(func.max(Paper.announced_on)))
        pid = conn.scalar(select(Paper.arxiv_id).where(Paper.announced_on == day).order_by(Paper.arxiv_id).limit(1))
        ids = list(conn.scalars(select(Paper.id).where(Paper.announced_on == day).order_by(Paper.arxiv_id).limit(60)))
    print(f"data: {n} papers in {data_dir}; latest day {day}")
    make_member(engine, ids)
    return pid


MEMBER_TOKEN = "bench-member-session-token"


def make_member(engine, paper_ids: list[int]) -> None:
    """A member with a live session, votes for a few of the day's papers and three
    collections (one holding a paper, one a library of LIBRARY papers to search), so
    their pages have state to fill in."""
    import datetime as dt

    from sqlalchemy import delete, insert, select

    from paperboy.store.models import (
        Collection,
        CollectionItem,
        Paper,
        User,
        UserSession,
        Vote,
        utcnow,
    )
    from paperboy.web.security import token_hash

    now = utcnow()
    with engine.begin() as conn:
        uid = conn.scalar(select(User.id).where(User.email == "bench@example.org"))
        if uid is None:
            uid = conn.execute(insert(User).values(email="bench@example.org", display_name="Bench Member",
                                                   created_at=now).returning(User.id)).scalar()
            conn.execute(insert(Vote), [{"user_id": uid, "paper_id": pid, "created_at": now} for pid in paper_ids[:10:3]])
            for name in ("Reading", "To cite"):
                cid = conn.execute(insert(Collection).values(user_id=uid, name=name).returning(Collection.id)).scalar()
            conn.execute(insert(CollectionItem).values(collection_id=cid, paper_id=paper_ids[1]))
        # A library to search (/collections?q=): 500 papers spread over the corpus.
        if conn.scalar(select(Collection.id).where(Collection.user_id == uid, Collection.name == "Library")) is None:
            lib = conn.execute(insert(Collection).values(user_id=uid, name="Library").returning(Collection.id)).scalar()
            spread = list(conn.scalars(select(Paper.id).order_by(Paper.id).limit(LIBRARY * 20)))[::20]
            conn.execute(insert(CollectionItem), [{"collection_id": lib, "paper_id": i, "added_at": now} for i in spread])
        conn.execute(delete(UserSession).where(UserSession.id == token_hash(MEMBER_TOKEN)))
        conn.execute(insert(UserSession).values(id=token_hash(MEMBER_TOKEN), user_id=uid, created_at=now,
                                                last_seen_at=now, expires_at=now + dt.timedelta(days=30)))


MEMBER_ROUTES = ("/", "paper page")
# A member's own pages (never shared between visitors): measured signed in only.
LIBRARY = 500  # papers in the member's "Library" collection
MEMBER_ONLY = (("/replies", "/replies"), ("/account (with its API tokens)", "/account"), ("/api/me", "/api/me"),
               (f"/collections?q=diffusion model ({LIBRARY} saved)", "/collections?q=diffusion+model"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/paperboy-bench")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--no-cache-too", action="store_true", help="also measure Paperboy with its page cache off")
    ap.add_argument("--cluster", action="store_true",
                    help="4 web processes and 2 workers on PostgreSQL under mixed traffic, an import and an index build")
    ap.add_argument("--kill", action="store_true", help="with --cluster: kill -9 one web process and one worker half-way")
    args = ap.parse_args()
    if args.cluster:
        from bench.cluster import run_cluster

        run_cluster(seconds=args.seconds, connections=args.connections, kill=args.kill)
        return

    pid = prepare(args.data_dir)
    routes = [("/", "/"), ("paper page", f"/papers/{pid}"), ("/api/daily_papers", "/api/daily_papers")]
    print(f"load: {args.connections} keep-alive connections, {args.warmup:g}s warm-up + {args.seconds:g}s per route, "
          f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}")
    rows = []
    hello, port = start_server("hello", args.data_dir)
    try:
        base = measure(port, "/", args.seconds, args.warmup, args.connections)
        rows.append(("bare Starlette hello", "/", base))
    finally:
        hello.terminate()
    variants = [True, False] if args.no_cache_too else [True]
    for cache in variants:
        server, port = start_server("paperboy", args.data_dir, cache)
        try:
            for name, path in routes:
                label = f"paperboy{'' if cache else ' (no cache)'} {name}"
                rows.append((label, path, measure(port, path, args.seconds, args.warmup, args.connections)))
                if name in MEMBER_ROUTES:
                    rows.append((f"{label}, signed in", path, measure(
                        port, path, args.seconds, args.warmup, args.connections, f"pb_session={MEMBER_TOKEN}")))
            for name, path in MEMBER_ONLY if cache else ():
                rows.append((f"paperboy {name}, signed in", path, measure(
                    port, path, args.seconds, args.warmup, args.connections, f"pb_session={MEMBER_TOKEN}")))
        finally:
            server.terminate()
    print(f"\n{'target':56} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs hello':>9}")
    for name, _path, r in rows:
        print(f"{name:56} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:7d} {r['rps'] / base['rps']:8.0%}")
    print(f"\nload average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
