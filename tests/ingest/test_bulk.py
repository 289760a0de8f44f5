"""Bulk imports set the author/category indexes (and PostgreSQL's child foreign keys)
aside and build them at the end; whatever happens, the schema comes back whole and the
data is the same as an import that kept them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.config import get_settings
from paperboy.ingest.pipeline import run_source
from paperboy.ingest.snapshot import read_snapshot_prepared
from paperboy.store import bulk
from paperboy.store.db import make_engine
from tests.ingest.conftest import KAGGLE
from tests.ingest.test_crash import full_dump, schema


def _import(engine, *, defer: bool, steps: list | None = None, batch_size: int = 50):
    items = read_snapshot_prepared(KAGGLE, engine.dialect.name, parallel=False)
    return run_source(engine, "snapshot:test", items, batch_size=batch_size, defer_indexes=defer,
                      on_rebuild=(lambda name, i, n: steps.append((name, i, n))) if steps is not None else None)


def test_a_bulk_import_gives_the_same_data_and_schema_as_a_plain_one(databases, shared_data):
    plain, bulky = databases.new_engine(), databases.new_engine()
    expected_schema = schema(plain)
    # The objects set aside: the secondary indexes of the author and category tables,
    # and on PostgreSQL the child tables' foreign keys; never papers' indexes or a unique key.
    with bulky.connect() as conn:
        droppable = {name for name, *_ in bulk._droppable(conn)}
    assert {"ix_paper_authors_author_id", "ix_paper_categories_category", "ix_authors_name_key"} <= droppable
    assert not any(name.startswith(("ix_papers", "sqlite_autoindex", "papers_")) for name in droppable)
    assert (len(droppable) > 3) == (bulky.dialect.name == "postgresql")

    counts_plain = _import(plain, defer=False)
    steps: list = []
    counts_bulk = _import(bulky, defer=True, steps=steps)
    assert counts_bulk.as_dict() == counts_plain.as_dict() and counts_bulk.inserted > 100
    assert full_dump(bulky) == full_dump(plain)
    assert schema(bulky) == expected_schema
    assert bulk.pending(bulky) == []
    # Each object was rebuilt once, indexes before foreign keys, with progress to show.
    assert sorted(name for name, _i, _n in steps) == sorted(droppable)
    assert [i for _name, i, _n in steps] == list(range(1, len(droppable) + 1))
    kinds = ["fk" if name.endswith("_fkey") else "ix" for name, _i, _n in steps]
    assert kinds == sorted(kinds, key=lambda k: k == "fk")


def test_what_was_set_aside_is_recorded_in_the_same_transaction_and_restored_later(databases, shared_data):
    engine = databases.new_engine()
    before = schema(engine)
    # Rolled back with its transaction: nothing dropped, nothing recorded.
    with engine.connect() as conn:
        trans = conn.begin()
        assert bulk.defer(conn) >= 3
        trans.rollback()
    assert schema(engine) == before and bulk.pending(engine) == []
    with engine.begin() as conn:
        dropped = bulk.defer(conn)
    assert dropped >= 3 and len(bulk.pending(engine)) == dropped
    assert "ix_paper_authors_author_id" not in schema(engine)
    # A second bulk run (the re-run of a killed one) finds nothing more to drop.
    with engine.begin() as conn:
        assert bulk.defer(conn) == 0
    assert len(bulk.pending(engine)) == dropped
    assert bulk.restore_all(engine) == dropped
    assert schema(engine) == before
    assert bulk.restore_all(engine) == 0


@pytest.fixture
def cli(fresh_url, monkeypatch):
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def test_db_upgrade_rebuilds_what_an_interrupted_bulk_import_left(cli, fresh_url):
    engine = make_engine(fresh_url)
    assert cli("db", "upgrade").exit_code == 0
    before = schema(engine)
    with engine.begin() as conn:
        n = bulk.defer(conn)
    shown = cli("stats")
    assert f"{n} index(es) set aside by a bulk import" in " ".join(shown.output.split())
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert f"rebuilt {n} index(es)" in result.output
    assert schema(engine) == before
    assert "set aside" not in cli("stats").output
    engine.dispose()


def test_the_snapshot_command_chooses_bulk_mode_for_large_imports_into_small_stores():
    assert bulk.worth_deferring(2_600_000, 0)
    assert bulk.worth_deferring(bulk.BULK_MIN_RECORDS, bulk.BULK_MIN_RECORDS)
    assert not bulk.worth_deferring(bulk.BULK_MIN_RECORDS - 1, 0)  # small files: not worth a rebuild
    assert not bulk.worth_deferring(500_000, 2_000_000)  # a big store: keep its indexes up to date


@pytest.mark.parametrize("mode", ["--defer-indexes", "--keep-indexes"])
def test_the_snapshot_command_leaves_no_index_aside(cli, fresh_url, shared_data, mode):
    result = cli("ingest", "snapshot", str(KAGGLE), "--batch-size", "40", mode)
    assert result.exit_code == 0, result.output
    engine = make_engine(fresh_url)
    assert bulk.pending(engine) == []
    assert "ix_paper_authors_author_id" in schema(engine)
    engine.dispose()


def test_a_foreign_key_added_but_not_yet_validated_is_only_validated(databases, shared_data):
    """Killed between a foreign key's ADD ... NOT VALID and its VALIDATE: the next restore
    validates it and does not try to add it twice."""
    engine = databases.new_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's foreign keys are part of the table and never set aside")
    before = schema(engine)
    with engine.begin() as conn:
        bulk.defer(conn)
        ddl = conn.exec_driver_sql(
            "SELECT ddl FROM deferred_ddl WHERE name = 'paper_authors_paper_id_fkey'").scalar_one()
        conn.exec_driver_sql(ddl + " NOT VALID")
    bulk.restore_all(engine)
    assert schema(engine) == before and bulk.pending(engine) == []
    with engine.connect() as conn:
        assert conn.exec_driver_sql(
            "SELECT bool_and(convalidated) FROM pg_constraint WHERE contype = 'f' "
            "AND conrelid IN ('paper_authors'::regclass, 'paper_categories'::regclass)").scalar_one()


def test_a_bulk_import_leaves_postgresql_statistics_for_the_planner(databases, shared_data):
    if databases.backend != "postgresql":
        pytest.skip("SQLite plans these look-ups without statistics")
    engine = databases.new_engine()
    _import(engine, defer=True)
    with engine.connect() as conn:
        analysed = set(conn.exec_driver_sql(
            "SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL").scalars())
        # What the web asks for a page of papers: their authors, planned as the few rows it is.
        plan = conn.exec_driver_sql(
            "EXPLAIN (FORMAT JSON) SELECT pa.paper_id, a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id "
            "WHERE pa.paper_id IN (1, 2, 3)").scalar()
    assert {"papers", "authors", "paper_authors", "paper_categories"} <= analysed
    assert plan[0]["Plan"]["Plan Rows"] < 100
