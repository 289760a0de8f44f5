"""Rate limits kept in the database, so they hold across every server process.

Fixed windows: one row per (key, window number) whose ``count`` is bumped with one
atomic upsert, in its own short transaction (a refused request still counts, and a
failed request does not undo its hit).
"""

from __future__ import annotations

import datetime as dt
import random
import time

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from paperboy.store.db import write_tx
from paperboy.store.models import RateLimit, utcnow

# name -> (how many, per how many seconds). ``install`` copies this onto
# ``app.state.rate_limits`` so an instance or a test can change one figure.
DEFAULT_LIMITS: dict[str, tuple[int, int]] = {
    "signin_fail_email": (5, 900),  # failed sign-ins per address
    "signin_fail_ip": (30, 900),  # failed sign-ins per client address
    "signup_ip": (10, 3600),
    "mail_email": (3, 3600),  # reset / magic-link / verification mails per address
    "mail_ip": (20, 3600),
    "vote": (120, 60),
    "comment": (10, 60),
    "preview": (120, 60),  # live comment previews (sent after a pause in typing)
    "submit": (20, 3600),
    "write": (120, 60),  # collections, follows
    "subscribe_ip": (20, 3600),
    "account_export": (10, 3600),  # data exports per member (each reads everything they have)  # digest subscriptions asked for from one client address
}


class RateLimited(Exception):
    def __init__(self, retry_after: int, message: str = "Too many requests; please try again later."):
        super().__init__(message)
        self.retry_after = retry_after
        self.message = message


def _window(seconds: int) -> tuple[int, int]:
    now = int(time.time())
    return now // seconds, seconds - now % seconds


def hit(engine: Engine, key: str, limit: int, seconds: int) -> bool:
    """Count one event under ``key``; True while the window's count is within ``limit``."""
    window, _ = _window(seconds)
    expires = utcnow() + dt.timedelta(seconds=seconds)
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(RateLimit).values(key=key[:200], window=window, count=1, expires_at=expires)
    stmt = stmt.on_conflict_do_update(
        index_elements=[RateLimit.key, RateLimit.window], set_={"count": RateLimit.count + 1}
    ).returning(RateLimit.count)
    with write_tx(engine) as conn:
        count = conn.execute(stmt).scalar_one()
        if random.random() < 0.01:
            conn.execute(delete(RateLimit).where(RateLimit.expires_at < utcnow()))
    return count <= limit


def undo(engine: Engine, key: str, seconds: int) -> None:
    """Give back one counted event (the action it guarded did not happen)."""
    window, _ = _window(seconds)
    with write_tx(engine) as conn:
        conn.execute(update(RateLimit).where(RateLimit.key == key[:200], RateLimit.window == window,
                                             RateLimit.count > 0).values(count=RateLimit.count - 1))


def count(engine: Engine, key: str, seconds: int) -> int:
    window, _ = _window(seconds)
    with engine.connect() as conn:
        return conn.scalar(
            select(RateLimit.count).where(RateLimit.key == key[:200], RateLimit.window == window)
        ) or 0


def retry_after(seconds: int) -> int:
    return _window(seconds)[1]


def allow(request, name: str, subject: str) -> bool:
    """Count one ``name`` event for ``subject``; False past the limit."""
    limit, seconds = request.app.state.rate_limits[name]
    return hit(request.app.state.engine, f"{name}:{subject}", limit, seconds)


def mail_allowed(request, email: str) -> bool:
    """Whether one more mail may go to ``email`` at this client's request (both counted)."""
    ok_email = allow(request, "mail_email", email)
    ok_ip = allow(request, "mail_ip", client_ip(request))
    return ok_email and ok_ip


# What a limit counts, as its refusal names it ("at most 120 votes a minute").
_COUNTED = {"vote": "votes", "comment": "comments", "preview": "previews", "submit": "submissions",
            "write": "changes (saves, collections, follows, feed settings)", "account_export": "data exports"}


def _per(seconds: int) -> str:
    return {60: "a minute", 3600: "an hour", 86400: "a day"}.get(seconds) or (
        f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds")


def refusal(name: str, limit: int, seconds: int, wait: int) -> str:
    """The 429's words: which limit, and when the next try goes through."""
    what = _COUNTED.get(name, "requests of this kind")
    then = f"{wait} second{'' if wait == 1 else 's'}" if wait < 120 else f"{-(-wait // 60)} minutes"
    return f"Too many requests: at most {limit:,} {what} {_per(seconds)}. Try again in {then}."


def check(request, name: str, subject: str) -> None:
    """Count one ``name`` event for ``subject``; raise RateLimited past the limit."""
    if not allow(request, name, subject):
        limit, seconds = request.app.state.rate_limits[name]
        wait = retry_after(seconds)
        raise RateLimited(wait, refusal(name, limit, seconds, wait))


def client_ip(request) -> str:
    return request.client.host if request.client else "unknown"
