"""bench/ingest.py's schema floor writes exactly the rows the snapshot import writes for
the same file, and rebuilds the same indexes, so the figure it prints is a floor for the
same work, not for less."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from paperboy.ingest.pipeline import run_source
from paperboy.ingest.snapshot import read_snapshot_prepared
from paperboy.store.db import make_engine
from tests.ingest.test_crash import full_dump, schema

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ingest.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_ingest", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_schema_floor_stores_what_the_import_stores(databases, tmp_path):
    bench = _bench_module()
    snapshot = tmp_path / "snapshot.json"
    bench.generate(snapshot, 1200)
    imported, floor_url = databases.new_engine(), databases.new_url()
    dialect = imported.dialect.name

    items = read_snapshot_prepared(snapshot, dialect, parallel=False)
    counts = run_source(imported, "snapshot:bench", items, batch_size=500, defer_indexes=True)
    assert counts.inserted == 1200 and counts.failed == 0
    bench.schema_floor(floor_url, bench.staged_rows(snapshot, dialect), batch_size=500)

    floor_engine = make_engine(floor_url)
    try:
        papers, links, authors, cats = full_dump(floor_engine)
        assert (papers, links, authors, cats) == full_dump(imported)
        assert len(links) > 1200 and len(cats) > 1200 and len(authors) > 100
        # The indexes it set aside are back, as after the import: their rebuild was timed.
        assert schema(floor_engine) == schema(imported)
    finally:
        floor_engine.dispose()
