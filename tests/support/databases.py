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
        self.prefix = f"pbtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._template: str | None = None
        if backend == "postgresql":
            admin = postgres_admin_url()
            assert admin, f"set {PG_ENV} to run the PostgreSQL tests"
            self.admin_url = make_url(admin)
            self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1)

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
            return f"sqlite:///{path}"
        name = f"{self.prefix}_{uuid.uuid4().hex[:8]}"
        tmpl = make_url(template).database
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{tmpl}"'))
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def new_engine(self) -> Engine:
        eng = make_engine(self.new_url())
        self.engines.append(eng)
        return eng

    def close(self) -> None:
        for eng in self.engines:
            eng.dispose()
        if self.backend == "postgresql":
            with self.admin.connect() as conn:
                for name in reversed(self.created):
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            self.admin.dispose()
