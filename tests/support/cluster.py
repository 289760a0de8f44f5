"""Several real Paperboy processes on loopback: `paperboy serve --workers N`, who served
a connection, members signing in over HTTP.

Which process answered a request is read from the kernel, not from the app: the
server's end of the TCP connection is a socket inode in /proc/net/tcp, and exactly one
process holds a file descriptor for it. So nothing in the app has to say who it is.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.servers import ROOT, free_port, wait_for_http

PASSWORD = "correct horse battery staple"
PAPERBOY = str(ROOT / ".venv" / "bin" / "paperboy")
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Served:
    """A `paperboy serve` started by a test: its supervisor and where it listens."""

    proc: subprocess.Popen
    port: int
    log: Path
    workers: int = 1

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def web_pids(self) -> set[int]:
        """The uvicorn worker processes (the supervisor's spawned children; with one
        worker uvicorn serves in the supervisor itself)."""
        if self.workers == 1:
            return {self.proc.pid}
        return {pid for pid in children(self.proc.pid) if "spawn_main" in cmdline(pid)}

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name in brackets may hold spaces; the parent id follows it.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def base_env(url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    return {**env, "PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(data_dir),
            "PAPERBOY_MAIL_BACKEND": "null", "PAPERBOY_EMBEDDER": "null", "PYTHONPATH": str(ROOT),
            "HF_HUB_OFFLINE": "1", **extra}


@contextlib.contextmanager
def serve(env: dict[str, str], workers: int, port: int | None = None, wait: bool = True) -> Iterator[Served]:
    """`paperboy serve --workers N` as a process of its own; waits until every web
    process has started, stops it (SIGTERM, then SIGKILL) at the end."""
    port = port or free_port()
    log = Path(env["PAPERBOY_DATA_DIR"]) / f"serve-{port}.log"
    Path(env["PAPERBOY_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([PAPERBOY, "serve", "--workers", str(workers), "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(proc, port, log, workers)
    try:
        if wait:
            try:
                wait_for_http(served.base + "/docs", timeout=90)
                wait_until(lambda: len(served.web_pids()) == workers, 90, "web processes")
            except (RuntimeError, AssertionError):
                raise RuntimeError(f"paperboy serve did not start:\n{served.output()}") from None
        yield served
    finally:
        stop(proc)


@contextlib.contextmanager
def serve_app_in_process(settings_env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """`paperboy serve` with these PAPERBOY_* settings over this process's environment
    (PAPERBOY_DATA_DIR among them); its base URL."""
    with serve({**os.environ, **settings_env}, workers) as served:
        yield served.base


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def _socket_inode(server_port: int, client_port: int) -> str | None:
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return fields[9]
    return None


def owner(pids: set[int], server_port: int, client_port: int) -> int | None:
    """Which of ``pids`` holds the server end of the connection from ``client_port``."""
    inode = _socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None


def request(served: Served, method: str, path: str, body: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str, int | None]:
    """One request on a fresh connection: (status, headers, body, pid of the web process that answered)."""
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
    try:
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        text = r.read().decode(errors="replace")
        # The connection is still open (keep-alive): its server end says who answered.
        pid = owner(served.web_pids(), served.port, client_port)
        return r.status, {k.lower(): v for k, v in r.getheaders()}, text, pid
    finally:
        conn.close()


def sign_in(base: str, email: str) -> str:
    """Sign in over HTTP as a browser does (the form's token and same-origin POST); the session cookie."""
    import httpx

    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as c:
        token = _TOKEN.search(c.get("/signin").text).group(1)
        r = c.post("/signin", data={"csrf_token": token, "email": email, "password": PASSWORD})
        assert r.status_code == 303, r.text[:300]
        return r.cookies["pb_session"]
