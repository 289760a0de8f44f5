"""A cache of rendered GET responses, shared by visitors, invalidated by the papers table.

Every write that changes what a page shows about a paper sets ``papers.modified_at``
(a contract with ingest, community and index), and Paperboy never deletes a paper
(hiding one is a write), so ``SELECT max(modified_at), max(id) FROM papers`` (two index
look-ups, whatever the table's size) is a version of everything the pages, feeds and
API show. The cache reads
that version at most every ``check_interval`` seconds; an entry made under another
version is rendered again. The version also holds this node's search index stamps
(``SearchService.index_stamp``): a search page rendered before an index refresh is
rendered again after it. Entries also expire after ``max_age`` seconds, which bounds
how stale time-dependent pages (trending) and things outside ``papers`` (a member's
display name on a card they submitted) can be.

Two kinds of visitor share entries: anonymous ones, and ordinary members (signed in,
neither admin nor suspended), whose pages are rendered once with a stand-in member
(``security.stand_in_member``), so no template can put one member's data into a page
another will get. What is a visitor's own (CSRF token, my votes, my collections, my
name, my comments' actions) is a slot (``web/slots.py``), filled per response from the
member's state among the page's papers: the session look-up and at most three indexed
queries, in one trip to a worker thread. Admins and suspended members, and members on
the API and feeds, are served by the routes as before. Only 200 responses that set no
cookie are stored. Every HTML response, cached or not, has its slots filled here (the
middleware sits inside the community middleware, which owns the CSRF cookie).

With read replicas (``web/reads.py``) the version, the member's state and the page are
all read from the request's one read engine, the version first, so a page is never
newer-labelled than what it shows: a page rendered from a replica that has not replayed
a member's vote carries the version from before the vote, and that member (whose
requests read from a server past their vote) needs a version at least as new. An entry
with a newer version than the reader's serves them too (newer data is always fit).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import anyio
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.requests import Request

from paperboy.store.db import make_engine
from paperboy.store.models import Paper
from paperboy.web import conditional, reads, security, slots

CACHEABLE_PREFIXES = ("/papers", "/trending", "/search", "/authors/", "/categories/", "/api/", "/feeds/")
NOT_FOR_MEMBERS = ("/api/", "/feeds/")  # features' API routes may read the member: routed


@dataclass
class Entry:
    version: tuple
    created: float
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes | None  # a response without slots, sent as it is
    parts: slots.Parts | None  # else the page split at its slots
    size: int
    anonymous: list[bytes] | None = None  # for anonymous readers: split at their token only


class PageCache:
    def __init__(self, engine: Engine, *, check_interval: float = 0.25, max_age: float = 30.0,
                 max_entries: int = 2000, max_bytes: int = 128 * 1024 * 1024, max_body: int = 4 * 1024 * 1024,
                 local_version: Callable[[], tuple] = tuple):
        self.engine = engine
        # What pages show from outside the database: this node's search index files
        # (``SearchService.index_stamp``), read with the database's version.
        self.local_version = local_version
        self.check_interval = check_interval
        self.max_age = max_age
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_body = max_body
        self.enabled = max_age > 0  # kept no time at all: no cache (PAPERBOY_PAGE_CACHE_SECONDS=0)
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.bytes = 0
        self._versions: dict[int, tuple[tuple, float]] = {}  # id(engine) -> (version, read at)
        self._reading: dict[int, anyio.Event] = {}  # id(engine) -> set when its read in flight ends
        self._generation = 0  # moved on by this process's writes: a read begun before one is not kept
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.inflight: dict[bytes, anyio.Event] = {}  # keys being rendered right now
        self.personal: set[bytes] = set()  # member pages that read member state outside slots
        self.loop_engine = _loop_engine(engine)
        self._loop_raw = None  # the loop engine's connection, checked out once: loop_connection()

    def read_version(self, engine: Engine | None = None) -> tuple:
        """(max(modified_at), max(id), *the local version)."""
        local = self.local_version()
        with (engine or self.engine).connect() as conn:
            return version_on(conn) + local

    async def version(self, engine: Engine | None = None) -> tuple:
        """The version of the data ``engine`` (the primary, or a replica) holds, read at
        most every ``check_interval`` seconds per engine."""
        engine = engine or self.engine
        key = id(engine)
        while True:
            seen = self._versions.get(key)
            if seen is not None and time.monotonic() - seen[1] < self.check_interval:
                return seen[0]
            reading = self._reading.get(key)
            if reading is None:
                break
            # One read at a time per engine: the requests that arrive meanwhile take the
            # version it was (at most a read's time older than check_interval allows), or
            # wait for the read when there is none (first, or after this process wrote).
            # Every request starting a read of its own put up to 64 reads in worker
            # threads every check_interval at 64 connections: p99 80-130 ms on every
            # cached page, 7-47 ms since (docs/api.md).
            if seen is not None:
                return seen[0]
            await reading.wait()
        generation = self._generation
        self._reading[key] = done = anyio.Event()
        try:
            version = await anyio.to_thread.run_sync(self.read_version, engine)
            if generation == self._generation:  # else a write of this process came after it began
                self._versions[key] = (version, time.monotonic())
        finally:
            del self._reading[key]
            done.set()
        return version

    def invalidate(self) -> None:
        """Read the version again on the next request (a write went through this process)."""
        self._generation += 1
        self._versions.clear()

    def get(self, key: bytes, version: tuple) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if not _fit(entry.version, version) or time.monotonic() - entry.created > self.max_age:
            self._drop(key)
            return None
        self.entries.move_to_end(key)
        return entry

    def put(self, key: bytes, entry: Entry) -> None:
        with self._lock:
            self._drop(key)
            self.entries[key] = entry
            self.bytes += entry.size
            while self.entries and (len(self.entries) > self.max_entries or self.bytes > self.max_bytes):
                self._drop(next(iter(self.entries)))

    def _drop(self, key: bytes) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()
            self.bytes = 0
            self._generation += 1
            self._versions.clear()

    def loop_connection(self) -> sqlite3.Connection:
        """The loop engine's sqlite3 connection itself, for a member's one-statement read
        without SQLAlchemy's checkout, BEGIN and ROLLBACK around it: 0.08 ms a read
        instead of 0.23 ms, half of a member's cached page. It is in autocommit (the
        engine's ``isolation_level = None``), so the statement is its own snapshot."""
        if self._loop_raw is None:
            self._loop_raw = self.loop_engine.raw_connection()
        return self._loop_raw.driver_connection

    def close(self) -> None:
        """Close the loop engine's connection: the app's lifespan calls this at shutdown.
        The engine stays usable (an app started again opens a new connection)."""
        if self.loop_engine is not None:
            if self._loop_raw is not None:
                self._loop_raw.close()
                self._loop_raw = None
            self.loop_engine.dispose()


