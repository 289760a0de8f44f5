"""What signing a script in by its personal API token costs, against a browser session,
through the whole app in this process (no sockets).

    PYTHONPATH=. .venv/bin/python bench/api_tokens.py [--n 2000] [--database-url URL]

One member with a session and a token; ``GET /api/me`` (the smallest member route:
the cost is the sign-in, not the work) sent N times each way, interleaved in rounds so
the machine's noise falls on both alike:

* a browser session (``pb_session`` cookie): the session look-up in ``current_user``;
* an API token (``Authorization: Bearer``): the token look-up in the middleware,
  before routing;
* the token look-up alone (``web.apitokens.authenticate``), and the bare app answering
  ``GET /api/me`` signed out (its 401, no look-up at all) as the floor.

Prints microseconds per request (median of the rounds) and the token's ratio to the
session. Figures only. SQLite in a temporary folder unless ``--database-url`` names a
migrated database of its own (it is written to).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import secrets
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from paperboy.community import accounts, api_tokens
from paperboy.config import Settings
from paperboy.site import create_app
from paperboy.store.db import make_engine, session_scope
from paperboy.store.migrate import upgrade
from paperboy.store.models import UserSession, utcnow
from paperboy.web import apitokens
from paperboy.web.security import SESSION_COOKIE, token_hash


def member(engine) -> tuple[str, str]:
    """A member's session cookie and a read-only API token."""
    cookie = secrets.token_urlsafe(32)
    with session_scope(engine) as db:
        user = accounts.create_user(db, f"bench-{secrets.token_hex(4)}@example.org", None, "Bench", verified=True)
        db.flush()
        now = utcnow()
        db.add(UserSession(id=token_hash(cookie), user_id=user.id, created_at=now, last_seen_at=now,
                           expires_at=now + dt.timedelta(days=30)))
        token = api_tokens.make(db, user.id, "bench", can_write=False, expires="never").token
    return cookie, token


async def per_request(client: httpx.AsyncClient, n: int, **kw) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        r = await client.get("/api/me", **kw)
        assert r.status_code in (200, 401), r.text
    return (time.perf_counter() - t0) / n * 1e6


async def run(app, cookie: str, token: str, n: int, rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"signed out (401, floor)": [], "browser session": [], "API token": []}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await per_request(client, 200, headers={"Authorization": f"Bearer {token}"})  # warm up
        await per_request(client, 200, cookies={SESSION_COOKIE: cookie})
        for _ in range(rounds):
            times["signed out (401, floor)"].append(await per_request(client, n // rounds))
            client.cookies.set(SESSION_COOKIE, cookie)
            times["browser session"].append(await per_request(client, n // rounds))
            client.cookies.clear()
            times["API token"].append(await per_request(client, n // rounds,
                                                        headers={"Authorization": f"Bearer {token}"}))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="requests each way")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pb-bench-tokens-"))
    url = args.database_url or f"sqlite:///{folder / 'paperboy.db'}"
    engine = make_engine(url)
    upgrade(engine)
    app = create_app(Settings(data_dir=folder, secret_key="bench", mail_backend="null", embedder="null"), engine)
    cookie, token = member(engine)

    t0 = time.perf_counter()
    for _ in range(args.n):
        assert apitokens.authenticate(engine, token) is not None
    lookup = (time.perf_counter() - t0) / args.n * 1e6

    times = asyncio.run(run(app, cookie, token, args.n, args.rounds))
    print(f"backend {engine.dialect.name}, {args.n} requests each way in {args.rounds} rounds (median of rounds)")
    print(f"{'GET /api/me':28} {'us/request':>10}")
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, us in medians.items():
        print(f"{name:28} {us:10.0f}")
    print(f"{'token look-up alone':28} {lookup:10.0f}")
    print(f"API token / browser session: {medians['API token'] / medians['browser session']:.2f}")


if __name__ == "__main__":
    main()
