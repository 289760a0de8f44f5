"""Fault tests: the worker process killed with SIGKILL at random points, and two
workers at once on PostgreSQL. Each counts what the SMTP server really received."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import pytest
from sqlalchemy import func, select

from paperboy.digest.models import OutboxEntry
from paperboy.digest.outbox import outbox_counts
from paperboy.store.db import make_engine
from tests.digest.conftest import (
    PAPERBOY,
    PERIOD,
    by_recipient,
    make_settings,
    seed_papers,
    seed_subscribers,
)
from tests.support.servers import SMTPSink


def worker_env(url: str, sink: SMTPSink, tmp_path, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({
        "PAPERBOY_DATABASE_URL": url,
        "PAPERBOY_SMTP_URL": sink.url,
        "PAPERBOY_DATA_DIR": str(tmp_path),
        "PAPERBOY_SECRET_KEY": "test",
        "PAPERBOY_DIGEST_LEASE_SECONDS": "1",
        "PAPERBOY_DIGEST_BATCH_SIZE": "4",
        "PAPERBOY_DIGEST_RETRY_BASE_SECONDS": "0.01",
        "PAPERBOY_DIGEST_RETRY_MAX_SECONDS": "0.1",
        "PAPERBOY_DIGEST_MAX_ATTEMPTS": "60",
    })
    env.update(extra)
    return env


def start(env) -> subprocess.Popen:
    return subprocess.Popen([PAPERBOY, "digest", "run", "--period", PERIOD, "--wait", "30"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def seed(url: str, tmp_path, n: int) -> list[str]:
    engine = make_engine(url)
    settings = make_settings(tmp_path)
    seed_papers(engine, 3)
    emails = [f"k{i:03d}@example.org" for i in range(n)]
    seed_subscribers(engine, settings, emails)
    engine.dispose()
    return emails


def check_exactly_once(url: str, sink: SMTPSink, emails: list[str]) -> tuple[int, int]:
    """Everyone got the digest; any repeat carries the same Message-ID. (duplicates, uncertain)."""
    got = by_recipient(sink.messages)
    assert sorted(got) == sorted(emails), "someone got no digest"
    for msgs in got.values():
        assert len({m["Message-ID"] for m in msgs}) == 1
    duplicates = sum(len(m) - 1 for m in got.values())
    engine = make_engine(url)
    try:
        assert outbox_counts(engine, PERIOD) == {"sent": len(emails)}
        with engine.connect() as conn:
            uncertain = conn.scalar(select(func.coalesce(func.sum(OutboxEntry.uncertain), 0)))
    finally:
        engine.dispose()
    return duplicates, uncertain


@pytest.mark.slow
@pytest.mark.parametrize("seed_", [1, 2])
def test_worker_killed_at_random_points_sends_exactly_once(fresh_url, tmp_path, seed_, record_property):
    rng = random.Random(seed_)
    sink = SMTPSink(refuse_rate=0.1, seed=seed_).start()
    try:
        emails = seed(fresh_url, tmp_path, 40)
        env = worker_env(fresh_url, sink, tmp_path)
        kills = 0
        # Kill points: during start-up/enqueue, then after a random number of accepted messages.
        points = [0] + sorted(rng.sample(range(1, 38), 4))
        for point in points:
            proc = start(env)
            if point == 0:
                time.sleep(rng.uniform(0.5, 1.5))
            else:
                while len(sink.messages) < point and proc.poll() is None:
                    time.sleep(0.002)
                # Half the kills right after an accept (the at-least-once window), half later.
                time.sleep(rng.choice([0.0, rng.uniform(0.0, 0.05)]))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        proc = start(env)
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out.decode()
        duplicates, uncertain = check_exactly_once(fresh_url, sink, emails)
        # The only repeats are rows a dead worker left in "sending": at most one per kill.
        assert duplicates <= uncertain <= kills
        record_property("kills", kills)
        record_property("duplicates", duplicates)
        print(f"\nkills={kills} uncertain={uncertain} duplicates={duplicates} refused={sink.refused}")
    finally:
        sink.stop()


@pytest.mark.slow
def test_two_workers_at_once_on_postgresql(postgres_only, fresh_url, tmp_path):
    sink = SMTPSink(refuse_rate=0.1, seed=3).start()
    try:
        emails = seed(fresh_url, tmp_path, 150)
        env = worker_env(fresh_url, sink, tmp_path, PAPERBOY_DIGEST_LEASE_SECONDS="60")
        procs = [start(env) for _ in range(2)]
        outs = [p.communicate(timeout=180)[0].decode() for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        duplicates, uncertain = check_exactly_once(fresh_url, sink, emails)
        assert (duplicates, uncertain) == (0, 0)
        assert len(sink.messages) == 150
    finally:
        sink.stop()
