"""Benchmark: compose and hand N digests to a local SMTP sink through the outbox.

    .venv/bin/python bench/digest.py [--subscriptions 100000] [--workers 2] [--database-url URL]

Builds a fresh database (SQLite in a temporary folder unless --database-url names an
empty PostgreSQL database), imports the 10k-paper sample, creates N confirmed daily
subscriptions (random top-N and 0-3 categories), of which --members are members' with
personal sections (20 votes on papers of the weeks before the period, a followed author,
one of 50 alerts), then times the real path: one
``enqueue_due`` pass (choose papers, write the outbox) and ``deliver`` (claim, render
HTML + text, SMTP over loopback to an aiosmtpd sink in its own process, mark sent).
Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def sink_process(port: int, counter, ready, cpu) -> None:
    """An aiosmtpd server that only counts what it accepts (its own process: no shared GIL)."""
    import asyncio

    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with counter.get_lock():
                counter.value += 1
            cpu.value = time.process_time()
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    try:
        asyncio.run(asyncio.sleep(10**9))
    finally:
        controller.stop()


def deliver_process(settings_kw: dict, url: str, out) -> None:
    from paperboy.config import Settings
    from paperboy.digest.outbox import deliver
    from paperboy.mail.senders import SMTPSender
    from paperboy.store.db import make_engine

    settings = Settings(**settings_kw)
    engine = make_engine(url)
    r = deliver(settings, engine, SMTPSender(settings.smtp_url))
    out.put((r.sent, r.retried, r.failed, time.process_time()))


def other_load() -> str:
    try:
        ps = subprocess.run(["ps", "-eo", "pcpu,pid,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    except OSError:
        return "ps not available"
    me = os.getpid()
    rows = [ln.strip() for ln in ps.splitlines()[1:] if ln.strip() and f" {me} " not in f" {ln} "]
    return "; ".join(rows[:6])


ALERTS = ["diffusion model", "reinforcement learning", "large language model", "graph neural network",
          "object detection", "speech recognition", "protein", "reasoning", "robot manipulation",
          "federated learning", "medical image segmentation", "\"chain of thought\"", "retrieval augmented",
          "point cloud", "video generation", "knowledge distillation", "adversarial robustness",
          "time series forecasting", "causal inference", "optimal transport", "contrastive learning",
          "vision transformer", "neural radiance", "autonomous driving", "quantization", "code generation",
          "multimodal", "machine translation", "question answering", "anomaly detection", "explainability",
          "fairness", "privacy", "benchmark", "tokenizer", "mixture of experts", "state space model",
          "in-context learning", "instruction tuning", "hallucination", "agents", "planning", "world model",
          "3d reconstruction", "pose estimation", "sign language", "emotion recognition", "recommendation",
          "cat:cs.CL reasoning", "author:Wang"]


def add_members(engine, subscription_rows: list[dict], period: str, rng) -> None:
    """Members behind the first subscriptions: each votes for 20 papers of the four weeks
    before the period, follows one author of those and keeps one alert."""
    import datetime as dt

    from sqlalchemy import insert, select

    from paperboy.store.models import Follow, Paper, User, Vote, utcnow

    day = dt.date.fromisoformat(period)
    now = utcnow()
    with engine.connect() as conn:
        pool = conn.execute(select(Paper.id, Paper.authors_text).where(
            Paper.announced_on < day, Paper.announced_on >= day - dt.timedelta(days=28))).all()
    users, votes, follows = [], [], []
    for i, row in enumerate(subscription_rows):
        users.append(dict(id=i + 1, email=row["email"], password_hash=None, display_name=f"Reader {i}",
                          is_admin=False, is_suspended=False, email_verified_at=now, created_at=now))
        liked = rng.sample(pool, min(20, len(pool)))
        votes += [dict(user_id=i + 1, paper_id=p.id, created_at=now) for p in liked]
        author = (liked[0].authors_text or "").split(",")[0].strip()
        if author:
            follows.append(dict(user_id=i + 1, kind="author", target=author, created_at=now))
        row.update(user_id=i + 1, include_follows=True, alerts=[rng.choice(ALERTS)])
    with engine.begin() as conn:
        for table, data in ((User, users), (Vote, votes), (Follow, follows)):
            for start in range(0, len(data), 5000):
                conn.execute(insert(table), data[start : start + 5000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscriptions", type=int, default=100_000)
    ap.add_argument("--workers", type=int, default=1, help="Delivery processes (several need PostgreSQL to help).")
    ap.add_argument("--database-url", default="", help="Default: a new SQLite file in a temporary folder.")
    ap.add_argument("--period", default="2026-06-22", help="Daily period to send (a day of the sample).")
    ap.add_argument("--batch-size", type=int, default=500)
    ap.add_argument("--members", type=int, default=0,
                    help="How many of the subscriptions are members' with For you picks, follows and alerts.")
    ap.add_argument("--embedder", default="null", help="Stored vectors to rank with ('null': words only).")
    args = ap.parse_args()

    from sqlalchemy import func, insert, select

    from paperboy.config import Settings
    from paperboy.digest.models import Subscription
    from paperboy.digest.outbox import enqueue_due, outbox_counts
    from paperboy.ingest.demo import import_sample
    from paperboy.store.db import make_engine
    from paperboy.store.migrate import upgrade
    from paperboy.store.models import Paper, PaperCategory, utcnow
    from tests.support.servers import free_port

    tmp = Path(tempfile.mkdtemp(prefix="pb-bench-digest-"))
    url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    settings_kw = dict(data_dir=tmp, secret_key="bench", smtp_url=f"smtp://127.0.0.1:{port}",
                       base_url="https://paperboy.example", digest_batch_size=args.batch_size,
                       sample_data_dir=str(ROOT.parent / "shared" / "data" / "arxiv" / "daily"),
                       embedder=args.embedder)
    settings = Settings(**settings_kw)
    engine = make_engine(url)
    upgrade(engine)

    t = time.perf_counter()
    with engine.connect() as conn:
        have = conn.scalar(select(func.count()).select_from(Paper))
    if not have:
        import_sample(settings, engine)
    with engine.connect() as conn:
        papers = conn.scalar(select(func.count()).select_from(Paper))
        cats = [c for c, n in conn.execute(
            select(PaperCategory.category, func.count()).group_by(PaperCategory.category)
            .order_by(func.count().desc()).limit(40))]
    print(f"papers: {papers} (import {time.perf_counter() - t:.1f}s)")

    t = time.perf_counter()
    rng = random.Random(1)
    now = utcnow()
    rows = []
    for i in range(args.subscriptions):
        rows.append(dict(
            email=f"reader{i}@bench.example", token=secrets.token_urlsafe(24), status="active", confirmed_at=now,
            frequency="daily", weekday=0, send_hour=7, timezone="UTC", top_n=rng.choice([5, 10, 15]),
            categories=" ".join(rng.sample(cats, rng.choice([0, 1, 1, 2, 3]))), include_follows=False,
            alerts=[], skip_empty=True, bounces=0, created_at=now, updated_at=now,
        ))
    members = min(args.members, args.subscriptions)
    if members:
        add_members(engine, rows[:members], args.period, rng)
    with engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(insert(Subscription), rows[start : start + 5000])
    print(f"subscriptions: {args.subscriptions} ({members} members' with votes, a follow and an alert) "
          f"created in {time.perf_counter() - t:.1f}s")

    counter, ready, sink_cpu = mp.Value("l", 0), mp.Event(), mp.Value("d", 0.0)
    sink = mp.Process(target=sink_process, args=(port, counter, ready, sink_cpu), daemon=True)
    sink.start()
    ready.wait(10)
    load_before = os.getloadavg()

    search = None
    if members:
        from paperboy.index.service import get_search_service

        svc = get_search_service(settings, engine)
        svc.search("warm up the keyword index")  # built once, before the clock starts
        search = svc
    t0, c0 = time.perf_counter(), time.process_time()
    q = enqueue_due(settings, engine, period=args.period, search=search)
    t1, queue_cpu = time.perf_counter(), time.process_time() - c0
    out: mp.Queue = mp.Queue()
    procs = [mp.Process(target=deliver_process, args=(settings_kw, url, out)) for _ in range(args.workers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    t2 = time.perf_counter()
    sent = sum(r[0] for r in results)
    load_after = os.getloadavg()
    sink.terminate()

    print(f"backend: {engine.dialect.name}; period {args.period}; {os.cpu_count()} CPUs; {args.workers} delivery process(es)")
    print(f"queued {q.queued} digests (+{q.skipped_empty} empty skipped) in {t1 - t0:.1f}s "
          f"({q.queued / max(t1 - t0, 1e-9):.0f}/s): papers chosen and outbox written; "
          f"CPU {queue_cpu:.1f}s ({1000 * queue_cpu / max(q.queued + q.skipped_empty, 1):.2f} ms/digest)")
    print(f"delivered {sent} in {t2 - t1:.1f}s ({sent / max(t2 - t1, 1e-9):.0f}/s): rendered, SMTP 250, marked sent; "
          f"sink counted {counter.value}")
    cpu = sum(r[3] for r in results)
    print(f"CPU: delivery {cpu:.1f}s ({1000 * cpu / max(sent, 1):.2f} ms/digest), "
          f"SMTP sink {sink_cpu.value:.1f}s ({1000 * sink_cpu.value / max(sent, 1):.2f} ms/digest)")
    print(f"total {t2 - t0:.1f}s for {sent} digests = {sent / max(t2 - t0, 1e-9):.0f} digests/s")
    print(f"outbox: {outbox_counts(engine, args.period)}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; busiest processes at the end: {other_load()}")


if __name__ == "__main__":
    main()
