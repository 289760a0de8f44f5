"""One failure, said once: background work that fails the same way every round (an
embedder that cannot start, a database that is down) logs it with its traceback the
first time, then in one line at most every ``every`` seconds with how often it happened,
instead of a traceback a round (150 lines in 25 s with a 5 s refresh)."""

from __future__ import annotations

import logging
import time


class Repeats:
    def __init__(self, logger: logging.Logger, every: float = 600.0) -> None:
        self.logger, self.every = logger, every
        self.key: tuple | None = None
        self.count = 0
        self.since = self.last = 0.0

    def failed(self, what: str, exc: BaseException) -> None:
        key = (what, type(exc).__name__, str(exc)[:500])
        now = time.monotonic()
        if key != self.key:
            self.key, self.count, self.since, self.last = key, 1, now, now
            self.logger.error("%s", what, exc_info=exc)
            return
        self.count += 1
        if now - self.last >= self.every:
            self.last = now
            self.logger.error("%s again: %s: %s (%d times in %.0f min)", what, type(exc).__name__, exc, self.count,
                              (now - self.since) / 60)

    def ok(self) -> None:
        """It worked: the next failure is a new one, said in full."""
        self.key = None
