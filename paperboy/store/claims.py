"""Claiming rows with a lease: the one way a worker takes work from a queue table.

Three queues use it: the worker's ``jobs`` schedule, the digest outbox and the mail
outbox. A claim is one guarded ``UPDATE ... WHERE id IN (pick) AND <claimable>``:

* on PostgreSQL the pick is ``SELECT id ... FOR UPDATE SKIP LOCKED``, so concurrent
  workers take disjoint rows without waiting on each other;
* on SQLite ``FOR UPDATE`` is not rendered; the claim runs inside ``write_tx``
  (``BEGIN IMMEDIATE``), so claims are serialised and the guard is re-checked.

Either way the ``claimable`` condition is repeated in the UPDATE's WHERE, so a row
that stopped being claimable between the pick and the update is never taken.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def worker_name() -> str:
    """A lease owner's name: host, process and a random part (two workers in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def claim_rows(
    conn: Connection,
    table: Table,
    *,
    claimable: ColumnElement[bool],
    values: dict[str, Any],
    order_by: Sequence[Any],
    limit: int = 1,
    returning: Sequence[Any] = (),
) -> list[Row]:
    """Take up to ``limit`` claimable rows of ``table`` (which has an ``id`` key),
    setting ``values`` (the lease) on them; the claimed rows, oldest id first."""
    # A materialised CTE: as a plain ``IN (subquery)`` PostgreSQL may plan a nested-loop
    # semi-join that re-runs the LIMITed, SKIP LOCKED pick for every outer row, each run
    # skipping the rows the last one locked, and so claims far more than ``limit``.
    pick = (
        select(table.c.id).where(claimable).order_by(*order_by).limit(limit)
        .with_for_update(skip_locked=True).cte("pick").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        update(table).where(table.c.id.in_(select(pick.c.id)), claimable).values(**values)
        .returning(table.c.id, *returning)
    )
    return sorted(conn.execute(stmt).all(), key=lambda r: r.id)


def insert_ignore(conn: Connection, table: Table, rows: list[dict]) -> int:
    """INSERT rows, skipping those whose unique key exists (both backends)."""
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    result = conn.execute(insert(table).on_conflict_do_nothing(), rows)
    return max(result.rowcount or 0, 0)
