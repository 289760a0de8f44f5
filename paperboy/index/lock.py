"""One refresher per index dir: an advisory file lock beside the indexes."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator

from paperboy.config import Settings


@contextlib.contextmanager
def refresh_lock(settings: Settings, wait: float = 0.0) -> Iterator[bool]:
    """Yield True if this caller holds the index dir's refresh lock, else False; ``wait``:
    how many seconds to keep trying first (a refresh gives up at once, a copy waits)."""
    settings.resolved_index_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.resolved_index_dir / ".refresh.lock", "a+") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.2)
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
