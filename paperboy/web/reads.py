"""Which database a request reads from: a replica for safe requests, the primary for writes.

With ``PAPERBOY_DATABASE_REPLICA_URLS`` set, a GET (HEAD, OPTIONS) reads from a replica
that ``store.replicas.ReplicaSet.pick`` finds fit, chosen once per request
(``read_engine``) and used by everything the request reads: the page cache's version
and member state, the route's session, the member look-up, the search join. POST, PUT,
PATCH and DELETE use the primary throughout. Without replicas ``read_engine`` is the
primary at the cost of one dictionary look-up.

Read-your-own-writes: after an unsafe request, ``LsnCookieMiddleware`` reads the
primary's WAL position (its commit is behind it) and sends it back in a short-lived
signed cookie (``pb_lsn``); a later safe request from that browser reads from a replica
only if it has replayed that far, else from the primary. Without the cookie (other
visitors) any replica within the lag bound serves.

A replica that fails during a request (refused, dropped, stopped): ``replica_failed``
marks it down and switches the request to the primary; the page cache re-reads there
and ``deps.UnitOfWorkMiddleware`` re-runs the route once if nothing was sent yet.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import anyio
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders

from paperboy.store.db import is_busy
from paperboy.store.replicas import ReplicaSet

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
READ = "paperboy.read"  # the scope's engine for reads, chosen once per request
COOKIE = "pb_lsn"
# Long enough for any replica within the lag bound to have replayed the write; the
# cookie is only a lower bound, so an old one costs nothing.
COOKIE_MAX_AGE = 300


class Reads:
    """The app's replicas and the key that signs the write-position cookie."""

    def __init__(self, replicas: ReplicaSet, secret: str, *, secure: bool) -> None:
        self.replicas = replicas
        self._key = hashlib.sha256(b"paperboy-lsn|" + secret.encode()).digest()
        self._secure = secure

    def _mac(self, lsn: str) -> str:
        return hmac.new(self._key, lsn.encode(), hashlib.sha256).hexdigest()[:32]

    def cookie(self, lsn: int) -> str:
        value = f"{lsn}.{self._mac(str(lsn))}"
        secure = "; Secure" if self._secure else ""
        return f"{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={COOKIE_MAX_AGE}{secure}"

    def min_lsn(self, scope) -> int:
        """The WAL position this visitor last wrote at (0: none, or a cookie not ours)."""
        for name, value in scope["headers"]:
            if name != b"cookie" or COOKIE.encode() not in value:
                continue
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE:
                    lsn, _, mac = v.partition(".")
                    if lsn.isdigit() and hmac.compare_digest(self._mac(lsn), mac):
                        return int(lsn)
        return 0


def read_engine(scope) -> Engine:
    """The engine this request reads from (chosen on first use, then kept)."""
    engine = scope.get(READ)
    if engine is None:
        state = scope["app"].state
        reads: Reads | None = getattr(state, "reads", None)
        if reads is None or scope["method"] not in SAFE_METHODS:
            engine = state.engine
        else:
            engine = reads.replicas.pick(reads.min_lsn(scope))
        scope[READ] = engine
    return engine


async def resolve(scope) -> Engine:
    """``read_engine`` for code on the event loop: when choosing means reading a
    replica's status (at most every ``check_interval`` per replica), in a worker thread."""
    engine = scope.get(READ)
    if engine is not None:
        return engine
    reads: Reads | None = getattr(scope["app"].state, "reads", None)
    if reads is not None and scope["method"] in SAFE_METHODS and reads.replicas.due():
        return await anyio.to_thread.run_sync(read_engine, scope)
    return read_engine(scope)


def use_primary(scope) -> None:
    """This request reads from the primary (a GET that writes: a link from a mail)."""
    scope[READ] = scope["app"].state.engine


def on_replica(scope) -> bool:
    """Whether this request reads from a replica."""
    reads: Reads | None = getattr(scope["app"].state, "reads", None)
    return reads is not None and reads.replicas.is_replica(scope.get(READ))


def replica_failed(scope, exc: BaseException) -> bool:
    """Whether ``exc`` is a database error of the replica this request reads from; if so,
    the request now reads from the primary (the caller runs its read again), and a
    replica that did not answer is left aside for a while."""
    engine = scope.get(READ)
    state = scope["app"].state
    reads: Reads | None = getattr(state, "reads", None)
    if reads is None or not isinstance(exc, DBAPIError) or not reads.replicas.is_replica(engine):
        return False
    if isinstance(exc, OperationalError | InterfaceError) and not is_busy(exc):
        reads.replicas.mark_down(engine, exc)
    else:  # a recovery conflict, or a GET that tried to write: this request only
        log.warning("a read on a replica failed, read again from the primary: %s",
                    (str(getattr(exc, "orig", exc)).strip().splitlines() or ["?"])[0])
    scope[READ] = state.engine
    return True


class LsnCookieMiddleware:
    """After an unsafe request, the primary's WAL position goes back in a signed cookie,
    so this browser's next pages come from a replica that has replayed its write."""

    def __init__(self, app, reads: Reads) -> None:
        self.app = app
        self.reads = reads

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_lsn(message):
            if message["type"] == "http.response.start":
                try:
                    lsn = await run_in_threadpool(self.reads.replicas.primary_lsn)
                except DBAPIError as exc:  # the primary is down: the request failed anyway
                    log.warning("could not read the primary's WAL position: %s", exc)
                else:
                    MutableHeaders(scope=message).append("set-cookie", self.reads.cookie(lsn))
            await send(message)

        await self.app(scope, receive, send_with_lsn)
