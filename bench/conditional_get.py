"""What conditional GET costs a feed or API answer, in this process (no HTTP).

    PYTHONPATH=. .venv/bin/python bench/conditional_get.py [--size BYTES] [--n N]

Times one ASGI answer of SIZE bytes (default 100 kB, the daily Atom feed's order of
size) through ``web.conditional.ConditionalGetMiddleware`` against the same inner app
alone, in the same run:

* an answer the page cache already tagged (every cache hit): the middleware only reads
  the headers;
* an untagged answer (a member's private feed, a miss the cache does not keep): hashed;
* a client that holds the answer: a 304, no body sent.

Prints microseconds per answer and the ratio to the bare app. Figures only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from paperboy.web.conditional import ConditionalGetMiddleware, etag_of


def inner_app(body: bytes, tagged: bool):
    headers = [(b"content-type", b"application/atom+xml"), (b"content-length", str(len(body)).encode())]
    if tagged:
        headers.append((b"etag", etag_of(body)))

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def per_answer(app, n: int, if_none_match: bytes | None) -> float:
    headers = [(b"if-none-match", if_none_match)] if if_none_match else []
    scope = {"type": "http", "method": "GET", "path": "/feeds/daily.atom", "headers": headers}

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message):
        pass

    for _ in range(200):  # warm up
        await app(scope, receive, send)
    t0 = time.perf_counter()
    for _ in range(n):
        await app(scope, receive, send)
    return (time.perf_counter() - t0) / n * 1e6


async def main(size: int, n: int) -> None:
    body = os.urandom(size // 2).hex().encode()[:size]
    tag = etag_of(body)
    rows = [
        ("bare app (tagged answer)", inner_app(body, True), None),
        ("middleware, tagged answer (cache hit)", ConditionalGetMiddleware(inner_app(body, True)), None),
        ("middleware, tagged answer, client holds it (304)", ConditionalGetMiddleware(inner_app(body, True)), tag),
        ("bare app (untagged answer)", inner_app(body, False), None),
        ("middleware, untagged answer (hashed)", ConditionalGetMiddleware(inner_app(body, False)), None),
        ("middleware, untagged answer, client holds it (304)", ConditionalGetMiddleware(inner_app(body, False)), tag),
    ]
    print(f"answer of {size:,} bytes, {n:,} answers each; load average {os.getloadavg()[0]:.2f}")
    bare = None
    for name, app, held in rows:
        us = await per_answer(app, n, held)
        if name.startswith("bare"):
            bare = us
        print(f"{name:<52} {us:8.2f} us  ({us / bare:.1f}x the bare app)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    asyncio.run(main(args.size, args.n))
