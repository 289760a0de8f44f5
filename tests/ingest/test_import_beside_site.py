"""A snapshot import runs beside a live site: the site's small writes (votes, rate-limit
counters) interleave with the import's batches, neither fails, and the indexes a bulk
import sets aside are back at the end, or after an import that failed."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, insert, select

from paperboy.ingest.pipeline import SQLITE_MIN_BATCH, next_batch_limit, run_source
from paperboy.ingest.snapshot import read_snapshot_prepared
from paperboy.store import bulk
from paperboy.store.db import write_tx
from paperboy.store.models import RateLimit
from tests.ingest.conftest import KAGGLE
from tests.ingest.test_crash import schema

RECORDS = 6000
rate_limits = RateLimit.__table__


def write_snapshot(path: Path, n: int = RECORDS, *, revised: bool = False) -> Path:
    """``n`` records in the Kaggle format: the real head's records under new ids; ``revised``:
    each with a new version and title, as the next month's snapshot has some."""
    real = [orjson.loads(line) for line in KAGGLE.read_bytes().splitlines() if line.strip()]
    with path.open("wb") as fh:
        for k in range(n):
            rec = dict(real[k % len(real)], id=f"2101.{10000 + k:05d}")
            if revised:
                rec["title"] = f"{rec['title']} (revised)"
                rec["versions"] = [*rec["versions"], {"version": f"v{len(rec['versions']) + 1}",
                                                      "created": "Mon, 4 Jan 2021 10:00:00 GMT"}]
            fh.write(orjson.dumps(rec) + b"\n")
    return path


class SiteWriter(threading.Thread):
    """A rate-limit row every ~50 ms in its own short write transaction, as sign-ins do."""

    def __init__(self, engine) -> None:
        super().__init__(daemon=True)
        self.engine, self.stop, self.done, self.errors = engine, threading.Event(), 0, []

    def run(self) -> None:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        while not self.stop.wait(0.05):
            try:
                with write_tx(self.engine) as conn:
                    conn.execute(insert(rate_limits).values(key=f"signin:{self.done}", window=1, count=1,
                                                            expires_at=expires))
                self.done += 1
            except Exception as exc:  # noqa: BLE001 - every failure is what the test reports
                self.errors.append(repr(exc))


def test_a_bulk_snapshot_import_and_site_writes_both_complete(databases, shared_data, tmp_path):
    engine = databases.new_engine()
    expected_schema = schema(engine)
    run_source(engine, "snapshot:first", read_snapshot_prepared(
        write_snapshot(tmp_path / "first.json"), engine.dialect.name, parallel=False), batch_size=20_000)
    # The next snapshot revises every paper: each batch reads what is stored, merges, then
    # writes, the read-then-write that a site write landing in between used to break.
    snapshot = write_snapshot(tmp_path / "snapshot.json", revised=True)
    commits: list[int] = []
    site = SiteWriter(engine)  # its own pooled connection, as a request has
    site.start()
    try:
        # The CLI's batch size, with the indexes set aside, as a large import does.
        total = run_source(engine, "snapshot:beside-site",
                           read_snapshot_prepared(snapshot, engine.dialect.name, parallel=False),
                           batch_size=20_000, defer_indexes=True,
                           on_progress=lambda position, _counts: commits.append(position["line"]))
    finally:
        site.stop.set()
        site.join()
    assert total.updated == RECORDS and total.failed == 0
    if engine.dialect.name == "sqlite":
        # One write lock for the whole database: the import holds it for short
        # transactions (sized by time), not for 20,000 records at once.
        assert len(commits) > 1 and commits == sorted(commits) and commits[-1] == RECORDS
    assert site.errors == []
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(rate_limits)) == site.done > 0
    assert bulk.pending(engine) == []
    assert schema(engine) == expected_schema


class Boom(RuntimeError):
    pass


def test_an_import_that_fails_puts_the_indexes_it_set_aside_back(databases, shared_data, tmp_path):
    engine = databases.new_engine()
    expected_schema = schema(engine)
    snapshot = write_snapshot(tmp_path / "snapshot.json", 500)

    def failing_after_first_batch():
        for n, item in enumerate(read_snapshot_prepared(snapshot, engine.dialect.name, parallel=False)):
            if n == 250:
                raise Boom("the source broke")
            yield item

    with pytest.raises(Boom):
        run_source(engine, "snapshot:fails", failing_after_first_batch(), batch_size=100, defer_indexes=True)
    assert bulk.pending(engine) == []
    assert schema(engine) == expected_schema
    # What was committed stays, with its cursor: the re-run resumes after it.
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(rate_limits)) == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM papers").scalar() == 200


def test_sqlite_batches_are_sized_to_a_short_transaction():
    # 1,000 records took a second: a quarter of a second's worth next.
    assert next_batch_limit(1000, 1.0, 20_000) == 250
    # Fast batches grow, up to what was asked for.
    assert next_batch_limit(1000, 0.01, 20_000) == 20_000
    # Never so small that commits cost more than records, never more than asked for.
    assert next_batch_limit(1000, 100.0, 20_000) == SQLITE_MIN_BATCH
    assert next_batch_limit(1000, 100.0, 10) == 10
    assert next_batch_limit(0, 0.0, 500) == 500
