"""A cache of rendered anonymous GET responses, invalidated by the papers table.

Every write that changes what a page shows about a paper sets ``papers.modified_at``
(a contract with ingest, community and index), so ``SELECT max(modified_at), count(*)
FROM papers`` is a version of everything the pages, feeds and API show. The cache reads
that version at most every ``check_interval`` seconds; an entry made under another
version is rendered again. Entries also expire after ``max_age`` seconds, which bounds
how stale time-dependent pages (trending) and things outside ``papers`` (a member's
display name) can be.

Only requests without a session cookie or Authorization header are served from the
cache, and only 200 responses that set no cookie are stored. Forms on cached pages carry
the visitor's own CSRF token: a stored page is kept split at the token of the visitor
it was rendered for, and joined with the current visitor's token when it is served (the middleware
sits inside the community middleware, which owns the CSRF cookie).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import anyio
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from starlette.requests import Request

from paperboy.store.models import Paper
from paperboy.web.security import csrf_token

CACHEABLE_PREFIXES = ("/papers", "/trending", "/search", "/authors/", "/categories/", "/api/", "/feeds/")
SESSION_COOKIES = (b"pb_session=",)


@dataclass
class Entry:
    version: tuple
    created: float
    status: int
    headers: list[tuple[bytes, bytes]]
    parts: list[bytes]  # the body split at the CSRF placeholder: b"".join when there is none

    @property
    def size(self) -> int:
        return sum(len(p) for p in self.parts)


class PageCache:
    def __init__(self, engine: Engine, *, check_interval: float = 0.25, max_age: float = 30.0,
                 max_entries: int = 2000, max_bytes: int = 128 * 1024 * 1024, max_body: int = 4 * 1024 * 1024):
        self.engine = engine
        self.check_interval = check_interval
        self.max_age = max_age
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_body = max_body
        self.enabled = True
        self.entries: OrderedDict[bytes, Entry] = OrderedDict()
        self.bytes = 0
        self._version: tuple | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self.inflight: dict[bytes, anyio.Event] = {}  # keys being rendered right now

    def read_version(self) -> tuple:
        with self.engine.connect() as conn:
            row = conn.execute(select(func.max(Paper.modified_at), func.count()).select_from(Paper)).one()
        return (str(row[0]), int(row[1]))

    async def version(self) -> tuple:
        now = time.monotonic()
        if self._version is None or now - self._checked >= self.check_interval:
            version = await anyio.to_thread.run_sync(self.read_version)
            self._version, self._checked = version, time.monotonic()
        return self._version

    def get(self, key: bytes, version: tuple) -> Entry | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        if entry.version != version or time.monotonic() - entry.created > self.max_age:
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
            self._version = None


def _cacheable_request(scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path = scope["path"]
    if path != "/" and not path.startswith(CACHEABLE_PREFIXES):
        return False
    for name, value in scope["headers"]:
        if name == b"authorization":
            return False
        if name == b"cookie" and any(c in value for c in SESSION_COOKIES):
            return False
    return True


def _csrf_token(scope) -> str:
    return csrf_token(Request(scope))


class PageCacheMiddleware:
    def __init__(self, app, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope, receive, send):
        cache = self.cache
        if not cache.enabled or not _cacheable_request(scope):
            await self.app(scope, receive, send)
            return
        key = scope["path"].encode() + b"?" + scope["query_string"]
        version = await cache.version()
        entry = cache.get(key, version)
        if entry is None and key in cache.inflight:
            # Another request is rendering this page (say, just after a vote): wait for
            # it instead of rendering the same page again (no stampede after invalidation).
            with anyio.move_on_after(10):
                await cache.inflight[key].wait()
            entry = cache.get(key, version)
        if entry is not None:
            cache.hits += 1
            parts = entry.parts
            body = _csrf_token(scope).encode().join(parts) if len(parts) > 1 else parts[0]
            headers = [*entry.headers, (b"content-length", str(len(body)).encode()), (b"x-paperboy-cache", b"hit")]
            await send({"type": "http.response.start", "status": entry.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        cache.misses += 1
        owner = key not in cache.inflight
        if owner:
            cache.inflight[key] = anyio.Event()
        try:
            await self._render_and_store(scope, receive, send, key, version)
        finally:
            if owner:
                cache.inflight.pop(key).set()

    async def _render_and_store(self, scope, receive, send, key: bytes, version: tuple) -> None:
        cache = self.cache
        start: dict | None = None
        chunks: list[bytes] = []
        size = 0
        storable = True

        async def capture(message):
            nonlocal start, size, storable
            if message["type"] == "http.response.start":
                start = message
                hdrs = message.get("headers", [])
                if message["status"] != 200 or any(
                        n == b"set-cookie" or (n == b"cache-control" and (b"no-store" in v or b"private" in v))
                        for n, v in hdrs):
                    storable = False
                message = {**message, "headers": [*hdrs, (b"x-paperboy-cache", b"miss")]}
            elif message["type"] == "http.response.body" and storable:
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > cache.max_body:
                    storable, chunks[:] = False, []
            await send(message)

        await self.app(scope, receive, capture)
        if not storable or start is None:
            return
        body = b"".join(chunks)
        parts = [body]
        if b'name="csrf_token"' in body:
            token = _csrf_token(scope).encode()
            if not token:
                return
            parts = body.split(token)
        headers = [(n, v) for n, v in start.get("headers", []) if n not in (b"content-length", b"x-paperboy-cache")]
        cache.put(key, Entry(version, time.monotonic(), start["status"], headers, parts))
