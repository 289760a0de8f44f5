"""Latency of a member's "For you" (issue 14: p95 <= 50 ms), beside cheap routes in the same run.

    PYTHONPATH=. .venv/bin/python bench/foryou.py                 # SQLite under /tmp/paperboy-bench-foryou
    PYTHONPATH=. .venv/bin/python bench/foryou.py --postgres      # a database of its own on the local PostgreSQL
    PYTHONPATH=. .venv/bin/python bench/foryou.py --profile       # also: where an in-process request spends its time

The instance holds the recorded sample (``../shared/data/arxiv/daily``, imported once as
``bench/web.py`` does), a stored vector for every paper in ``paper_embeddings`` under the
model name the settings give (random unit vectors of the model's size, or the hash
embedder's; the ranker then scores in vector space, as in production) and ``--members``
members, each with ``--likes`` (default 20) votes and saves in one field, a few follows and "not interested"
marks, and a live session. The server and the load generator are ``bench/web.py``'s
(uvicorn in its own process, a keep-alive client in another); every route is asked for
by the members in turn, after each member's first ``/api/for-you`` (measured on its own:
the server has no fitted model of theirs yet). ``GET /`` signed in (a shared page plus the member's own state)
and a bare Starlette hello are measured in the same run, so the ratio survives a noisy
machine. Say what else the machine was doing when you quote the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import web  # noqa: E402  (the server and load generator of bench/web.py)

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DATABASE = "paperboy_bench_foryou"
TOKEN = "foryou-bench-member-{:04d}"
EMAIL = "foryou-bench-{:04d}@example.org"
DIMS = {"minilm": 384}  # random vectors of the model's size; "hash" embeds for real


def settings_for(args):
    from paperboy.config import Settings

    overrides = {"embedder": args.embedder}
    if args.postgres:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        database = PG_DATABASE + ("" if args.likes == 20 else f"_likes{args.likes}")
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": database}):
                conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        overrides["database_url"] = make_url(args.postgres).set(database=database).render_as_string(hide_password=False)
    return Settings(data_dir=Path(args.data_dir), mail_backend="null", **overrides), overrides


def load_papers(settings, engine) -> int:
    from sqlalchemy import func, select

    from paperboy.ingest.demo import import_sample
    from paperboy.store.migrate import upgrade
    from paperboy.store.models import Paper

    upgrade(engine)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Paper))
    if n < 10_000:
        import_sample(settings, engine)
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Paper))


def store_vectors(settings, engine, embedder: str) -> str:
    """A vector for every paper that has none under the settings' model: L2-normalised float32 ("<f4")."""
    from sqlalchemy import insert, select

    from paperboy.index.embedder import embedder_name, get_embedder, paper_text
    from paperboy.index.models import PaperEmbedding
    from paperboy.store.models import Paper

    model = embedder_name(settings.embedder)
    done = select(PaperEmbedding.paper_id).where(PaperEmbedding.model == model)
    with engine.connect() as conn:
        rows = conn.execute(select(Paper.id, Paper.title, Paper.abstract, Paper.content_hash)
                            .where(Paper.id.not_in(done)).order_by(Paper.id)).all()
    if not rows:
        return model
    t0 = time.perf_counter()
    if embedder == "hash":
        vecs = get_embedder("hash").embed([paper_text(r.title, r.abstract) for r in rows])
    else:
        vecs = np.random.default_rng(0).standard_normal((len(rows), DIMS[embedder])).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    vecs = vecs.astype("<f4")
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(insert(PaperEmbedding), [
                {"paper_id": r.id, "model": model, "content_hash": r.content_hash or "", "dim": vecs.shape[1],
                 "vector": vecs[start + k].tobytes()} for k, r in enumerate(rows[start:start + 2000])])
    print(f"vectors: {len(rows)} stored for {model} ({vecs.shape[1]} dims) in {time.perf_counter() - t0:.1f} s")
    return model


