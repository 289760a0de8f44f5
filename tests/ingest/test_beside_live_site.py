"""A snapshot import runs beside a live site: the site's small writes (votes, rate-limit
counts) keep landing, the import never fails on them, and nothing stays set aside."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import orjson
from sqlalchemy import func, select

from paperboy.store.db import make_engine
from paperboy.store.models import DeferredDDL, Paper
from tests.ingest.conftest import KAGGLE
from tests.support.servers import ROOT


def write_snapshot(path, copies: int) -> int:
    """The real sample's lines under ``copies`` x 200 distinct new-style ids."""
    real = [orjson.loads(line) for line in KAGGLE.open("rb")]
    n = 0
    with path.open("wb") as out:
        for c in range(copies):
            for i, obj in enumerate(real):
                n += 1
                out.write(orjson.dumps({**obj, "id": f"{2001 + c // 90:04d}.{(c % 90) * 200 + i:05d}"}) + b"\n")
    return n


def _site_writes(url: str, stop: threading.Event, done: list, errors: list) -> None:
    """What a live site does meanwhile: short write transactions, read-then-write."""
    from paperboy.community import ratelimit

    engine = make_engine(url)
    i = 0
    while not stop.is_set():
        try:
            ratelimit.hit(engine, f"signin_fail_ip:10.0.0.{i % 250}", 1000, 900)
            done.append(i)
        except Exception as exc:  # noqa: BLE001 - every failure is the finding
            errors.append(repr(exc))
        i += 1
        time.sleep(0.02)
    engine.dispose()


def test_a_bulk_snapshot_import_beside_a_stream_of_site_writes(fresh_url, tmp_path, shared_data):
    snapshot = tmp_path / "snapshot.json"
    records = write_snapshot(snapshot, 60)  # 12,000 papers, in bulk mode (indexes set aside)
    stop, done, errors = threading.Event(), [], []
    writer = threading.Thread(target=_site_writes, args=(fresh_url, stop, done, errors))
    writer.start()
    try:
        env = {"PAPERBOY_DATABASE_URL": fresh_url, "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
        result = subprocess.run(
            [sys.executable, "-c", "from paperboy.cli import app; app()", "ingest", "snapshot", str(snapshot),
             "--defer-indexes",
             "--batch-size", "2000"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert errors == [] and len(done) > 10
    engine = make_engine(fresh_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Paper)) == records
        assert conn.scalar(select(func.count()).select_from(DeferredDDL)) == 0
    engine.dispose()
