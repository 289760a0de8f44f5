"""Reads from a real streaming replica: what goes where, read-your-own-writes, lag, failure.

The primary and its hot standby are PostgreSQL servers started for the session
(``streaming_replica`` in tests/conftest.py); the app's migrations and seed run on the
primary only, the standby follows. Which server answered is counted per engine: every
statement of the replica engine and of the primary engine.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import pytest
from sqlalchemy import create_engine, event, func, text, update
from sqlalchemy.pool import NullPool

from paperboy.config import ConfigError, load_settings
from paperboy.site import create_app
from paperboy.store.db import make_engine, session_scope
from paperboy.store.migrate import upgrade
from paperboy.store.models import Paper
from tests.community.conftest import PASSWORD, Browser
from tests.web.conftest import seed

_COUNT = re.compile(rb'<span class="vote-count">(\d+)</span>')


class Counter:
    """Statements run on one engine, other than a replica's status query."""

    def __init__(self, engine) -> None:
        self.n = 0
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, *_args) -> None:
        if "pg_is_in_recovery" not in statement:
            self.n += 1


@pytest.fixture(scope="module")
def rsite(streaming_replica, tmp_path_factory):
    pair = streaming_replica
    name = f"pbreplica_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pair.primary_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    primary_url, standby_url = pair.url(pair.primary_port, name), pair.url(pair.standby_port, name)
    engine = make_engine(primary_url)
    upgrade(engine)  # on the primary only: the standby replays it
    ids = seed(engine)
    from tests.community.conftest import Site

    with session_scope(engine) as db:
        from paperboy.community import accounts

        accounts.create_user(db, "reader@example.org", PASSWORD, "Reader", verified=True)
    pair.wait_replayed(name)
    settings = load_settings(data_dir=tmp_path_factory.mktemp("replica"), secret_key="replica-tests",
                             mail_backend="null", embedder="null", database_url=primary_url,
                             database_replica_urls=standby_url, replica_max_lag_seconds=3600,
                             replica_retry_seconds=0.5, serve_worker=False)
    app = create_app(settings, engine)
    site = Site(app, engine)
    site.ids, site.pair, site.db = ids, pair, name
    replicas = app.state.reads.replicas
    replicas.check_interval = 0  # read the replica's status on every request: no 100 ms grace in tests
    site.replica = replicas.replicas[0]
    site.on_replica, site.on_primary = Counter(site.replica.engine), Counter(engine)
    yield site
    replicas.dispose()
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def site(rsite):
    """The module's site with replay running and the replica up, a fresh page cache."""
    rsite.app.state.page_cache.clear()
    rsite.app.state.page_cache.check_interval = 0
    replicas = rsite.app.state.reads.replicas
    replicas.max_lag, replicas.check_interval = 3600, 0
    yield rsite
    if rsite.pair.standby_dir not in rsite.pair.running:
        rsite.pair.start_standby()
    rsite.pair.standby_sql("SELECT pg_wal_replay_resume()")
    rsite.pair.wait_replayed(rsite.db)
    rsite.replica.down_until = float("-inf")


def reads(site, fn):
    """(statements on the replica, statements on the primary) while ``fn`` runs."""
    r, p = site.on_replica.n, site.on_primary.n
    fn()
    return site.on_replica.n - r, site.on_primary.n - p


def votes_on(page: bytes) -> int:
    return int(_COUNT.search(page).group(1))


def member(site) -> Browser:
    client = Browser(site.app, base_url="http://testserver")
    client.sign_in("reader@example.org")
    site.pair.wait_replayed(site.db)
    return client


def test_pages_feeds_api_and_search_read_from_the_replica(site):
    anon = Browser(site.app, base_url="http://testserver")
    anon.get("/search?q=diffusion")  # the first search builds the index (from the primary, as the worker does)
    site.app.state.page_cache.clear()
    paths = ["/", "/trending", f"/papers/{site.ids['wed_top']}", "/search?q=diffusion", "/api/daily_papers",
             "/feeds/daily.rss", "/feeds/search.atom?q=diffusion", "/categories/cs.LG"]
    for path in paths:
        got = []
        on_replica, on_primary = reads(site, lambda path=path, got=got: got.append(anon.get(path)))
        assert got[0].status_code == 200, path
        assert on_replica > 0 and on_primary == 0, (path, on_replica, on_primary)
    # A signed-in member's pages too (their sign-in is replayed), their own state included.
    client = member(site)
    for path in ["/", f"/papers/{site.ids['wed_top']}", "/for-you"]:
        on_replica, on_primary = reads(site, lambda path=path: client.get(path).raise_for_status())
        assert on_replica > 0 and on_primary == 0, (path, on_replica, on_primary)


def test_writes_go_to_the_primary_and_answer_with_its_wal_position(site):
    client = member(site)
    token = client.token("/")
    on_replica, on_primary = reads(site, lambda: client.post(f"/papers/{site.ids['tue']}/vote",
                                                             data={"csrf_token": token}, follow_redirects=False))
    assert on_replica == 0 and on_primary > 0
    assert client.cookies.get("pb_lsn")