def make_members(engine, n: int, likes: int = 20) -> list[str]:
    """``n`` members (made once), each liking ``likes`` papers of one field (3 in 5 votes, the rest saves),
    following two authors of them and the field, with three of the latest day's papers
    marked not interested; a fresh session each. Returns their cookies."""
    from sqlalchemy import delete, func, insert, select

    from paperboy.store.models import (
        Collection,
        CollectionItem,
        Follow,
        InterestSignal,
        Paper,
        User,
        UserSession,
        Vote,
        utcnow,
    )
    from paperboy.web.security import SESSION_COOKIE, token_hash

    now = utcnow()
    with engine.begin() as conn:
        have = conn.scalar(select(func.count()).select_from(User).where(User.email.like("foryou-bench-%"))) or 0
        if have < n:
            rows = conn.execute(select(Paper.id, Paper.categories, Paper.authors_text, Paper.announced_on)
                                .where(Paper.hidden.is_(False))).all()
            latest = max(r.announced_on for r in rows if r.announced_on)
            fields: dict[str, list] = {}
            for r in rows:
                if r.categories:
                    fields.setdefault(r.categories.split()[0], []).append(r)
            names = sorted(f for f, papers in fields.items() if len(papers) >= max(60, 2 * likes))
            votes = likes * 3 // 5
            sizes = np.array([len(fields[f]) for f in names], float)
            todays = [r.id for r in rows if r.announced_on == latest]
            for i in range(have, n):
                rng = np.random.default_rng(i)
                field = names[rng.choice(len(names), p=sizes / sizes.sum())]
                liked = [fields[field][k] for k in rng.choice(len(fields[field]), likes, replace=False)]
                uid = conn.execute(insert(User).values(email=EMAIL.format(i), display_name=f"Bench member {i}",
                                                       created_at=now).returning(User.id)).scalar()
                at = [now - dt.timedelta(minutes=int(m)) for m in rng.integers(1, 60 * 24 * 90, likes)]
                conn.execute(insert(Vote), [{"user_id": uid, "paper_id": r.id, "created_at": at[k]}
                                            for k, r in enumerate(liked[:votes])])
                cid = conn.execute(insert(Collection).values(user_id=uid, name="Reading").returning(Collection.id)).scalar()
                conn.execute(insert(CollectionItem), [{"collection_id": cid, "paper_id": r.id, "added_at": at[votes + k]}
                                                      for k, r in enumerate(liked[votes:])])
                authors = list(dict.fromkeys(a.strip() for r in liked[:4] for a in (r.authors_text or "").split(",")[:1]
                                             if a.strip()))[:2]
                conn.execute(insert(Follow), [{"user_id": uid, "kind": "author", "target": a, "created_at": now}
                                              for a in authors] + [{"user_id": uid, "kind": "category", "target": field,
                                                                    "created_at": now}])
                liked_ids = {r.id for r in liked}
                dismissed = [p for p in rng.choice(todays, min(6, len(todays)), replace=False) if p not in liked_ids][:3]
                conn.execute(insert(InterestSignal), [{"user_id": uid, "paper_id": int(p), "kind": "not_interested",
                                                       "created_at": now} for p in dismissed])
        uids = list(conn.scalars(select(User.id).where(User.email.like("foryou-bench-%")).order_by(User.id).limit(n)))
        tokens = [TOKEN.format(i) for i in range(len(uids))]
        conn.execute(delete(UserSession).where(UserSession.id.in_([token_hash(t) for t in tokens])))
        conn.execute(insert(UserSession), [{"id": token_hash(t), "user_id": uid, "created_at": now, "last_seen_at": now,
                                            "expires_at": now + dt.timedelta(days=30)} for t, uid in zip(tokens, uids, strict=True)])
    return [f"{SESSION_COOKIE}={t}" for t in tokens]


# --- for the benches that time one part in process on this instance (paper_pages.py,
# trending_rank.py): their arguments, the instance, and a timer


def instance_arguments(ap: argparse.ArgumentParser, repeats: int) -> None:
    ap.add_argument("--postgres", nargs="?", const=POSTGRES, default=None,
                    help=f"use PostgreSQL (bench/foryou.py's database; default {POSTGRES})")
    ap.add_argument("--likes", type=int, default=20, help="which of bench/foryou.py's instances (its --likes)")
    ap.add_argument("--repeats", type=int, default=repeats)


def open_instance(args, members: int):
    """(settings, engine, papers) of the instance ``args`` name (see ``instance_arguments``),
    made or completed as bench/foryou.py makes it (papers and ``members`` members; no vectors)."""
    from paperboy.store.db import get_engine

    likes = "" if args.likes == 20 else f"-likes{args.likes}"
    args.data_dir = f"/tmp/paperboy-bench-foryou{'-pg' if args.postgres else ''}{likes}"
    args.embedder = "minilm"
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    settings, _ = settings_for(args)
    engine = get_engine(settings)
    papers = load_papers(settings, engine)
    make_members(engine, members, args.likes)
    return settings, engine, papers


