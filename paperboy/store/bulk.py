"""Indexes and foreign keys set aside during a bulk import, and put back after it.

A million papers cost far less to load when the secondary indexes that serve only reads
(author look-ups, category filters) are built once at the end, by a sort, instead of
updated row by row at random places; on PostgreSQL the same holds for the child
tables' foreign keys, whose per-row triggers cost more than the rows (docs/ingest.md,
"Speed"). Unique and primary keys stay: the upsert needs them.

Crash safety: ``defer`` drops each object and records the statement that recreates it
(table ``deferred_ddl``) inside the caller's transaction, the one that writes the
import's first batch; ``restore`` recreates each object and deletes its record in one
transaction per object. A kill -9 at any point therefore leaves every object either in
place or recorded, and ``restore`` (at the end of a bulk import, at the start of the
next snapshot import, and on ``paperboy db upgrade``) finishes the job. Meanwhile reads
are correct, only slower.
"""

# Statements here are built from names read from the database's own catalogue.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, insert, select, text
from sqlalchemy.engine import Connection, Engine

from paperboy.store.models import DeferredDDL, utcnow

# The tables whose secondary indexes a bulk import sets aside. Not papers': its indexes
# (feed dates, modification time) take appends during an import, cost little, and keep
# the front page fast meanwhile; the author and category indexes take random inserts.
TABLES = ("authors", "paper_authors", "paper_categories")
# On PostgreSQL, the tables whose foreign keys are set aside as well.
CHILD_TABLES = ("paper_authors", "paper_categories")

_records = DeferredDDL.__table__


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _droppable(conn: Connection) -> list[tuple[str, str, str, str, str]]:
    """``(name, table, kind, create statement, drop statement)`` of what a bulk import may set aside."""
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(TABLES))
        rows = conn.exec_driver_sql(
            f"SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ({marks}) "
            "AND sql IS NOT NULL AND upper(sql) NOT LIKE 'CREATE UNIQUE%' ORDER BY name",
            TABLES,
        ).all()
        return [(name, table, "index", sql, f"DROP INDEX {_quote(name)}") for name, table, sql in rows]
    found = []
    for name, table, ddl in conn.exec_driver_sql(
        "SELECT i.relname, t.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND t.relname = ANY(%(tables)s) "
        "AND NOT x.indisunique AND NOT x.indisprimary ORDER BY i.relname",
        {"tables": list(TABLES)},
    ):
        found.append((name, table, "index", ddl, f"DROP INDEX {_quote(name)}"))
    for name, table, definition in conn.exec_driver_sql(
        "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = current_schema() AND c.contype = 'f' AND t.relname = ANY(%(tables)s) "
        "ORDER BY c.conname",
        {"tables": list(CHILD_TABLES)},
    ):
        found.append((
            name, table, "foreign key",
            f"ALTER TABLE {_quote(table)} ADD CONSTRAINT {_quote(name)} {definition}",
            f"ALTER TABLE {_quote(table)} DROP CONSTRAINT {_quote(name)}",
        ))
    return found


def defer(conn: Connection) -> int:
    """Drop the secondary indexes (and PostgreSQL child foreign keys), recording how to
    recreate them, inside the caller's transaction. Returns how many were dropped
    (none when an interrupted bulk import already did)."""
    objects = _droppable(conn)
    now = utcnow()
    for name, table, kind, ddl, drop in objects:
        conn.execute(insert(_records).values(name=name, table_name=table, kind=kind, ddl=ddl, created_at=now))
        conn.exec_driver_sql(drop)
    return len(objects)


def pending(engine: Engine) -> list[str]:
    """Names of the objects set aside and not yet restored."""
    with engine.connect() as conn:
        return list(conn.scalars(select(_records.c.name).order_by(_records.c.name)))


