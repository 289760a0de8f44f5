"""`bench/web.py --cluster`: the several-process setup of docs/deploy.md under load.

`paperboy serve --workers 4` and two `paperboy worker` processes on one PostgreSQL
database, anonymous readers and signed-in members (who vote) on keep-alive connections
that reconnect every few requests (so the load spreads over the web processes), while
`paperboy ingest listing` imports a slice of the daily listings and `paperboy index
build` builds the index of a new node from nothing. Optionally kill -9 one web process and one
worker half-way. Prints req/s, p50/p99 per kind of request and every error.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAILY = ROOT.parent / "shared" / "data" / "arxiv" / "daily"
ADMIN = os.environ.get("PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAPERBOY = str(ROOT / ".venv" / "bin" / "paperboy")
WEB_PROCESSES = 4
WORKERS = 2
SEED_FILES = 20  # listings stored before the run; the next IMPORT_FILES are imported during it
IMPORT_FILES = 6
OK = {200, 303, 429}  # 429: a member's vote budget spent, an answer, not a failure


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- data -----------------------------------------------------------------------------

def _seed(url: str, members: int) -> tuple[list[str], list[str]]:
    """The first listings and members with live sessions; (arXiv ids, session tokens)."""
    from sqlalchemy import insert, select

    from paperboy.ingest.listing import read_listing
    from paperboy.ingest.pipeline import run_source
    from paperboy.store.db import make_engine
    from paperboy.store.migrate import upgrade
    from paperboy.store.models import Paper, User, UserSession, utcnow
    from paperboy.web.security import token_hash

    engine = make_engine(url)
    upgrade(engine)
    for listing in sorted(DAILY.glob("*.jsonl"))[:SEED_FILES]:
        run_source(engine, f"bench:{listing.name}", read_listing(listing))
    now = utcnow()
    tokens = [f"bench-cluster-member-{i}" for i in range(members)]
    with engine.begin() as conn:
        for i, token in enumerate(tokens):
            uid = conn.execute(insert(User).values(email=f"member{i}@example.org", display_name=f"Member {i}",
                                                   created_at=now).returning(User.id)).scalar()
            conn.execute(insert(UserSession).values(id=token_hash(token), user_id=uid, created_at=now, last_seen_at=now,
                                                    expires_at=now + dt.timedelta(days=1)))
        day = conn.scalar(select(Paper.announced_on).order_by(Paper.announced_on.desc()).limit(1))
        ids = list(conn.scalars(select(Paper.arxiv_id).where(Paper.announced_on == day).order_by(Paper.arxiv_id).limit(200)))
        count = conn.scalar(select(Paper.id).order_by(Paper.id.desc()).limit(1))
    engine.dispose()
    print(f"seeded {count} papers from {SEED_FILES} listings, {members} members", flush=True)
    return ids, tokens


# --- the load generator (a process of its own) --------------------------------------------

def _requests(i: int, ids: list[str], token: str | None) -> list[tuple[str, bytes]]:
    """What client ``i`` sends, in turn: pages and API for all, votes for members."""
    cookie = f"Cookie: pb_session={token}\r\n" if token else ""
    words = ("learning", "graph", "language model", "quantum", "diffusion")
    paths = ["/", f"/papers/{ids[i % len(ids)]}", "/api/daily_papers", f"/search?q={words[i % 5].replace(' ', '+')}",
             "/trending", f"/papers/{ids[(i * 7) % len(ids)]}"]
    kind = "member" if token else "anonymous"
    out = [(f"{kind} GET", f"GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}\r\n".encode()) for p in paths]
    if token:
        for k in range(3):
            paper = ids[(i * 3 + k) % len(ids)]
            out.insert(2 * k + 1, ("member vote", (
                f"POST /papers/{paper}/vote HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Sec-Fetch-Site: same-origin\r\n"
                "Accept: application/json\r\nContent-Length: 0\r\n\r\n").encode()))
    return out


async def _client(port: int, plan: list[tuple[str, bytes]], t0: float, stop_at: float, log: list) -> None:
    reader = writer = None
    n = 0
    while time.monotonic() < stop_at:
        kind, raw = plan[n % len(plan)]
        n += 1
        started = time.monotonic()
        try:
            if writer is None or n % 20 == 0:  # a new connection now and then: another process may take it
                if writer is not None:
                    writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            outcome: int | str = status
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            outcome = type(exc).__name__
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.05)
        log.append((started - t0, kind, outcome, time.monotonic() - started))
    if writer is not None:
        writer.close()


def _load(port: int, ids: list[str], tokens: list[str], connections: int, seconds: float, out) -> None:
    import uvloop

    log: list = []

    async def main():
        t0 = 0.0  # CLOCK_MONOTONIC is one clock for every process: the report subtracts its own start
        plans = [_requests(i, ids, tokens[i // 3 % len(tokens)] if i % 3 == 0 else None) for i in range(connections)]
        stop_at = time.monotonic() + seconds
        await asyncio.gather(*[_client(port, plan, t0, stop_at, log) for plan in plans])

    uvloop.run(main())
    out.put(log)


# --- the processes --------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid and b"spawn_main" in cmd:
                kids.append(int(entry))
    return sorted(kids)


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([PAPERBOY, *args], env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_cluster(seconds: float, connections: int, kill: bool) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    work = Path(tempfile.mkdtemp(prefix="paperboy-cluster-"))
    name = f"pbbench_cluster_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
    procs: list[subprocess.Popen] = []
    try:
        ids, tokens = _seed(url, members=max(1, connections // 3))
        base = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
        base.update({"PAPERBOY_DATABASE_URL": url, "PAPERBOY_SECRET_KEY": "bench-cluster", "PAPERBOY_EMBEDDER": "null",
                     "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_SERVE_WORKER": "false", "HF_HUB_OFFLINE": "1",
                     "PAPERBOY_WORKER_POLL_SECONDS": "2", "PAPERBOY_INDEX_REFRESH_SECONDS": "10",
                     "PYTHONPATH": str(ROOT)})

        def env(node: str) -> dict:
            (work / node).mkdir(exist_ok=True)
            return {**base, "PAPERBOY_DATA_DIR": str(work / node)}

        port = _free_port()
        web = _start(["serve", "--workers", str(WEB_PROCESSES), "--host", "127.0.0.1", "--port", str(port)],
                     env("web"), work / "web.log")
        procs.append(web)
        workers = [_start(["worker"], env(f"worker{i}"), work / f"worker{i}.log") for i in range(WORKERS)]
        procs += workers
        deadline = time.monotonic() + 120
        while len(_children(web.pid)) < WEB_PROCESSES or not _answers(port):
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit(f"paperboy serve did not start:\n{(work / 'web.log').read_text()[-3000:]}")
            time.sleep(0.2)
        print(f"{WEB_PROCESSES} web processes {_children(web.pid)}, {WORKERS} workers; "
              f"{connections} connections for {seconds:g} s, {os.cpu_count()} CPUs, "
              f"load average before {os.getloadavg()[0]:.2f}", flush=True)

        files = [str(p) for p in sorted(DAILY.glob("*.jsonl"))[SEED_FILES:SEED_FILES + IMPORT_FILES]]
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        loader = ctx.Process(target=_load, args=(port, ids, tokens, connections, seconds, q))
        t0 = time.monotonic()
        loader.start()
        importer = _start(["ingest", "listing", "--batch-size", "500", *files], env("import"), work / "import.log")
        # A node joining the cluster builds its index from nothing (its own data dir; on
        # a running node's dir it would find the node's indexer at work and skip).
        indexer = _start(["index", "build"], env("new-node"), work / "index.log")
        procs += [importer, indexer]
        killed: dict = {}
        finished: dict = {}
        seen = set(_children(web.pid))  # web processes: a new pid is one uvicorn started in place of another
        while loader.is_alive() and q.empty():
            now = time.monotonic() - t0
            for pid in set(_children(web.pid)) - seen:
                seen.add(pid)
                if killed:
                    killed.setdefault("replaced", now)
                print(f"  at {now:.1f} s: uvicorn started web process {pid} (one died or failed its health check)",
                      flush=True)
            if kill and not killed and now >= seconds / 2:
                victim = _children(web.pid)[0]
                os.kill(victim, signal.SIGKILL)
                os.kill(workers[0].pid, signal.SIGKILL)
                killed = {"at": now, "web": victim, "worker": workers[0].pid}
            if killed and "restarted" not in killed and now >= killed["at"] + 2:
                workers[0] = _start(["worker"], env("worker0"), work / "worker0.log")  # systemd's Restart=
                procs.append(workers[0])
                killed["restarted"] = now
            for p, what in ((importer, "import"), (indexer, "index build")):
                if p.poll() is not None and what not in finished:
                    finished[what] = (now, p.returncode)
            time.sleep(0.1)
        log = [(at - t0, kind, outcome, latency) for at, kind, outcome, latency in q.get()]
        loader.join()
        deadline = time.monotonic() + 180
        while killed and "replaced" not in killed and time.monotonic() < deadline:  # how long until uvicorn replaced it
            if set(_children(web.pid)) - seen:
                killed["replaced"] = time.monotonic() - t0
            time.sleep(0.2)
        for p, what in ((importer, "import"), (indexer, "index build")):  # let them finish, to time them
            if what not in finished:
                try:
                    p.wait(timeout=600)
                    finished[what] = (time.monotonic() - t0, p.returncode)
                except subprocess.TimeoutExpired:
                    pass
        _report(log, seconds, killed, finished, web, url)
    finally:
        for p in procs:
            _stop(p)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        shutil.rmtree(work, ignore_errors=True)


def _answers(port: int) -> bool:
    import http.client

    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/docs")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


def _report(log: list, seconds: float, events: dict, finished: dict, web: subprocess.Popen, url: str) -> None:
    from sqlalchemy import func, select

    from paperboy.store.db import make_engine
    from paperboy.store.models import Paper
    from paperboy.worker.models import Job

    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: list[tuple[float, str, str, float]] = []  # (started, kind, what, seconds until it failed)
    statuses: Counter = Counter()
    for at, kind, outcome, latency in log:
        statuses[outcome] += 1
        if outcome in OK:
            by_kind[kind].append(latency)
        else:
            errors.append((at, kind, str(outcome), latency))

    def pct(xs: list[float], p: float) -> float:
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else float("nan")

    print("\n| requests | count | req/s | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- |")
    for kind in sorted(by_kind):
        xs = by_kind[kind]
        print(f"| {kind} | {len(xs)} | {len(xs) / seconds:.0f} | {pct(xs, 0.5):.1f} | {pct(xs, 0.99):.1f} |")
    everything = [x for xs in by_kind.values() for x in xs]
    print(f"| all | {len(everything)} | {len(everything) / seconds:.0f} | {pct(everything, 0.5):.1f} | "
          f"{pct(everything, 0.99):.1f} |")
    print(f"\nanswers: {dict(sorted(statuses.items(), key=str))}")
    print(f"errors: {len(errors)}" + "".join(f"\n  sent at {a:.2f} s, failed at {a + t:.2f} s: {k}: {o}"
                                              for a, k, o, t in sorted(errors)[:20]))
    if "at" in events:
        # In flight at the kill or sent in the 5 s after it.
        near = [e for e in errors if e[0] <= events["at"] + 5 and e[0] + e[3] >= events["at"] - 0.1]
        print(f"killed web process {events['web']} and worker {events['worker']} at {events['at']:.1f} s "
              f"(worker started again at {events.get('restarted', float('nan')):.1f} s, web process replaced by "
              f"uvicorn at {events.get('replaced', float('nan')):.1f} s); errors in flight then or within 5 s after: "
              f"{len(near)}, web processes now {_children(web.pid)}")
    for what in ("import", "index build"):
        if what in finished:
            print(f"{what}: finished at {finished[what][0]:.1f} s (the load ran {seconds:g} s), exit {finished[what][1]}")
        else:
            print(f"{what}: still running 10 minutes after the load")
    engine = make_engine(url)
    with engine.connect() as conn:
        papers = conn.scalar(select(func.count()).select_from(Paper))
        jobs = conn.execute(select(Job.name, Job.state, Job.lease_owner)).all()
    engine.dispose()
    print(f"papers stored at the end: {papers}; jobs: "
          + ", ".join(f"{n} {s}" + (f" (lease {o})" if s == "running" else "") for n, s, o in jobs))
    print(f"load average after {os.getloadavg()[0]:.2f}")
