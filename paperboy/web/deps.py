"""The request's unit of work: one database session, committed before the response.

Every part of a request that reads or writes the database (the route, the member
look-up, template helpers) uses the one session of ``request_session(request)``, so a
request never holds two pooled connections at once. Routes take it as
``db: Session = Depends(get_db, scope="function")``: the session is committed when the
route returns, before FastAPI sends the response, so a redirect after a write is only
sent once the write is stored, and a failed commit is an error the client sees.

The session of an unsafe request (POST, PUT, PATCH, DELETE) is bound to
``store.db.writer``: on SQLite its transaction takes the write lock up front. If the
database stays busy past its timeout, the request answers 503 with ``Retry-After``
after ``UnitOfWorkMiddleware`` has re-run the whole request a few times. A safe
request's session is bound to ``read_engine`` (a read replica when they are configured
and fit, see ``web/reads.py``); if that replica fails before anything was sent, the
request is re-run once on the primary.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, PlainTextResponse

from paperboy.config import Settings
from paperboy.store.db import is_busy, writer
from paperboy.web import reads

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_SESSION = "paperboy.db"
BUSY_HEADER = "x-paperboy-busy"
BUSY_RETRIES = 3


class DatabaseBusy(Exception):
    """The database stayed busy (write lock, serialization failure): retry the request."""


def request_session(request: Request) -> Session:
    """The request's one session, created on first use (no connection until a query)."""
    session = request.scope.get(_SESSION)
    if session is None:
        if request.method in SAFE_METHODS:
            bind = reads.read_engine(request.scope)
        else:
            bind = writer(request.app.state.engine)
        session = Session(bind=bind, expire_on_commit=False)
        request.scope[_SESSION] = session
    return session


def read_engine(request: Request) -> Engine:
    """The engine this request reads from outside its session (the search join): the
    request session's own (a replica or the primary)."""
    return reads.read_engine(request.scope)


@contextmanager
def unit_of_work(request: Request) -> Iterator[Session]:
    """The request's session for code that is not a route dependency: the caller
    commits; an error rolls back; the middleware closes it when the request ends."""
    session = request_session(request)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise


def get_db(request: Request) -> Iterator[Session]:
    """The route's session; use with ``Depends(get_db, scope="function")`` so the commit
    runs when the route returns, before the response is sent."""
    session = request_session(request)
    try:
        yield session
        session.commit()
    except OperationalError as exc:
        session.rollback()
        if is_busy(exc) and not reads.on_replica(request.scope):  # a replica's: re-run on the primary
            raise DatabaseBusy(str(exc.orig)) from exc
        raise
    except BaseException:
        session.rollback()
        raise
    finally:
        # Give the connection back now; a template helper that reads afterwards
        # starts a new short transaction on the same session.
        session.close()


def get_primary_db(request: Request) -> Iterator[Session]:
    """``get_db`` for a GET that writes (a confirmation link): on the primary, never a
    read replica, which would refuse the write."""
    reads.use_primary(request.scope)
    yield from get_db(request)


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


async def _busy_response(request: Request, exc: Exception):
    body = "The database is busy; please try again in a moment."
    headers = {"Retry-After": "1", BUSY_HEADER: "1"}
    accept = request.headers.get("accept", "")
    if request.url.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept):
        return JSONResponse({"error": "Service Unavailable", "detail": body, "status": 503},
                            status_code=503, headers=headers)
    return PlainTextResponse(body, status_code=503, headers=headers)


async def _operational_error(request: Request, exc: OperationalError):
    if is_busy(exc) and not reads.on_replica(request.scope):
        return await _busy_response(request, exc)
    raise exc


def install(app) -> None:
    """Errors of a busy database become 503 + Retry-After (retried by the middleware)."""
    app.add_exception_handler(DatabaseBusy, _busy_response)
    app.add_exception_handler(OperationalError, _operational_error)


class UnitOfWorkMiddleware:
    """Closes the request's session at the end, and re-runs a request whose unit of work
    found the database busy (the body is replayed; nothing was committed)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in SAFE_METHODS:
            await self._safe(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return
        for attempt in range(BUSY_RETRIES + 1):
            if not await self._attempt(scope, body, receive, send, last=attempt == BUSY_RETRIES):
                return
            log.info("database busy on %s %s, attempt %d", scope["method"], scope["path"], attempt + 1)
            await asyncio.sleep(0.05 * (attempt + 1))

    async def _safe(self, scope, receive, send) -> None:
        """A read-only request; re-run once on the primary if its replica failed before
        anything was sent (a replica stopped mid-request)."""
        started = False
        await reads.resolve(scope)  # chosen here, off the event loop when that takes a query

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except DBAPIError as exc:
            await _close(scope)
            if started or not reads.replica_failed(scope, exc):
                raise
            log.info("replica failed on %s %s: read again from the primary", scope["method"], scope["path"])
            await self.app(scope, receive, send)
        finally:
            await _close(scope)

    async def _attempt(self, scope, body: bytes, receive, send, last: bool) -> bool:
        """Run the request once; True if it must be run again (busy, nothing sent)."""
        busy = False
        replay = replaying(body, receive)

        async def send_unless_busy(message):
            nonlocal busy
            if message["type"] == "http.response.start" and not last and message["status"] == 503 \
                    and any(k.lower() == BUSY_HEADER.encode() for k, _ in message.get("headers", [])):
                busy = True
            if not busy:
                await send(message)

        attempt_scope = dict(scope)
        try:
            await self.app(attempt_scope, replay, send_unless_busy)
        finally:
            await _close(attempt_scope)
        return busy


async def read_body(receive, limit: int | None = None) -> bytes | None:
    """The whole request body, or None if the client went away; ``BodyTooLarge`` once
    it grows past ``limit`` bytes."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if limit is not None and len(body) > limit:
            raise BodyTooLarge
    return body


class BodyTooLarge(Exception):
    """A request body past the limit its reader set."""


def replaying(body: bytes, receive):
    """An ASGI ``receive`` that hands the app a body already read, then the real one
    (for the disconnect message)."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _close(scope) -> None:
    session = scope.pop(_SESSION, None)
    if session is not None:
        await run_in_threadpool(session.close)
