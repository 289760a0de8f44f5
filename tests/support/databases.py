"""Real databases for tests: a migrated template per backend, cloned per test when needed.

SQLite: a migrated file copied per clone. PostgreSQL: a migrated template database
(``CREATE DATABASE ... TEMPLATE``), so a fresh isolated database costs ~100 ms.
Point the PostgreSQL tests at a server with PAPERBOY_TEST_POSTGRES_URL, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres`` (any database the role may
connect to; the tests create and drop their own ``pbtest_*`` databases).
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from paperboy.store.db import make_engine
from paperboy.store.migrate import upgrade

PG_ENV = "PAPERBOY_TEST_POSTGRES_URL"

# Every live factory, so a per-test hook can drop what each test made (see end_of_test).
LIVE_FACTORIES: list[DatabaseFactory] = []


def postgres_admin_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        return None
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class DatabaseFactory:
    """Creates migrated databases of one backend and drops them all at the end."""

    def __init__(self, backend: str, workdir: Path):
        self.backend = backend
        self.workdir = workdir
        self.created: list[str] = []
        self.engines: list[Engine] = []
        # Made by the running test and dropped when it ends: a PostgreSQL server has a
        # hundred connections, and pools left open by finished tests exhaust them.
        self.per_test_urls: list[str] = []
        self.per_test_engines: list[Engine] = []
        self.prefix = f"pbtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._template: str | None = None
        if backend == "postgresql":
            admin = postgres_admin_url()
            assert admin, f"set {PG_ENV} to run the PostgreSQL tests"
            self.admin_url = make_url(admin)
            self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)
        LIVE_FACTORIES.append(self)

    # -- templates
    def template_url(self) -> str:
        if self._template is None:
            if self.backend == "sqlite":
                path = self.workdir / "template.db"
                url = f"sqlite:///{path}"
            else:
                name = f"{self.prefix}_tmpl"
                with self.admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"'))
                self.created.append(name)
                url = self.admin_url.set(database=name).render_as_string(hide_password=False)
            eng = make_engine(url)
            upgrade(eng)
            eng.dispose()
            self._template = url
        return self._template

    def new_url(self) -> str:
        """A fresh, migrated, empty database of this backend."""
        template = self.template_url()
        if self.backend == "sqlite":
            path = self.workdir / f"db_{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(template.split("///", 1)[1], path)
            url = f"sqlite:///{path}"
            self.per_test_urls.append(url)
            return url
        name = f"{self.prefix}_{uuid.uuid4().hex[:8]}"
        tmpl = make_url(template).database
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"'))
        self.created.append(name)
        url = self.admin_url.set(database=name).render_as_string(hide_password=False)
        self.per_test_urls.append(url)
        return url

    def new_engine(self, *, keep: bool = False) -> Engine:
        """A migrated engine; dropped at the end of the test unless ``keep``."""
        url = self.new_url()
        eng = make_engine(url)
        if keep:
            self.per_test_urls.remove(url)
            self.engines.append(eng)
        else:
            self.per_test_engines.append(eng)
        return eng

    def end_of_test(self) -> None:
        """Close every pool the test opened and drop the databases it made."""
        from paperboy.store import db as store_db

        for eng in self.per_test_engines:
            eng.dispose()
        self.per_test_engines.clear()
        for eng in list(store_db._engines.values()):
            eng.dispose()
        store_db._engines.clear()
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                for url in self.per_test_urls:
                    name = make_url(url).database
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    self.created.remove(name)
        else:
            for url in self.per_test_urls:
                path = Path(url.split("///", 1)[1])
                for suffix in ("", "-wal", "-shm"):
                    Path(str(path) + suffix).unlink(missing_ok=True)
        self.per_test_urls.clear()

    def close(self) -> None:
        if self in LIVE_FACTORIES:
            LIVE_FACTORIES.remove(self)
        for eng in self.engines:
            eng.dispose()
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                for name in reversed(self.created):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()


def unmigrated_url(databases: DatabaseFactory, tmp_path: Path) -> str:
    """A database of the run's backend with no schema at all, to migrate step by step
    (an older revision first): a file for SQLite, an emptied new database on PostgreSQL."""
    if databases.backend == "sqlite":
        return f"sqlite:///{tmp_path / 'unmigrated.db'}"
    url = databases.new_url()
    engine = make_engine(url)
    with engine.begin() as conn:  # start over from an empty schema
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url
