"""Claiming rows with a lease: the one way a worker takes work from a queue table.

Three queues use it: the worker's ``jobs`` schedule, the digest outbox and the mail
outbox. A claim is one guarded ``UPDATE ... WHERE id IN (pick) AND <claimable>``:

* on PostgreSQL the pick is ``SELECT id ... FOR UPDATE SKIP LOCKED``, so concurrent
  workers take disjoint rows without waiting on each other;
* on SQLite ``FOR UPDATE`` is not rendered; the claim runs inside ``write_tx``
  (``BEGIN IMMEDIATE``), so claims are serialised and the guard is re-checked.

Either way the ``claimable`` condition is repeated in the UPDATE's WHERE, so a row
that stopped being claimable between the pick and the update is never taken.

Leases can be short because a running worker renews them: ``Heartbeat`` is a thread
that pushes ``lease_until`` forward on every row its worker holds (``renew_leases``),
so a claim outlives the lease only while its worker is alive; a kill -9 leaves a lease
that runs out within one lease time, and another worker takes the row over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from paperboy.store.db import write_tx
from paperboy.store.models import utcnow

log = logging.getLogger(__name__)


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


def renew_leases(conn: Connection, table: Table, ids: Sequence[int], *, owner: str, until: dt.datetime) -> int:
    """Move the lease of ``owner``'s rows among ``ids`` to ``until``; how many it still holds."""
    if not ids:
        return 0
    result = conn.execute(
        update(table).where(table.c.id.in_(list(ids)), table.c.lease_owner == owner).values(lease_until=until)
    )
    return max(result.rowcount or 0, 0)


class Heartbeat:
    """A daemon thread renewing the leases of the rows one owner holds, every
    ``lease_seconds / 4``, to ``lease_seconds`` from now.

    ``hold(table, id)`` / ``release(table, id)`` say what the owner is running. A
    renewal that fails (database busy or down) is retried at the next beat; three
    missed beats in a row still leave the lease valid."""

    def __init__(self, engine: Engine, owner: str, lease_seconds: float) -> None:
        self.engine = engine
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._held: dict[str, tuple[Table, set[int]]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def lease_until(self, now: dt.datetime | None = None) -> dt.datetime:
        return (now or utcnow()) + dt.timedelta(seconds=self.lease_seconds)

    def hold(self, table: Table, row_id: int) -> None:
        with self._lock:
            self._held.setdefault(table.name, (table, set()))[1].add(row_id)
        self.start()

    def release(self, table: Table, row_id: int) -> None:
        with self._lock:
            held = self._held.get(table.name)
            if held:
                held[1].discard(row_id)

    @contextlib.contextmanager
    def holding(self, table: Table, row_ids: Iterable[int]) -> Iterator[None]:
        """Hold ``row_ids`` while the block runs, and release them however it ends."""
        ids = list(row_ids)
        for row_id in ids:
            self.hold(table, row_id)
        try:
            yield
        finally:
            for row_id in ids:
                self.release(table, row_id)

    def beat(self) -> int:
        """Renew now; how many rows the owner still holds."""
        with self._lock:
            held = [(t, sorted(ids)) for t, ids in self._held.values() if ids]
        if not held:
            return 0
        n = 0
        with write_tx(self.engine) as conn:
            until = self.lease_until()
            for table, ids in held:
                n += renew_leases(conn, table, ids, owner=self.owner, until=until)
        return n

    def _run(self) -> None:
        while not self._stop.wait(self.lease_seconds / 4):
            try:
                self.beat()
            except Exception:  # the next beat retries; the lease has time left
                log.warning("lease renewal failed", exc_info=True)

    def start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="paperboy-lease-heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
