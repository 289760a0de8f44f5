"""Every row of one Paperboy database copied into another: a laptop's SQLite instance
moved to PostgreSQL when it grows (``paperboy db copy``), or back.

Both databases are at the code's schema revision (the source is migrated first, as any
command would). The target must hold no papers, accounts or subscriptions yet; what its
migrations seeded (the worker's schedule) is replaced. Tables go in foreign-key order,
in batches, in one transaction on the target: a copy killed half-way leaves the target
as it was, and is simply run again. Row ids are kept, so links (``/collections/12``,
comment anchors) and signed tokens stay valid, and PostgreSQL's id sequences are moved
past the copied ids afterwards. Sessions, mail links and private feed addresses are
signed with ``PAPERBOY_SECRET_KEY``: the new instance keeps them valid only with the
same key.

Left out: ``rate_limits`` (counters of the last minutes) and ``deferred_ddl`` (indexes
an interrupted bulk import set aside in the *source*: the target's are all built). The
search index files are each node's own and are built from the copied rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.engine import Engine

SKIPPED = ("rate_limits", "deferred_ddl")
MUST_BE_EMPTY = ("papers", "users", "subscriptions")
BATCH = 2_000

Progress = Callable[[str, int, int], None]  # (table, rows copied so far, rows in all)


class CopyRefused(Exception):
    """The copy cannot start; the message says why and what to do."""


@dataclass
class Copied:
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def copied_tables(schema: list[Table]) -> list[Table]:
    """The tables copied, parents before children (``schema``: the whole schema's
    ``metadata.sorted_tables``, which only the layer above every feature knows)."""
    return [t for t in schema if t.name not in SKIPPED]


def _counts(engine: Engine, among: list[Table]) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t)) for t in among}


def check_target_empty(target: Engine, schema: list[Table]) -> None:
    held = {name: n for name, n in _counts(target, [t for t in schema if t.name in MUST_BE_EMPTY]).items() if n}
    if held:
        listed = ", ".join(f"{n:,} {name}" for name, n in held.items())
        raise CopyRefused(f"the target database already holds data ({listed}): a copy goes into a new, empty "
                          "database only, so that nothing there is mixed with or lost under the copy")


def copy_database(source: Engine, target: Engine, schema: list[Table], progress: Progress = lambda *_: None) -> Copied:
    """Copy every row of ``source`` into ``target`` (both migrated); the rows per table."""
    if source.url == target.url:
        raise CopyRefused("the source and the target are the same database")
    check_target_empty(target, schema)
    ordered = copied_tables(schema)
    total = sum(_counts(source, ordered).values())
    copied, done = Copied(), 0
    with source.connect() as reader, target.begin() as writer:
        for t in reversed(ordered):  # what the target's migrations seeded, children first
            writer.execute(delete(t))
        for t in ordered:
            rows = reader.execution_options(stream_results=True, yield_per=BATCH).execute(
                select(t).order_by(*t.primary_key.columns))
            n = 0
            for batch in rows.partitions(BATCH):
                writer.execute(t.insert(), [dict(r._mapping) for r in batch])
                n += len(batch)
                done += len(batch)
                progress(t.name, done, total)
            copied.rows[t.name] = n
        if target.dialect.name == "postgresql":
            _move_sequences(writer, ordered)
            # Statistics for the planner at once (where autovacuum is off or behind, a
            # fresh instance's planner would guess; see ingest's analyse after an import).
            writer.execute(text("ANALYZE"))
    return copied


def _move_sequences(conn, ordered: list[Table]) -> None:
    """Set each serial id's sequence past the copied ids (rows were inserted with their
    own ids, which a sequence does not notice)."""
    for t in ordered:
        for col in t.primary_key.columns:
            seq = conn.scalar(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": t.name, "c": col.name})
            if seq:
                top = conn.scalar(select(func.max(col)))
                conn.execute(text("SELECT setval(:seq, :next, false)"), {"seq": seq, "next": (top or 0) + 1})
