"""Conditional GET for feeds and the JSON API: an ``ETag`` on every 200, and ``304 Not
Modified`` (no body) when the client already holds that answer (``If-None-Match``).

Feed readers and scripts poll the same addresses every few minutes and almost every
time get what they already have; with the tag they keep their copy and the answer is a
few hundred bytes instead of a feed of 50 abstracts. The tag is a hash of the body, so
it is right whatever made the answer (the page cache, a member's private feed, a
replica) and changes exactly when the bytes do. An answer the page cache stores is
hashed once, when it is stored (``web/cache.py``), not on every hit. It is weak (``W/``): a proxy that
compresses the body keeps it valid. HTML pages are left alone: a member's carry their
own CSRF token, so no two answers are the same bytes.
"""

from __future__ import annotations

import hashlib

PREFIXES = ("/feeds/", "/api/")
MAX_BODY = 8 * 1024 * 1024  # larger answers go out as they come, untagged
# Headers a 304 repeats (RFC 9110, 15.4.5); the body's own (length, type) are left out.
_KEPT_ON_304 = {b"cache-control", b"content-location", b"date", b"etag", b"expires", b"vary", b"x-robots-tag"}


def etag_of(body: bytes) -> bytes:
    return b'W/"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """Weak comparison (RFC 9110, 13.1.2): ``W/"x"`` and ``"x"`` are the same tag."""
    if if_none_match.strip() == b"*":
        return True
    ours = etag.removeprefix(b"W/")
    return any(tag.strip().removeprefix(b"W/") == ours for tag in if_none_match.split(b","))


def _not_modified(headers: list) -> dict:
    return {"type": "http.response.start", "status": 304, "headers": [(k, v) for k, v in headers if k in _KEPT_ON_304]}


class ConditionalGetMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or not scope["path"].startswith(PREFIXES):
            await self.app(scope, receive, send)
            return
        asked = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        start: dict | None = None
        chunks: list[bytes] = []
        size = 0
        passing = False  # not a candidate, or tagged already: everything goes straight out
        dropping = False  # a 304 was sent for an answer tagged already: its body is not

        async def send_tagged(message):
            nonlocal start, size, passing, dropping
            if passing:
                await send(message)
                return
            if dropping:
                return
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if message["status"] != 200 or b"no-store" in headers.get(b"cache-control", b""):
                    passing = True
                    await send(message)
                    return
                tag = headers.get(b"etag")
                if tag is not None:  # from the page cache, hashed once when it was stored
                    if asked is not None and matches(asked, tag):
                        dropping = True
                        await send(_not_modified(message.get("headers", [])))
                        await send({"type": "http.response.body", "body": b""})
                        return
                    passing = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            body = message.get("body", b"")
            chunks.append(body)
            size += len(body)
            if size > MAX_BODY:  # too big to hold: send what is held and the rest as it comes
                passing = True
                await send(start)
                await send({"type": "http.response.body", "body": b"".join(chunks),
                            "more_body": message.get("more_body", False)})
                return
            if message.get("more_body", False):
                return
            whole = b"".join(chunks)
            tag = etag_of(whole)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"etag"] + [(b"etag", tag)]
            if asked is not None and matches(asked, tag):
                await send(_not_modified(headers))
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": whole})

        await self.app(scope, receive, send_tagged)