def _loop_engine(engine: Engine) -> Engine | None:
    """For a SQLite file: one connection of its own for a member's read on the event
    loop. A WAL reader does not wait for writers, and the read (~0.15 ms) costs less
    than the hop to a worker thread; a connection of its own keeps the loop from ever
    waiting on the request pool. It gives up on a lock after 50 ms (the read then runs
    in a worker thread). On PostgreSQL the read is a network round trip: None, so
    it runs in a worker thread. The page cache owns it: ``PageCache.close``."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        return None
    from sqlalchemy.pool import StaticPool

    return make_engine(engine.url.render_as_string(hide_password=False), sqlite_busy_ms=50, poolclass=StaticPool)


# Not count(*): at millions of papers it is a scan of the table (0.8 s on PostgreSQL at
# 2.6M, docs/scale.md), and nothing here deletes papers for it to notice. Each max() is
# its own subquery: SQLite answers a lone min() or max() from an index, but both in one
# select by scanning the table (160 ms at 2.6M papers).
_VERSION = select(select(func.max(Paper.modified_at)).scalar_subquery(), select(func.max(Paper.id)).scalar_subquery())


def version_on(conn) -> tuple:
    row = conn.execute(_VERSION).one()
    return (str(row[0]), int(row[1] or 0))


def _fit(entry: tuple, wanted: tuple) -> bool:
    """Whether an entry made at version ``entry`` may serve a reader whose data is at
    ``wanted``: the same version, or a later ``max(modified_at)`` (rendered from a server
    further ahead: the primary, or another replica) from the same search index files.
    Compared as instants, not as text (a replica may print times in another time zone);
    what does not parse ("None": no papers yet) is never later."""
    if entry == wanted:
        return True
    if entry[2:] != wanted[2:]:  # made from other index files (a refresh since): render again
        return False
    try:
        return datetime.fromisoformat(entry[0]) > datetime.fromisoformat(wanted[0])
    except (ValueError, TypeError):  # unparsable, or naive against aware
        return False


def _cacheable_request(scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path = scope["path"]
    if path != "/" and not path.startswith(CACHEABLE_PREFIXES):
        return False
    return not any(name == b"authorization" for name, _ in scope["headers"])


def _key(member, scope) -> bytes:
    return (b"m:" if member else b"a:") + scope["path"].encode() + b"?" + scope["query_string"]


def _ordinary(member) -> bool:
    return member is not None and not member.is_admin and not member.is_suspended


class PageCacheMiddleware:
    def __init__(self, app, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope, receive, send):
        cache = self.cache
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not cache.enabled or not _cacheable_request(scope):
            try:
                await self._routed(scope, receive, send)
            finally:
                if scope["method"] not in ("GET", "HEAD"):
                    cache.invalidate()  # this process's own writes show on the very next page
            return
        counted = await self._on_reader(scope, cache.version)
        member = visitor = None
        if security.has_session_cookie(scope):
            if scope["path"].startswith(NOT_FOR_MEMBERS):
                await self._routed(scope, receive, send)
                return
            trip = None
            if cache.loop_engine is not None:
                with contextlib.suppress(OperationalError, sqlite3.OperationalError):  # busy: the worker thread waits instead
                    trip = self._member_trip_raw(scope, counted) or self._member_trip(scope, counted, cache.loop_engine)
            if trip is None:
                trip = await self._on_reader(scope, lambda engine: anyio.to_thread.run_sync(
                    self._member_trip, scope, counted, engine))
            member, version, visitor = trip
            if member is not None and not _ordinary(member):
                await self._routed(scope, receive, send, member)
                return
        else:
            version = counted
        key = _key(member, scope)
        entry = cache.get(key, version)
        if entry is None and key in cache.inflight:
            # Another request is rendering this page (say, just after a vote): wait for
            # it instead of rendering the same page again (no stampede after invalidation).
            with anyio.move_on_after(10):
                await cache.inflight[key].wait()
            entry = cache.get(key, version)
        if entry is not None:
            cache.hits += 1
            if member is None and entry.anonymous is not None:
                pieces = entry.anonymous
                body = pieces[0] if len(pieces) == 1 else slots.fill_anonymous(
                    pieces, slots.Visitor(token=security.csrf_token(Request(scope))))
                await self._send(scope, send, entry.status, entry.headers, body, None, None, b"hit")
                return
            if visitor is not None and (entry.parts is None or visitor.page is not entry.parts):
                visitor = None  # read for another rendering of the page: read again
            await self._send(scope, send, entry.status, entry.headers, entry.body, entry.parts, member, b"hit", visitor)
            return
        cache.misses += 1
        owner = key not in cache.inflight
        if owner:
            cache.inflight[key] = anyio.Event()
        try:
            if member is not None:
                if key in cache.personal:  # read the member's own state outside slots: theirs
                    await self._routed(scope, receive, send, member)
                    return
                security.render_as(scope, security.stand_in_member())
            await self._render_and_store(scope, receive, send, key, version, member)
        finally:
            if owner:
                cache.inflight.pop(key).set()

    async def _on_reader(self, scope, read):
        """``await read(engine)`` on the request's read engine; if that is a replica and it
        fails, again on the primary (``reads.replica_failed`` switched the request)."""
        try:
            return await read(await reads.resolve(scope))
        except DBAPIError as exc:
            if not reads.replica_failed(scope, exc):
                raise
            return await read(reads.read_engine(scope))

    def _member_trip(self, scope, counted: tuple, engine: Engine) -> tuple:
        """One trip to the database for a member's request (in a worker thread): who they
        are (``security.MemberCache``), then one query for the current version and, when
        the page is cached already, the member's state behind its slots. The version's
        max(modified_at) is read now, not up to ``check_interval`` ago, so the page a
        member is sent back to after their own vote or comment shows it, whichever
        process serves it; the highest paper id (which a new paper changes, and which
        also moves its max(modified_at)) is the shared one."""
        with engine.connect() as conn:
            member = security.MEMBERS.get(conn, scope)
            return self._member_state(scope, member, counted, lambda v, parts: slots.load_state(conn, v, parts))

    def _member_trip_raw(self, scope, counted: tuple) -> tuple | None:
        """``_member_trip`` on the event loop's own SQLite connection, when the member is
        known without a query (``MemberCache`` looked them up less than its ttl ago): the
        state and version in one statement. None when the member must be looked up."""
        member = security.MEMBERS.cached(scope)
        if member is slots.UNKNOWN:
            return None
        raw = self.cache.loop_connection()
        return self._member_state(scope, member, counted, lambda v, parts: slots.load_state_sqlite3(raw, v, parts))

    def _member_state(self, scope, member, counted: tuple, load) -> tuple:
        """(member, version, visitor) of a member's trip: their state read by ``load``
        when they are an ordinary member and the page is cached already."""
        if not _ordinary(member):
            return member, counted, None
        entry = self.cache.entries.get(_key(member, scope))  # a peek: the event loop decides
        visitor = slots.Visitor(member)
        return member, (load(visitor, entry.parts if entry else None), *counted[1:]), visitor

    def _state(self, scope, parts: slots.Parts, member, engine: Engine) -> slots.Visitor:
        """The visitor's own state behind the page's slots (in a worker thread)."""
        with engine.connect() as conn:
            if member is slots.UNKNOWN:
                member = security.MEMBERS.get(conn, scope)
            visitor = slots.Visitor(member)
            slots.load_state(conn, visitor, parts)
        return visitor

    async def _send(self, scope, send, status: int, headers: list, body: bytes | None, parts, member, tag: bytes,
                    visitor: slots.Visitor | None = None) -> None:
        if body is None:
            kinds = slots.kinds(parts)
            if visitor is None:
                if member is slots.UNKNOWN:
                    member = security.known_member(scope)
                if member is None or kinds <= {"csrf"}:
                    visitor = slots.Visitor(None if member is slots.UNKNOWN else member)  # nothing of theirs to read
                else:
                    visitor = await self._on_reader(scope, lambda engine: anyio.to_thread.run_sync(
                        self._state, scope, parts, member, engine))
            if kinds & {"csrf", "save", "own", "follow"}:
                visitor.token = security.csrf_token(Request(scope))
            body = slots.fill(parts, visitor)
        headers = [*headers, (b"content-length", str(len(body)).encode()), (b"x-paperboy-cache", tag)]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _routed(self, scope, receive, send, member=slots.UNKNOWN) -> None:
        """A response not from the cache: HTML ones are held back to fill their slots."""
        start: dict | None = None
        chunks: list[bytes] = []

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start":
                ctype = next((v for n, v in message.get("headers", []) if n == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                parts = slots.split(body) if slots.START_B in body else None
                headers = _without_length(start.get("headers", []))
                await self._send(scope, send, start["status"], headers, body if parts is None else None, parts,
                                 member, b"pass")
                return
            await send(message)

        await self.app(scope, receive, capture)

    async def _render_and_store(self, scope, receive, send, key: bytes, version: tuple, member) -> None:
        cache = self.cache
        start: dict | None = None
        chunks: list[bytes] = []

        async def capture(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if member is not None and scope.pop(security.PERSONAL, False):
            # The shared rendering read the stand-in's own state (a template helper outside
            # a slot): thrown away, remembered, and this member's page rendered for them.
            if len(cache.personal) >= 10_000:  # a bound, not a history: re-learnt on next use
                cache.personal.clear()
            cache.personal.add(key)
            scope.pop(security.MEMO, None)
            security.forget_user(scope)
            await self._routed(scope, receive, send, member)
            return
        if start is None:
            return
        body = b"".join(chunks)
        hdrs = start.get("headers", [])
        storable = start["status"] == 200 and len(body) <= cache.max_body and not any(
            n == b"set-cookie" or (n == b"cache-control" and (b"no-store" in v or b"private" in v)) for n, v in hdrs)
        parts = slots.split(body) if slots.START_B in body else None
        headers = _without_length(hdrs)
        if storable and parts is None and scope["path"].startswith(conditional.PREFIXES):
            headers.append((b"etag", conditional.etag_of(body)))  # hashed once, not on every hit
        if storable:
            cache.put(key, Entry(version, time.monotonic(), start["status"], headers,
                                 body if parts is None else None, parts, len(body),
                                 slots.anonymous(parts) if parts is not None and member is None else None))
        await self._send(scope, send, start["status"], headers, body if parts is None else None, parts,
                         member, b"miss")


def _without_length(headers: list) -> list:
    return [(n, v) for n, v in headers if n not in (b"content-length", b"x-paperboy-cache")]
