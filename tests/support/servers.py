"""Real servers on loopback for tests: the app under uvicorn, an SMTP sink (aiosmtpd).

Nothing here is a mock: the app is served over TCP by uvicorn, and mail goes through a
real SMTP conversation with aiosmtpd.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up: {last}")


@contextlib.contextmanager
def serve_app_in_thread(app, **options) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread (``options`` go to uvicorn.Config);
    yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/docs")
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class SMTPSink:
    """An aiosmtpd server on loopback that keeps what it receives.

    ``delay`` makes it wait that many seconds before answering DATA (a slow server).
    ``refuse_rate`` makes it answer a share of transactions with a transient 451 at
    DATA, chosen at random (seeded), to test retries.
    """

    def __init__(self, refuse_rate: float = 0.0, seed: int = 1, delay: float = 0.0) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0
        self.refuse_rate = refuse_rate
        self.delay = delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                if sink.delay:
                    await asyncio.sleep(sink.delay)  # a slow mail server
                with sink._lock:
                    if sink.refuse_rate and sink._rng.random() < sink.refuse_rate:
                        sink.refused += 1
                        return "451 4.3.0 try again later"
                    msg = message_from_bytes(envelope.content, policy=policy.default)
                    sink.messages.append(msg)
                    sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SMTPSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(address)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {count} mail(s) to {address}, got {len(self.to(address))}")


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def python() -> str:
    return sys.executable