def timed(fn, repeats: int) -> tuple[object, float, float]:
    """(the last answer, p50 ms, p95 ms) of ``repeats`` calls of ``fn`` after one unmeasured call."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append((time.perf_counter() - t0) * 1000)
    ts.sort()
    return out, ts[len(ts) // 2], ts[max(0, int(len(ts) * 0.95) - 1)]


def vote_once_more(args, n: int) -> None:
    """Each bench member votes for one more paper of the latest day (a new signal: their
    next For you refits)."""
    from sqlalchemy import func, insert, select

    from paperboy.store.db import get_engine
    from paperboy.store.models import Paper, User, Vote, utcnow

    settings, _ = settings_for(args)
    engine = get_engine(settings)
    with engine.begin() as conn:
        latest = conn.scalar(select(func.max(Paper.announced_on)))
        todays = list(conn.scalars(select(Paper.id).where(Paper.announced_on == latest).order_by(Paper.id)))
        uids = list(conn.scalars(select(User.id).where(User.email.like("foryou-bench-%")).order_by(User.id).limit(n)))
        voted = set(conn.execute(select(Vote.user_id, Vote.paper_id).where(Vote.user_id.in_(uids))).all())
        now, rng = utcnow(), np.random.default_rng(int(time.time()))
        new = []
        for uid in uids:
            choices = [p for p in todays if (uid, p) not in voted]
            if choices:
                new.append({"user_id": uid, "paper_id": int(rng.choice(choices)), "created_at": now})
        if new:
            conn.execute(insert(Vote), new)
    engine.dispose()


def first_visits(port: int, path: str, cookies: list[str]) -> dict:
    """Each member's first request (sequential, one keep-alive connection): the server has
    no model of theirs yet, so this is the refit path; it also warms the server for the
    steady-state measurements that follow."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    took, errors = [], 0
    t_start = time.perf_counter()
    for cookie in cookies:
        t0 = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        r = conn.getresponse()
        r.read()
        took.append(time.perf_counter() - t0)
        errors += r.status != 200
    elapsed = time.perf_counter() - t_start
    conn.close()
    took.sort()

    def pct(p: float) -> float:
        return took[max(0, int(len(took) * p) - 1)] * 1000

    return {"rps": len(took) / elapsed, "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99), "errors": errors,
            "n": len(took)}


ROUTES = [("/ (signed in)", "/"), ("/for-you", "/for-you"), ("/api/for-you", "/api/for-you"),
          ("/for-you?span=week", "/for-you?span=week"), ("/for-you/learned", "/for-you/learned")]


