"""The page cache: hits, invalidation through papers.modified_at, per-visitor CSRF tokens."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import event, text, update
from starlette.testclient import TestClient

from paperboy.index.jobs import refresh_index
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper
from paperboy.web.security import check_csrf
from tests.support.factories import make_paper
from tests.web.conftest import WED, seed, settings_for

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def fresh_site(fresh_engine, tmp_path):
    ids = seed(fresh_engine)
    app = create_app(settings_for(tmp_path), fresh_engine)
    app.state.page_cache.check_interval = 0  # check the version on every request
    return app, fresh_engine, ids


async def asgi_get(app, path: str) -> tuple[int, bytes]:
    """One GET straight through the ASGI app (no client: many can run at once on one loop)."""
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"testserver")], "http_version": "1.1", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1), "root_path": ""}
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def write(engine, arxiv_id, **values):
    with session_scope(engine) as db:
        db.execute(update(Paper).where(Paper.arxiv_id == arxiv_id).values(
            modified_at=dt.datetime.now(dt.UTC), **values))


def test_second_anonymous_request_is_a_hit_with_the_same_page(fresh_site):
    app, _, _ = fresh_site
    c = TestClient(app)
    first = c.get("/")
    second = c.get("/")
    assert first.headers["x-paperboy-cache"] == "miss"
    assert second.headers["x-paperboy-cache"] == "hit"
    assert second.text == first.text
    assert int(second.headers["content-length"]) == len(second.content)
    api = [c.get("/api/daily_papers") for _ in range(2)]
    assert [r.headers["x-paperboy-cache"] for r in api] == ["miss", "hit"]
    assert api[0].json() == api[1].json()


def test_writes_to_papers_invalidate(fresh_site):
    app, engine, ids = fresh_site
    c = TestClient(app)
    assert '<span class="vote-count">3</span>' in c.get(f"/papers/{ids['wed_top']}").text
    write(engine, ids["wed_top"], upvotes=7)
    r = c.get(f"/papers/{ids['wed_top']}")
    assert r.headers["x-paperboy-cache"] == "miss"
    assert '<span class="vote-count">7</span>' in r.text
    assert ids["wed_mid"] in c.get("/").text
    write(engine, ids["wed_mid"], hidden=True)
    assert ids["wed_mid"] not in c.get("/").text
    assert c.get(f"/api/papers/{ids['wed_mid']}").status_code == 404


def test_each_visitor_gets_their_own_valid_csrf_token_from_a_cached_page(fresh_site):
    app, _, _ = fresh_site
    seen = []
    for _ in range(3):
        c = TestClient(app)
        r = c.get("/")
        tokens = set(TOKEN.findall(r.text))
        assert len(tokens) == 1
        token = tokens.pop()
        cookie = c.cookies.get("pb_csrf")
        assert cookie and check_csrf(app, cookie, token)
        seen.append((r.headers["x-paperboy-cache"], token))
        # the same visitor again: same token, served from the cache, no new cookie
        again = c.get("/")
        assert again.headers["x-paperboy-cache"] == "hit"
        assert TOKEN.findall(again.text)[0] == token and "set-cookie" not in again.headers
    assert [s[0] for s in seen] == ["miss", "hit", "hit"]
    assert len({s[1] for s in seen}) == 3


def test_an_unknown_session_is_served_the_anonymous_page_and_errors_are_not_stored(fresh_site):
    app, _, _ = fresh_site
    TestClient(app).get("/")
    c = TestClient(app)
    c.cookies.set("pb_session", "not-a-real-session")
    r = c.get("/")
    assert r.headers["x-paperboy-cache"] == "hit" and "Sign in" in r.text
    assert "x-paperboy-cache" not in c.get("/api/daily_papers").headers  # members' API calls are routed
    anon = TestClient(app)
    for _ in range(2):
        r = anon.get("/papers?date=2025-13-45")
        assert r.status_code == 422 and r.headers["x-paperboy-cache"] == "miss"
    assert "x-paperboy-cache" not in anon.get("/static/style.css").headers


def test_concurrent_misses_render_a_page_once(fresh_site):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    app, _, _ = fresh_site

    async def main():
        return await asyncio.gather(*[asgi_get(app, "/api/daily_papers") for _ in range(8)])

    cache = app.state.page_cache
    # its own thread: the Playwright fixtures may own this thread's event loop
    with ThreadPoolExecutor(1) as pool:
        results = pool.submit(asyncio.run, main()).result()
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1
    assert (cache.misses, cache.hits) == (1, 7)


def test_readers_arriving_together_after_the_interval_share_one_version_read(fresh_site):
    """When the version is due to be read again, the requests of that moment do not each
    read it (64 reads in worker threads every interval at 64 connections made the p99
    of every cached page 80-130 ms): one reads, the others take the version before it."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    app, engine, ids = fresh_site
    cache = app.state.page_cache
    reads: list[str] = []
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: reads.append(statement) if "max(papers.id)" in statement else None)

    async def get(path: str) -> int:
        return (await asgi_get(app, path))[0]

    async def main():
        await get("/")  # rendered and stored
        # An interval longer than a burst of 16 requests takes on a loaded machine (with
        # 0.2 s, a slow burst on PostgreSQL outlived it and read the version twice).
        cache.check_interval = 1.0
        await asyncio.gather(*[get("/") for _ in range(4)])
        reads.clear()
        await asyncio.sleep(1.1)  # the version is due again
        first = await asyncio.gather(*[get("/") for _ in range(16)])
        once = len(reads)
        write(engine, ids["wed_top"], upvotes=9)
        await asyncio.sleep(1.1)
        second = await asyncio.gather(*[get("/") for _ in range(16)])
        # Counted before any later request: one that comes more than the interval after
        # this burst's read (the page is rendered anew after the write, slow on a loaded
        # machine) rightly reads the version again.
        return first + second, once, len(reads)

    with ThreadPoolExecutor(1) as pool:  # its own thread: the Playwright fixtures may own this one's loop
        statuses, once, twice = pool.submit(asyncio.run, main()).result()
    assert set(statuses) == {200}
    assert once == 1
    assert twice == 2
    assert '<span class="vote-count">9</span>' in TestClient(app).get(f"/papers/{ids['wed_top']}").text


