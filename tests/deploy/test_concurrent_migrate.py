"""Several nodes (web, workers) starting at once on an empty or older database: each
migrates at start-up, and they must not trip over each other."""

from __future__ import annotations

import subprocess
import uuid

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from paperboy.store.db import make_engine
from paperboy.store.migrate import current_revision, head_revision
from tests.support.cluster import PAPERBOY, base_env
from tests.support.databases import postgres_admin_url


def test_processes_that_migrate_one_empty_database_at_once_all_succeed(backend, tmp_path):
    admin = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        name = f"pbtest_migrate_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        env = base_env(url, tmp_path / "data")
        procs = [subprocess.Popen([PAPERBOY, "db", "upgrade"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT) for _ in range(4)]
        outs = [(p.wait(timeout=240), p.stdout.read().decode(errors="replace")[-1500:]) for p in procs]
        assert [rc for rc, _ in outs] == [0, 0, 0, 0], outs
        engine = make_engine(url)
        assert current_revision(engine) == head_revision()
        engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
