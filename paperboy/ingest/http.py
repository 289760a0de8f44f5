"""Polite HTTP for arXiv: one request per ``arxiv_delay`` seconds, retries with backoff.

Retried: 5xx answers (honouring ``Retry-After``), time-outs and cut connections, at most
``settings.http_retries`` times, waiting ``max(arxiv_delay, 1) * 2**attempt`` seconds
(capped at 5 minutes) unless the server said how long. Anything else is an error that
names the URL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

import httpx

from paperboy.config import Settings

MAX_WAIT = 300.0
log = logging.getLogger(__name__)


class SourceError(Exception):
    """A source cannot be read (network, HTTP status, malformed response); names the URL."""


URL_SHOWN = 160  # characters of a URL an error shows (one of 100 wanted ids is ~1,500)


def shown_url(url) -> str:
    """A URL for an error message or a log line: whole when short, else cut with how much
    was left out (an arXiv request for 100 ids filled a log line with them)."""
    text = str(url)
    return text if len(text) <= URL_SHOWN else f"{text[:URL_SHOWN]}… ({len(text):,} characters)"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PoliteClient:
    """An httpx client that spaces requests and retries transient failures."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.delay = settings.arxiv_delay
        self.retries = settings.http_retries
        self.backoff = max(settings.arxiv_delay, 1.0) if settings.arxiv_delay else 0.05
        self.sleep = sleep
        self._last = 0.0
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.http_timeout),
            headers={"User-Agent": "paperboy (self-hosted paper discovery; https://arxiv.org/help/api)"},
            follow_redirects=True,
        )
        self.requests = 0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _wait_turn(self) -> None:
        gap = self._last + self.delay - time.monotonic()
        if gap > 0:
            self.sleep(gap)
        self._last = time.monotonic()

    def get(self, url: str, params: dict | None = None, *, ok_statuses: tuple[int, ...] = ()) -> httpx.Response:
        """GET with spacing and retries; returns 2xx answers and any in ``ok_statuses``."""
        last_problem = ""
        for attempt in range(self.retries + 1):
            self._wait_turn()
            self.requests += 1
            wait: float | None = None
            try:
                resp = self.client.get(url, params=params)
                # Read the whole body inside the try: a cut connection shows up here.
                resp.read()
            except httpx.TimeoutException:
                last_problem = f"timed out after {self.client.timeout.read}s"
            except (httpx.TransportError, httpx.DecodingError) as exc:
                last_problem = f"connection failed ({exc.__class__.__name__}: {exc})"
            else:
                if resp.status_code < 300 or resp.status_code in ok_statuses:
                    return resp
                if resp.status_code >= 500 or resp.status_code == 429:
                    last_problem = f"HTTP {resp.status_code}"
                    wait = _retry_after(resp.headers.get("Retry-After"))
                else:
                    raise SourceError(f"{shown_url(resp.request.url)}: HTTP {resp.status_code}")
            if attempt == self.retries:
                break
            if wait is None:
                wait = self.backoff * 2**attempt
            # Said each time: with no network, six attempts and their waits are minutes of
            # silence otherwise (a command without logging set up prints warnings to stderr).
            log.warning("%s: %s; trying again in %.0f s (attempt %d of %d)", httpx.URL(url).host, last_problem,
                        min(wait, MAX_WAIT), attempt + 2, self.retries + 1)
            self.sleep(min(wait, MAX_WAIT))
        full = httpx.URL(url, params=params) if params else url
        tries = self.retries + 1
        raise SourceError(f"{shown_url(full)}: {last_problem} (gave up after {tries} attempt{'' if tries == 1 else 's'})")
