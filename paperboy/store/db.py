"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

Transactions that write say so up front (``writer(engine)``, ``write_tx(engine)``, or a
session bound to ``writer(engine)``): on SQLite they start with ``BEGIN IMMEDIATE``, which
takes the database's one write lock before the first read. A deferred ``BEGIN`` that
reads and then writes fails at once ("database is locked", a busy snapshot that no
busy timeout can wait out) when another write landed in between; an immediate one
waits its turn (``busy_timeout``) and then sees the latest data. Read-only transactions
keep the deferred ``BEGIN`` so readers never queue behind a writer (WAL). On
PostgreSQL both are a plain ``BEGIN`` (READ COMMITTED; writers use row locks and
``ON CONFLICT``).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from paperboy.config import Settings, get_settings

_SQLITE_BEGIN = "paperboy_sqlite_begin"
# How long a SQLite writer waits for the write lock before "database is locked". Short
# enough that a request answers (503, retry) rather than hanging; imports commit in
# batches far shorter than this.
SQLITE_BUSY_MS = 10_000


def _sqlite_pragmas(dbapi_conn, _record, busy_ms: int = SQLITE_BUSY_MS) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets readers run while one writer writes; NORMAL is durable across
    # process crashes (kill -9), which is what we promise.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
    cur.execute("PRAGMA cache_size=-65536")
    try:
        cur.execute("SELECT exp(0)")
    except sqlite3.OperationalError:  # a SQLite built without its math functions
        dbapi_conn.create_function("exp", 1, _exp, deterministic=True)
    cur.close()


def _exp(x: float | None) -> float | None:
    """SQL's exp() where SQLite lacks it (trending weighs votes by age with it)."""
    return None if x is None else math.exp(x)


def make_engine(url: str, *, sqlite_busy_ms: int = SQLITE_BUSY_MS, **kwargs) -> Engine:
    """An engine with the right pragmas and pool for the URL's backend (``sqlite_busy_ms``:
    how long a SQLite connection waits for a lock)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": sqlite_busy_ms / 1000}, **kwargs
        )
        event.listen(engine, "connect", lambda conn, record: _sqlite_pragmas(conn, record, sqlite_busy_ms))
        # pysqlite's own transaction handling defers BEGIN; emit it ourselves so
        # SAVEPOINTs and read-modify-write sequences behave as on PostgreSQL.
        @event.listens_for(engine, "begin")
        def _begin(conn):
            mode = conn.get_execution_options().get(_SQLITE_BEGIN, "")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "immediate" else "BEGIN")

        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn, _record):
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), whose transactions take the write lock up front."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_SQLITE_BEGIN: "immediate"})


@contextmanager
def write_tx(engine: Engine) -> Iterator[Connection]:
    """One short write transaction: committed on success, rolled back on error."""
    with writer(engine).begin() as conn:
        yield conn


def is_busy(exc: BaseException) -> bool:
    """Whether an error means the database was busy (SQLite's write lock timed out,
    or a PostgreSQL serialization failure/deadlock): the whole unit may be retried."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    if "database is locked" in text or "database table is locked" in text:
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    return sqlstate in ("40001", "40P01", "55P03")


# What a long import sets on its own SQLite connection, and what the pool gets back.
_BULK_PRAGMAS = {"cache_size": (-524288, -65536), "wal_autocheckpoint": (100_000, 1000), "foreign_keys": (0, 1)}


@contextmanager
def bulk_write_connection(conn: Connection) -> Iterator[Connection]:
    """Tune one connection for a long run of large write batches (ingest), then restore it.

    SQLite: a 512 MiB page cache (the indexes of a million papers stay in memory), a
    checkpoint every ~400 MB of WAL instead of every 4 MB (each checkpoint syncs the
    database file, and index pages rewritten by many batches are copied back once; the
    WAL file may grow to that size meanwhile) plus one at the end, and no foreign-key
    checks. The importer writes child
    rows only for paper ids it inserted or read in the same write transaction and for
    author ids it resolved there, and nothing deletes authors, so the checks cannot
    fail; they cost a third of the child-row inserts. Other connections keep them.
    Durability is unchanged (WAL, synchronous=NORMAL). Other backends: unchanged.
    """
    if conn.dialect.name != "sqlite":
        yield conn
        return
    raw = conn.connection.driver_connection  # outside a transaction: PRAGMAs apply
    for name, (bulk, _normal) in _BULK_PRAGMAS.items():
        raw.execute(f"PRAGMA {name}={bulk}")
    try:
        yield conn
    finally:
        try:
            if conn.in_transaction():
                conn.rollback()
            raw = conn.connection.driver_connection
            for name, (_bulk, normal) in _BULK_PRAGMAS.items():
                raw.execute(f"PRAGMA {name}={normal}")
            # Copy what the run left in the WAL back now (part of the import's cost),
            # without waiting for readers.
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # noqa: BLE001 - never hand a half-restored connection back
            conn.invalidate()


_engines: dict[str, Engine] = {}


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    url = settings.resolved_database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    with session_factory(engine)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