def profile(data_dir: str, overrides: dict, cookies: list[str], requests: int, top: int) -> None:
    """Requests through the app in-process (Starlette's TestClient), every member's model
    kept first (as in the steady state). The sync route and its dependencies run in the
    request's own thread here, so their CPU time per request (``thread_time``: what the
    route costs, whatever else the machine is doing) is measured, then each is run under
    cProfile and the heaviest functions are printed."""
    import cProfile
    import pstats

    import fastapi.dependencies.utils
    import fastapi.routing
    from starlette.testclient import TestClient

    state = {"prof": None, "cpu": 0.0}

    async def run_here(func, *a, **kw):
        prof, c0 = state["prof"], time.thread_time()
        if prof is not None:
            prof.enable()  # profiles this thread only
        try:
            return func(*a, **kw)
        finally:
            if prof is not None:
                prof.disable()
            state["cpu"] += time.thread_time() - c0

    fastapi.routing.run_in_threadpool = run_here
    fastapi.dependencies.utils.run_in_threadpool = run_here
    app = web.paperboy_app(data_dir, True, overrides)
    with TestClient(app) as client:
        for path in ("/for-you", "/api/for-you"):
            for cookie in cookies:  # the pools, the vocabulary and every member's model
                client.get(path, headers={"Cookie": cookie})
            wall, cpu = [], []
            for k in range(requests):
                state["cpu"], t0 = 0.0, time.perf_counter()
                r = client.get(path, headers={"Cookie": cookies[k % len(cookies)]})
                wall.append(time.perf_counter() - t0)
                cpu.append(state["cpu"])
                assert r.status_code == 200, r.text[:200]
            wall.sort()
            cpu.sort()

            def ms(xs, p):
                return xs[max(0, int(len(xs) * p) - 1)] * 1000

            print(f"\nin-process {path}, {requests} requests: wall p50 {ms(wall, .5):.1f} ms p95 {ms(wall, .95):.1f} ms; "
                  f"route CPU p50 {ms(cpu, .5):.1f} ms p95 {ms(cpu, .95):.1f} ms; under cProfile, heaviest (cumulative):")
            state["prof"] = prof = cProfile.Profile()
            for k in range(requests):
                client.get(path, headers={"Cookie": cookies[k % len(cookies)]})
            state["prof"] = None
            pstats.Stats(prof).sort_stats("cumulative").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None, help="default /tmp/paperboy-bench-foryou[-pg]")
    ap.add_argument("--postgres", nargs="?", const=POSTGRES, default=None,
                    help=f"use PostgreSQL (a database {PG_DATABASE} made on this server; default {POSTGRES})")
    ap.add_argument("--embedder", choices=["minilm", "hash"], default="minilm",
                    help="the settings' embedder: minilm stores random 384-d vectors under its model name, "
                         "hash the hash embedder's own")
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--likes", type=int, default=20,
                    help="papers each member liked (votes and saves; For you learns from the latest 300); "
                         "a count other than 20 gets a data dir of its own")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--connections", type=int, default=1,
                    help="concurrent members (1: each request's own latency, no queueing)")
    ap.add_argument("--settle", type=float, default=5.0,
                    help="seconds between the server's start and its first request")
    ap.add_argument("--no-warm", action="store_true",
                    help="PAPERBOY_FOR_YOU_WARM_SECONDS=0: the first request builds the windows' candidates")
    ap.add_argument("--profile", action="store_true", help="also profile in-process requests (cProfile)")
    ap.add_argument("--profile-requests", type=int, default=200)
    ap.add_argument("--no-load", action="store_true", help="skip the HTTP measurement (with --profile)")
    args = ap.parse_args()
    likes = "" if args.likes == 20 else f"-likes{args.likes}"
    args.data_dir = args.data_dir or f"/tmp/paperboy-bench-foryou{'-pg' if args.postgres else ''}{likes}"
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)

    from paperboy.store.db import get_engine

    settings, overrides = settings_for(args)
    if args.no_warm:
        overrides["for_you_warm_seconds"] = 0
    engine = get_engine(settings)
    n = load_papers(settings, engine)
    model = store_vectors(settings, engine, args.embedder)
    cookies = make_members(engine, args.members, args.likes)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"data: {n} papers on {backend}, vectors {model}, {len(cookies)} members")
    engine.dispose()

    if not args.no_load:
        print(f"load: {args.connections} keep-alive connection(s), members in turn, {args.warmup:g}s warm-up + "
              f"{args.seconds:g}s per route, {os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}")
        rows = []
        hello, port = web.start_server("hello", args.data_dir)
        try:
            rows.append(("bare Starlette hello", web.measure(port, "/", args.seconds, args.warmup, args.connections)))
        finally:
            hello.terminate()
        server, port = web.start_server("paperboy", args.data_dir, True, overrides)
        try:
            time.sleep(args.settle)  # a server is up before its members come
            rows.append(("/for-you, process's first", first_visits(port, "/for-you", cookies[:1])))
            for _name, path in ROUTES:  # the windows' candidates and the vocabulary are built once per process
                first_visits(port, path, cookies[:1])
            # first visits: no member's answer kept yet (learned first: it keeps no model of theirs)
            rows.append(("/for-you/learned, first", first_visits(port, "/for-you/learned", cookies[1:])))
            rows.append(("/api/for-you, first of each", first_visits(port, "/api/for-you", cookies[1:])))
            vote_once_more(args, len(cookies))  # what a member does: a vote, then For you again (a refit)
            rows.append(("/api/for-you, after a vote", first_visits(port, "/api/for-you", cookies[1:])))
            rows.append(("/for-you/learned, after", first_visits(port, "/for-you/learned", cookies[1:])))
            for name, path in ROUTES:
                rows.append((name, web.measure(port, path, args.seconds, args.warmup, args.connections, cookies)))
        finally:
            server.terminate()
        base = next(r for name, r in rows if name == "/ (signed in)")
        print(f"\n{'route (' + backend + ')':28} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} "
              f"{'p95 vs /':>9}")
        for name, r in rows:
            print(f"{name:28} {r['rps']:8.0f} {r['p50']:8.2f} {r['p95']:8.2f} {r['p99']:8.2f} {r['errors']:7d} "
                  f"{r['p95'] / base['p95']:8.1f}x")
        print(f"\nload average after {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile(args.data_dir, overrides, cookies, args.profile_requests, 30)


if __name__ == "__main__":
    main()
