"""Looking up a submitted paper on arXiv while the member waits, with a deadline that
nothing under it can stretch.

The HTTP time-outs bound each connect and each read, not the whole look-up: a server
that sends a byte every few seconds, or a resolver that hangs (name look-ups ignore
HTTP time-outs), would hold the member for minutes. So the look-up runs in a thread of
its own and the member waits at most ``ANSWER_SECONDS``; past that they are told the
look-up goes on, and the thread stores the paper if arXiv answers at last, so trying
again finds it at once. At most ``CONCURRENT`` look-ups run (a slot is held until its
thread ends), so a hanging arXiv costs a few threads, never the site.
"""

from __future__ import annotations

import logging
import threading
from enum import Enum

from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.ingest.arxiv_api import fetch_ids
from paperboy.ingest.http import SourceError
from paperboy.papers.ids import BadRecord

log = logging.getLogger(__name__)

LOOKUP_SECONDS = 4.0  # each connect and read: one short try, no retries with backoff
ANSWER_SECONDS = 8.0  # the longest a member waits, whatever happens under it
CONCURRENT = 4

_slots = threading.BoundedSemaphore(CONCURRENT)
_running: set[threading.Thread] = set()
_running_lock = threading.Lock()


class Outcome(Enum):
    STORED = "stored"  # arXiv knew the paper; it is in the database now
    UNKNOWN = "unknown"  # arXiv answered that it has no such paper
    UNREACHABLE = "unreachable"  # arXiv refused, failed or timed out
    PENDING = "pending"  # no answer within ANSWER_SECONDS; the look-up goes on
    BUSY = "busy"  # every slot is taken by a look-up in progress


def interactive(settings: Settings) -> Settings:
    return settings.model_copy(update={"http_timeout": min(settings.http_timeout, LOOKUP_SECONDS),
                                       "http_retries": 0})


def look_up(settings: Settings, engine: Engine, arxiv_id: str, wait: float = ANSWER_SECONDS) -> Outcome:
    """Fetch and store ``arxiv_id``; what happened within ``wait`` seconds."""
    if not _slots.acquire(blocking=False):
        return Outcome.BUSY
    done = threading.Event()
    result: list[Outcome] = []

    def run() -> None:
        try:
            fetch_ids(interactive(settings), engine, [arxiv_id])
            result.append(Outcome.STORED)
        except BadRecord:
            result.append(Outcome.UNKNOWN)
        except SourceError as exc:
            log.info("arXiv look-up of %s failed: %s", arxiv_id, exc)
            result.append(Outcome.UNREACHABLE)
        except Exception:  # noqa: BLE001 - a thread of its own: log it, answer "unreachable"
            log.exception("arXiv look-up of %s failed", arxiv_id)
            result.append(Outcome.UNREACHABLE)
        finally:
            _slots.release()
            with _running_lock:
                _running.discard(threading.current_thread())
            done.set()

    thread = threading.Thread(target=run, name=f"arxiv-lookup-{arxiv_id}", daemon=True)
    with _running_lock:
        _running.add(thread)
    thread.start()
    if not done.wait(wait):
        return Outcome.PENDING
    return result[0]


def running() -> int:
    """How many look-ups are still going (some may have outlived their member's wait)."""
    with _running_lock:
        return len(_running)