def test_a_members_vote_shows_on_their_next_page_while_replay_is_paused(site):
    arxiv_id = site.ids["mon_a"]
    client = member(site)
    anon = Browser(site.app, base_url="http://testserver")
    before = votes_on(anon.get(f"/papers/{arxiv_id}").content)
    site.pair.standby_sql("SELECT pg_wal_replay_pause()")

    r = client.form(f"/papers/{arxiv_id}/vote", page=f"/papers/{arxiv_id}")
    assert r.status_code == 303
    page = client.get(f"/papers/{arxiv_id}").content  # what the browser is sent back to
    assert votes_on(page) == before + 1
    assert b'class="vote-button voted" aria-pressed="true"' in page
    # Everyone else may read the replica within the lag bound: it has not replayed the vote.
    on_replica, on_primary = reads(site, lambda: page_of(anon, arxiv_id, before))
    assert on_replica > 0 and on_primary == 0
    # The member's pages stay right on every later request, cached or not.
    for _ in range(3):
        assert votes_on(client.get(f"/papers/{arxiv_id}").content) == before + 1

    site.pair.standby_sql("SELECT pg_wal_replay_resume()")
    site.pair.wait_replayed(site.db)
    assert votes_on(anon.get(f"/papers/{arxiv_id}").content) == before + 1


def test_a_scripts_token_reads_its_own_writes_from_the_primary_while_replay_is_paused(site):
    """A script sends no pb_lsn cookie: its reads go to the primary, so what it just
    changed is what it reads back."""
    arxiv_id = site.ids["wed_mid"]
    client = member(site)
    made = client.form("/account/tokens", {"name": "script", "access": "write", "expires": "30"}, page="/account")
    token = re.search(r"pb_[A-Za-z0-9_-]{40}", made.text).group(0)
    script = Browser(site.app, base_url="http://testserver", headers={"Authorization": f"Bearer {token}"})
    site.pair.standby_sql("SELECT pg_wal_replay_pause()")
    assert script.put(f"/api/papers/{arxiv_id}/vote").json()["voted"] is True
    script.cookies.clear()  # as curl and most scripts: no cookie jar, so no pb_lsn
    on_replica, on_primary = reads(site, lambda: script.get("/api/me/votes").raise_for_status())
    assert on_replica == 0 and on_primary > 0
    assert arxiv_id in [v["paper"]["id"] for v in script.get("/api/me/votes").json()]
    site.pair.standby_sql("SELECT pg_wal_replay_resume()")


def page_of(client, arxiv_id: str, expected_votes: int) -> None:
    assert votes_on(client.get(f"/papers/{arxiv_id}").content) == expected_votes


def test_a_cached_page_from_the_lagging_replica_is_not_served_to_the_member_who_voted(site):
    """Members share cached pages: one rendered from the replica before it replays a
    vote must not reach the voter as fresh."""
    arxiv_id = site.ids["mon_b"]
    voter = member(site)
    other = member(site)
    site.pair.standby_sql("SELECT pg_wal_replay_pause()")
    before = votes_on(other.get(f"/papers/{arxiv_id}").content)
    assert voter.form(f"/papers/{arxiv_id}/vote", page="/").status_code == 303
    # Another member, reading the replica, caches the members' page without the vote...
    assert votes_on(other.get(f"/papers/{arxiv_id}").content) == before
    # ...which the voter is never sent.
    r = voter.get(f"/papers/{arxiv_id}")
    assert votes_on(r.content) == before + 1, r.headers.get("x-paperboy-cache")


def test_reads_go_to_the_primary_when_the_replica_lags_past_the_limit(site):
    arxiv_id = site.ids["wed_mid"]
    anon = Browser(site.app, base_url="http://testserver")
    site.app.state.reads.replicas.max_lag = 1.0
    site.pair.standby_sql("SELECT pg_wal_replay_pause()")
    with session_scope(site.engine) as db:  # a write the replica does not replay
        db.execute(update(Paper).where(Paper.arxiv_id == arxiv_id).values(upvotes=Paper.upvotes + 5,
                                                                         modified_at=func.now()))
    _wait_for_lag(site, beyond=1.0)
    got = []
    on_replica, on_primary = reads(site, lambda: got.append(anon.get(f"/papers/{arxiv_id}")))
    assert got[0].status_code == 200
    assert on_primary > 0 and on_replica == 0
    assert site.replica.lag > 1.0


def _wait_for_lag(site, beyond: float) -> None:
    """Until the paused standby, with WAL to replay, is ``beyond`` seconds behind."""
    for _ in range(600):
        (lag,), = site.pair.standby_sql(
            "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp()) FROM pg_stat_wal_receiver "
            "WHERE pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()") or [(0,)]
        if lag and lag > beyond:
            return
        time.sleep(0.05)
    raise AssertionError("the paused standby never fell behind")