def test_the_page_caches_own_connection_is_closed_when_the_app_stops(fresh_site):
    app, _, _ = fresh_site
    loop_engine = app.state.page_cache.loop_engine
    if loop_engine is None:  # PostgreSQL: member reads run in a worker thread, on the app's engine
        with TestClient(app) as c:
            assert c.get("/").status_code == 200
        return
    closed = []
    event.listen(loop_engine, "close", lambda *_: closed.append(1))
    with TestClient(app) as c:
        assert c.get("/").status_code == 200
        with loop_engine.connect() as conn:  # what a member's read on the event loop opens
            assert conn.scalar(text("select 1")) == 1
        assert closed == []
    assert closed == [1]
    with TestClient(app) as c, loop_engine.connect() as conn:  # started again: a new connection
        assert conn.scalar(text("select 1")) == 1


def test_the_version_is_read_from_indexes_not_by_scanning_the_papers(fresh_site):
    """The version is read often (every few requests of every web process), so it must cost
    the same at a hundred papers and at millions: each max() from an index. SQLite answers
    a lone max() that way but scans the table for two in one select (160 ms at 2.6M)."""
    from paperboy.web.cache import _VERSION, version_on

    _app, engine, _ids = fresh_site
    with engine.connect() as conn:
        newest = conn.execute(text("SELECT max(id) FROM papers")).scalar()
        modified = conn.execute(text("SELECT max(modified_at) FROM papers")).scalar()
        version = version_on(conn)
        assert version[1] == newest and version[0] == str(conn.execute(_VERSION).one()[0])
        assert modified is not None and version[0] != "None"
        if engine.dialect.name != "sqlite":
            return  # PostgreSQL's plan depends on the table's statistics (index scans at 2.6M: docs/scale.md)
        sql = str(_VERSION.compile(engine, compile_kwargs={"literal_binds": True}))
        plan = [row[-1] for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    on_papers = [step for step in plan if " papers" in step]
    assert len(on_papers) == 2 and all(step.startswith("SEARCH papers") for step in on_papers), plan


def test_page_cache_seconds_bounds_how_long_a_page_is_kept_and_zero_turns_the_cache_off(fresh_engine, tmp_path):
    seed(fresh_engine)
    kept = TestClient(create_app(settings_for(tmp_path, page_cache_seconds=0.3), fresh_engine))
    assert [kept.get("/").headers["x-paperboy-cache"] for _ in range(2)] == ["miss", "hit"]
    time.sleep(0.4)  # nothing was written: only the age renders it again
    assert kept.get("/").headers["x-paperboy-cache"] == "miss"

    off = TestClient(create_app(settings_for(tmp_path, page_cache_seconds=0), fresh_engine))
    first, second = off.get("/"), off.get("/")
    assert first.status_code == second.status_code == 200
    assert "hit" not in (first.headers.get("x-paperboy-cache"), second.headers.get("x-paperboy-cache"))
    assert off.app.state.page_cache.entries == {}


def test_a_search_page_cached_before_an_index_refresh_is_rendered_again_after_it(fresh_site):
    """A paper stored after the last index refresh is not found yet; once the refresh
    commits, the same search finds it at once, not after the cached page expires."""
    app, engine, _ = fresh_site
    c = TestClient(app)
    assert c.get("/search?q=diffusion").status_code == 200  # the small instance builds its index
    with session_scope(engine) as db:
        make_paper(db, arxiv_id="2501.09999", title="Quokka locomotion in marsupial robotics", announced_on=WED)
    before = [c.get("/search?q=quokka") for _ in range(2)]
    assert [r.headers["x-paperboy-cache"] for r in before] == ["miss", "hit"]
    assert "2501.09999" not in before[1].text  # the index has not seen it
    refresh_index(app.state.settings, engine, progress=False, embed=False)
    after = c.get("/search?q=quokka")
    assert after.headers["x-paperboy-cache"] == "miss"
    assert "2501.09999" in after.text
    assert c.get("/search?q=quokka").headers["x-paperboy-cache"] == "hit"
