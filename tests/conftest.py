"""Shared fixtures: real SQLite and PostgreSQL, settings by construction, factories.

Every test that takes ``engine`` or ``db`` runs once per backend. ``db`` is a session
inside a transaction rolled back after the test; ``fresh_engine`` is a whole new
migrated database for tests that commit, run processes or need isolation.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.support.databases import PG_ENV, DatabaseFactory, postgres_admin_url

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DAILY = SHARED_DATA / "arxiv" / "daily"

# Tests never read the developer's own config or data folder.
os.environ.pop("PAPERBOY_CONFIG", None)
# Passwords hashed at a test's cost (argon2id still, every path the same): at the default
# 64 MiB x 3 passes each hash or sign-in costs ~0.1 s here, and the suite makes and signs
# in members by the thousand. Processes started with a cleaned environment keep the default.
os.environ.setdefault("PAPERBOY_PASSWORD_HASH_TIME_COST", "1")
os.environ.setdefault("PAPERBOY_PASSWORD_HASH_MEMORY_KIB", "1024")

BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config):
    pg = postgres_admin_url()
    return f"paperboy backends: sqlite, postgresql ({'at ' + pg if pg else 'SKIPPED: set ' + PG_ENV})"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"test data not found at {SHARED_DATA} (the project expects ../shared beside it)")
    return SHARED_DATA


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    if request.param == "postgresql" and not postgres_admin_url():
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    return request.param


@pytest.fixture(scope="session")
def databases(backend, tmp_path_factory):
    factory = DatabaseFactory(backend, tmp_path_factory.mktemp(f"db-{backend}"))
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def engine(databases):
    """One migrated database per backend for the session; use ``db`` to stay isolated."""
    return databases.new_engine(keep=True)


@pytest.fixture
def db(engine):
    """An ORM session whose work is rolled back after the test (commits become savepoints)."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def fresh_engine(databases):
    """A new, empty, migrated database of the current backend."""
    return databases.new_engine()


@pytest.fixture
def fresh_url(databases) -> str:
    return databases.new_url()


@pytest.fixture(autouse=True)
def _drop_what_the_test_made():
    """Close the pools and drop the databases a test made, so long runs stay within
    the PostgreSQL server's connection limit."""
    from tests.support.databases import LIVE_FACTORIES

    yield
    for factory in list(LIVE_FACTORIES):
        factory.end_of_test()


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback collecting every message."""
    from tests.support.servers import SMTPSink

    sink = SMTPSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (headless)."""
    from playwright.sync_api import sync_playwright

    from tests.support.servers import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/install test installs Debian's chromium")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser context and page; fails the test on any page JavaScript error."""
    context = browser.new_context()
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()


@pytest.fixture(scope="session")
def streaming_replica(backend):
    """A PostgreSQL primary and its streaming hot standby, both started here from the
    PostgreSQL 15 binaries in temporary folders (``tests/support/pg_replica.py``), and
    stopped at the end whatever happened. PostgreSQL backend only."""
    from tests.support.pg_replica import StreamingPair, missing

    if backend != "postgresql":
        pytest.skip("read replicas are PostgreSQL standbys")
    why = missing()
    if why:
        pytest.skip(why)
    pair = StreamingPair()
    try:
        yield pair.start()
    finally:
        pair.stop()