def restore(conn: Connection, on_step: Callable[[str, int, int], None] | None = None) -> int:
    """Recreate every recorded object, each in its own transaction; returns how many.

    Indexes come first, so checking the foreign keys reads sorted indexes. ``conn`` must
    not be in a transaction.
    """
    if conn.dialect.name == "sqlite":
        # CREATE INDEX may sort in a helper thread (raw: a PRAGMA needs no transaction).
        conn.connection.driver_connection.execute("PRAGMA threads = 2")
    with conn.begin():
        todo = conn.execute(
            select(_records.c.name, _records.c.table_name, _records.c.kind, _records.c.ddl)
            .order_by((_records.c.kind == "foreign key"), _records.c.name)
        ).all()
    for i, (name, table, kind, ddl) in enumerate(todo, 1):
        if on_step:
            on_step(name, i, len(todo))
        if kind == "foreign key":
            _restore_foreign_key(conn, name, table, ddl)
            continue
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # Index builds sort in memory when they may (the default is 64 MB).
                conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
            conn.exec_driver_sql(ddl)
            conn.execute(delete(_records).where(_records.c.name == name))
    return len(todo)


def _restore_foreign_key(conn: Connection, name: str, table: str, ddl: str) -> None:
    """Add the constraint NOT VALID (a brief lock), then check the rows in a second
    transaction: VALIDATE does not block writes to papers (votes) as a plain ADD does
    for the whole check. Killed between the two, the next restore only validates."""
    with conn.begin():
        exists = conn.exec_driver_sql(
            "SELECT 1 FROM pg_constraint WHERE conname = %(name)s AND conrelid = %(table)s::regclass",
            {"name": name, "table": _quote(table)},
        ).first()
        if not exists:
            conn.exec_driver_sql(ddl + " NOT VALID")
    with conn.begin():
        conn.exec_driver_sql(f"ALTER TABLE {_quote(table)} VALIDATE CONSTRAINT {_quote(name)}")
        conn.execute(delete(_records).where(_records.c.name == name))


def refresh_statistics(conn: Connection) -> None:
    """Give PostgreSQL's planner statistics of what a bulk import wrote (``conn`` not in a
    transaction). Without them, at 2.6M papers it guessed 630k author rows for a page of
    20 papers and chose a parallel plan with JIT compilation: ~100-230 ms for what takes
    0.1 ms (docs/scale.md); autovacuum had not analysed the tables 30 minutes later.
    SQLite plans these look-ups by its index heuristics, which suit them, so it is left be."""
    if conn.dialect.name != "postgresql":
        return
    with conn.begin():
        conn.exec_driver_sql("ANALYZE papers, " + ", ".join(TABLES))


def refresh_stale_statistics(conn: Connection, papers_changed: int) -> list[str]:
    """ANALYZE the tables an import writes that changed by more than autovacuum's own
    threshold (50 rows and 10 %) since they were last analysed: what autovacuum would do,
    done as the import ends, since where it is off or behind the planner guesses. The
    demo's 10,348 papers on a PostgreSQL without autovacuum had no statistics, and a
    page's 30 cards' authors were read by hashing all 42,589 authors: 19 ms for what takes
    1 ms. The statistics views lag the last second's writes, so this import's
    ``papers_changed`` is added to each table's count (analysing once too often costs
    milliseconds). The analysed tables are returned (none on SQLite, see
    ``refresh_statistics``)."""
    if conn.dialect.name != "postgresql":
        return []
    rows = conn.execute(text("SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables "
                             "WHERE relname = ANY(:names)"), {"names": ["papers", *TABLES]}).all()
    conn.rollback()  # a read of the statistics views opened a transaction; ANALYZE runs in its own
    stale = sorted(r.relname for r in rows
                   if r.n_mod_since_analyze + papers_changed > 50 + 0.1 * max(r.n_live_tup, papers_changed))
    if stale:
        with conn.begin():
            conn.exec_driver_sql("ANALYZE " + ", ".join(_quote(t) for t in stale))
    return stale


def restore_all(engine: Engine, on_step: Callable[[str, int, int], None] | None = None) -> int:
    with engine.connect() as conn:
        return restore(conn, on_step)


# An import is worth running with the indexes set aside when it brings at least this
# many papers and at least as many as are stored (then building the indexes once over
# everything costs less than keeping them up to date row by row).
BULK_MIN_RECORDS = 100_000


def worth_deferring(incoming: int, stored: int) -> bool:
    return incoming >= BULK_MIN_RECORDS and incoming >= stored
