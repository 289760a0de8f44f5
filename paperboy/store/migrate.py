"""Apply Alembic migrations programmatically (`paperboy db upgrade`, tests, start-up)."""

from __future__ import annotations

import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from paperboy.store.db import is_busy, writer

MIGRATIONS = Path(__file__).with_name("migrations")


def for_backend(dialect: str):
    """Alembic's ``include_object`` for comparing the models with a ``dialect`` database:
    an index the models make for one backend only (``info["dialect"]``, with its
    ``ddl_if``) is left out on the other."""

    def include(obj, name, type_, reflected, compare_to) -> bool:
        return reflected or type_ != "index" or obj.info.get("dialect", dialect) == dialect

    return include


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# Any constant: the key of the PostgreSQL advisory lock that migrations hold.
MIGRATION_LOCK = 0x70617065  # "pape"
SQLITE_WAIT_S = 300.0


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema at ``engine`` up to ``revision``; safe to call repeatedly, and
    from several processes at once (nodes starting together each migrate at start-up):
    one migrates while the others wait for its lock, then find nothing left to do."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    deadline = time.monotonic() + SQLITE_WAIT_S
    while True:
        try:
            # SQLite: BEGIN IMMEDIATE takes the write lock before the version is read.
            with writer(engine).begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
            return
        except OperationalError as exc:
            # Another process's migration outlasted SQLite's busy timeout: wait on.
            if engine.dialect.name != "sqlite" or not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return script.get_current_head() or ""


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this Paperboy's migrations (a backup from a newer
    version is not)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return script.get_revision(revision) is not None
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return False
