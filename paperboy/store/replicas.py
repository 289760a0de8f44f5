"""PostgreSQL hot standbys that serve reads, and which of them may serve one now.

``ReplicaSet.pick(min_lsn)`` answers an engine for a read-only unit of work: a replica
that is up, in recovery (still a standby), no further behind than ``max_lag`` seconds
and, when the reader wrote a moment ago, past the primary's WAL position after that
write (``min_lsn``, from ``primary_lsn()``); else the primary. What a replica says
about itself (``pg_last_wal_replay_lsn()`` and its lag) is read at most every
``check_interval`` seconds per replica per process, so routing costs no query on most
requests. A replica that fails (refused, dropped, timed out) is left aside for
``retry_after`` seconds, logged once when it goes and once when it is back.

Lag: a standby with nothing left to replay (what it received is replayed, and its WAL
receiver is connected) is not behind, however long ago the last transaction was; one
with WAL to replay, or with no WAL receiver, is behind by ``now() -
pg_last_xact_replay_timestamp()``. The second overstates lag right after a quiet spell
(the replica is then skipped for the few milliseconds replay takes), never understates
it. Writers, the worker and the CLI never come here: they use the primary engine.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from paperboy.store.db import make_engine

log = logging.getLogger(__name__)

# One query per replica per check: where replay is, whether it is still a standby, and
# how far behind it is (0 when it has replayed all it received from a live stream).
_STATUS = text("""
SELECT pg_is_in_recovery(),
       (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint,
       CASE WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn()
                 AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
            THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
""")
_PRIMARY_LSN = text("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint")
CONNECT_TIMEOUT_S = 2  # a replica that does not answer is given up quickly: the primary serves


@dataclass
class Replica:
    engine: Engine
    name: str  # host:port/db, for the log (never the password)
    replayed: int = -1  # bytes of WAL replayed, as of ``checked``
    lag: float = 0.0
    checked: float = float("-inf")
    down_until: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReplicaSet:
    """The primary and its read replicas (none: ``pick`` always answers the primary)."""

    def __init__(self, primary: Engine, urls: list[str], *, max_lag: float = 5.0, retry_after: float = 5.0,
                 check_interval: float = 0.1) -> None:
        self.primary = primary
        self.max_lag = max_lag
        self.retry_after = retry_after
        self.check_interval = check_interval
        self.replicas = [Replica(make_engine(url, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}),
                                 _name(url)) for url in urls]
        self._next = 0

    def __bool__(self) -> bool:
        return bool(self.replicas)

    @property
    def engines(self) -> list[Engine]:
        return [r.engine for r in self.replicas]

    def is_replica(self, engine: Engine | None) -> bool:
        return any(r.engine is engine for r in self.replicas)

    def pick(self, min_lsn: int = 0) -> Engine:
        """A replica fit to serve a read that must see WAL up to ``min_lsn``, else the primary.
        Replicas take turns, so the load spreads over them."""
        n = len(self.replicas)
        start, self._next = self._next, (self._next + 1) % max(n, 1)
        for i in range(n):
            replica = self.replicas[(start + i) % n]
            if self._usable(replica, min_lsn):
                return replica.engine
        return self.primary

    def due(self) -> bool:
        """Whether ``pick`` would read a replica's status now (a query: call it off the
        event loop then)."""
        now = time.monotonic()
        return any(now >= r.down_until and now - r.checked >= self.check_interval for r in self.replicas)

    def primary_lsn(self) -> int:
        """The primary's WAL position now: a write committed before this call is at or before it."""
        with self.primary.connect() as conn:
            return int(conn.execute(_PRIMARY_LSN).scalar_one())

    def mark_down(self, engine: Engine, exc: BaseException | None = None) -> None:
        """A replica failed mid-request: leave it aside for ``retry_after`` seconds."""
        for replica in self.replicas:
            if replica.engine is engine:
                self._down(replica, exc)

    def dispose(self) -> None:
        for replica in self.replicas:
            replica.engine.dispose()

    # --- health
    def _usable(self, replica: Replica, min_lsn: int) -> bool:
        now = time.monotonic()
        if now < replica.down_until:
            return False
        if now - replica.checked >= self.check_interval:
            self._check(replica)
            if time.monotonic() < replica.down_until:
                return False
        return replica.lag <= self.max_lag and replica.replayed >= min_lsn

    def _check(self, replica: Replica) -> None:
        # One thread reads the status; others use the last one (at most check_interval old).
        if not replica.lock.acquire(blocking=False):
            return
        try:
            with replica.engine.connect() as conn:
                in_recovery, replayed, lag = conn.execute(_STATUS).one()
            if not in_recovery or replayed is None:
                # Promoted, or not a standby at all: its data may part from the primary's.
                self._down(replica, RuntimeError("not a standby (pg_is_in_recovery() is false)"))
                return
            if replica.down_until > float("-inf"):
                log.warning("read replica %s is back", replica.name)
                replica.down_until = float("-inf")
            replica.replayed, replica.lag = int(replayed), float(lag)
        except DBAPIError as exc:
            self._down(replica, exc)
        finally:
            replica.checked = time.monotonic()
            replica.lock.release()

    def _down(self, replica: Replica, exc: BaseException | None) -> None:
        if replica.down_until == float("-inf"):  # log the change, not every retry
            reason = str(getattr(exc, "orig", exc) or "failed").strip().splitlines()
            log.warning("read replica %s left aside for %.0f s: %s", replica.name, self.retry_after,
                        reason[0] if reason else "failed")
        replica.down_until = time.monotonic() + self.retry_after
        replica.engine.dispose()  # its pooled connections are likely dead too


def _name(url: str) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"