def test_a_get_that_writes_uses_the_primary(site, caplog):
    """The e-mail verification link writes on a GET: never on the read-only replica."""
    from paperboy.community import accounts
    from paperboy.store.models import User

    with session_scope(site.engine) as db:
        user = accounts.create_user(db, f"new{uuid.uuid4().hex[:6]}@example.org", PASSWORD, "New", verified=False)
        db.flush()
        token = accounts.verify_token("replica-tests", user)
        uid = user.id
    with caplog.at_level(logging.WARNING, logger="paperboy.web.reads"):
        r = Browser(site.app, base_url="http://testserver").get(f"/verify/{token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?verified=1"
    assert not [rec for rec in caplog.records if "replica" in rec.getMessage()]
    with session_scope(site.engine) as db:
        assert db.get(User, uid).email_verified_at is not None


@pytest.mark.parametrize("cached", [True, False])
def test_pages_answer_from_the_primary_while_the_replica_is_stopped(site, caplog, cached):
    site.app.state.page_cache.enabled = cached
    try:
        anon = Browser(site.app, base_url="http://testserver")
        client = member(site)
        replicas = site.app.state.reads.replicas
        assert anon.get("/").status_code == 200
        # Stopped while the app believes it healthy: the next requests fail on it mid-way.
        replicas.check_interval = 3600
        site.pair.stop_standby("immediate")
        with caplog.at_level(logging.WARNING, logger="paperboy.store.replicas"):
            for path in ["/", f"/papers/{site.ids['wed_top']}", "/trending", "/api/daily_papers",
                         "/search?q=diffusion"]:
                assert anon.get(path).status_code == 200, path
                assert client.get(path).status_code == 200, path
            # Still stopped when the status is read again: left aside, not logged again.
            replicas.check_interval = 0
            for _ in range(3):
                assert anon.get("/").status_code == 200
        assert len([r for r in caplog.records if "left aside" in r.getMessage()]) == 1

        site.pair.start_standby()
        site.pair.wait_replayed(site.db)
        time.sleep(replicas.retry_after)  # past the retry delay
        site.app.state.page_cache.clear()
        on_replica, on_primary = reads(site, lambda: anon.get("/").raise_for_status())
        assert on_replica > 0 and on_primary == 0
    finally:
        site.app.state.page_cache.enabled = True


def test_replica_settings_are_checked_at_start():
    with pytest.raises(ConfigError, match="need a PostgreSQL database_url"):
        load_settings(database_replica_urls="postgresql://u@replica/db")
    with pytest.raises(ConfigError, match=r"'mysql://u:\*\*\*@replica/db' is not a postgresql:// URL"):
        load_settings(database_url="postgresql://u@primary/db", database_replica_urls="mysql://u:secret@replica/db")
    with pytest.raises(ConfigError, match="names no host"):
        load_settings(database_url="postgresql://u@primary/db", database_replica_urls="postgresql://u@/db")
    settings = load_settings(database_url="postgresql://u@primary/db",
                             database_replica_urls=" postgres://u@r1/db , postgresql://u@r2:5433/db,")
    assert settings.replica_urls == ["postgresql+psycopg://u@r1/db", "postgresql+psycopg://u@r2:5433/db"]
    assert load_settings(database_replica_urls="").replica_urls == []


def test_without_replicas_every_read_uses_the_primary_and_no_cookie_is_set(tmp_path, fresh_engine):
    """The default: nothing changes (no status query, no WAL position, no cookie)."""
    app = create_app(load_settings(data_dir=tmp_path, secret_key="x", mail_backend="null", embedder="null"),
                     fresh_engine)
    assert app.state.reads is None
    client = Browser(app, base_url="http://testserver")
    assert client.get("/").status_code == 200
    assert client.get("/signin").status_code == 200
    assert "pb_lsn" not in client.cookies


def test_a_cached_page_serves_readers_at_its_version_or_an_older_one():
    """Newer data is fit for a reader on a server behind; older data never is. Instants
    compare across time zones (a replica may print them in another)."""
    from paperboy.web.cache import _fit

    at = ("2026-12-04 12:00:00.12+00", 10)
    assert _fit(at, at)
    assert _fit(at, ("2026-12-04 12:00:00.1+00", 10))
    assert _fit(at, ("2026-12-04 12:00:00+00", 9))
    assert not _fit(at, ("2026-12-04 12:00:00.123+00", 10))
    assert not _fit(at, ("2026-12-04 13:00:00.121+01", 10))  # 12:00:00.121 UTC: later
    assert _fit(at, ("2026-12-04 13:00:00.119+01", 10))
    assert not _fit(at, ("2026-12-04 12:00:00.12+00", 9))  # a paper deleted since
    assert not _fit(("None", 0), ("2026-12-04 12:00:00+00", 1)) and not _fit(at, ("None", 0))
