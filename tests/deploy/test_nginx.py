"""deploy/nginx.conf, rendered by deploy/render.py, run by a real nginx in front of two
real `paperboy serve` web nodes: pages, static files, gzip, a POST judged for CSRF,
the client address the app counts, and a stopped node routed around."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from paperboy.community import accounts
from paperboy.store.db import make_engine, session_scope
from paperboy.store.models import RateLimit
from tests.support.cluster import PASSWORD, base_env, serve, stop
from tests.support.factories import make_paper
from tests.support.servers import ROOT, free_port, wait_for_http

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
EMAIL = "proxied@example.org"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def render(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "render.py"), str(ROOT / "deploy" / "nginx.conf")],
                          env=env, capture_output=True, text=True)


def test_render_names_what_is_missing():
    r = render({"PATH": "/usr/bin:/bin"})
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == "render.py: set PAPERBOY_UPSTREAMS (comma-separated host:port of the web nodes)"


@contextlib.contextmanager
def nginx(upstreams: list[int], prefix: Path) -> Iterator[str]:
    """nginx in the foreground with its own prefix, pid file, logs and temp files."""
    port = free_port()
    for d in ("state", "logs"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "NGINX_LISTEN": f"127.0.0.1:{port}", "NGINX_USER": "root",
           "NGINX_STATE_DIR": str(prefix / "state"), "NGINX_LOG_DIR": str(prefix / "logs"),
           "NGINX_PID_FILE": str(prefix / "nginx.pid"),
           "PAPERBOY_UPSTREAMS": ",".join(f"127.0.0.1:{p}" for p in upstreams)}
    r = render(env)
    assert r.returncode == 0, r.stderr
    conf = prefix / "nginx.conf"
    conf.write_text(r.stdout)
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "logs" / "error.log"),
                             "-g", "daemon off;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_for_http(base + "/static/style.css", timeout=30)
        except RuntimeError:
            proc.kill()
            raise RuntimeError(f"nginx did not start: {proc.stdout.read().decode(errors='replace')}") from None
        yield base
    finally:
        stop(proc)


def client(base: str, source: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from ``source`` (any 127.x address is this host)."""
    return httpx.Client(base_url=base, follow_redirects=False, timeout=60,
                        transport=httpx.HTTPTransport(local_address=source))


def failed_signin(c: httpx.Client, n: int, headers: dict | None = None) -> int:
    """One wrong password (for an address of its own, so only the per-client count adds up)."""
    r = c.post("/signin", data={"email": f"nobody{n}@example.org", "password": "wrong password!"},
               headers={"Sec-Fetch-Site": "same-origin", **(headers or {})})
    return r.status_code


def _limit_rows(url: str, address: str) -> list:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(RateLimit.key, RateLimit.count).where(RateLimit.key.contains(f":{address}"))).all()
    engine.dispose()
    return rows


def counted(url: str, address: str) -> set[int]:
    """The totals, over their windows, of each per-client limit that counted ``address``."""
    totals: dict[str, int] = {}
    for key, n in _limit_rows(url, address):
        totals[key] = totals.get(key, 0) + n
    return set(totals.values())


def windows(url: str, address: str) -> int:
    """How many windows of one limit counted ``address``."""
    rows = _limit_rows(url, address)
    return max((sum(1 for k, _ in rows if k == key) for key, _ in rows), default=0)


def access_log_once(path: Path, holds: Callable[[str], bool], timeout: float = 10.0) -> str:
    """nginx's access log, once ``holds`` is true of it (or the time is up).

    nginx writes a request's line after the response has gone out, so a client that reads
    the log straight after its response can get there first: wait for the line a while.
    """
    deadline = time.monotonic() + timeout
    while not holds(text := path.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return text


@pytest.mark.skipif(NGINX is None, reason="nginx not found (scripts/install test installs Debian's nginx)")
def test_nginx_in_front_of_two_web_nodes(fresh_url, tmp_path):
    engine = make_engine(fresh_url)
    with session_scope(engine) as db:
        paper = make_paper(db, title="Served through a proxy").arxiv_id
        accounts.create_user(db, EMAIL, PASSWORD, "Proxied Member", verified=True)
    engine.dispose()
    # Web nodes as docs/deploy.md describes them: one key, no worker, the proxy trusted.
    env = base_env(fresh_url, tmp_path / "data", PAPERBOY_SECRET_KEY="shared-by-every-node",
                   PAPERBOY_SERVE_WORKER="false", PAPERBOY_TRUSTED_PROXIES="127.0.0.1")
    with serve(env, workers=1) as a, serve(env, workers=1) as b, nginx([a.port, b.port], tmp_path / "nginx") as base:
        access_log = tmp_path / "nginx" / "logs" / "access.log"
        with client(base) as c:
            # Pages through either node, compressed, with the app's own headers.
            for _ in range(6):
                r = c.get(f"/papers/{paper}", headers={"Accept-Encoding": "gzip"})
                assert r.status_code == 200 and "Served through a proxy" in r.text
                assert r.headers["content-encoding"] == "gzip"
                assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            upstreams = {f"upstream=127.0.0.1:{port}" for port in (a.port, b.port)}
            def both_nodes(log: str) -> bool:
                return upstreams <= set(re.findall(r"upstream=[0-9.:]+", log))
            assert both_nodes(access_log_once(access_log, both_nodes))
            # Static files from nginx itself (the app sends no Expires).
            r = c.get("/static/style.css")
            assert r.status_code == 200 and r.headers["expires"] and "public" in r.headers["cache-control"]
            assert r.text == (ROOT / "paperboy" / "web" / "static" / "style.css").read_text()
            # Node-to-node routes are not public, even with a node's token.
            assert c.get("/_node/index/manifest").status_code == 404
            refused = re.compile(r'"GET /_node/index/manifest HTTP/1.1" 404 \d+ upstream=- ')
            assert refused.search(access_log_once(access_log, refused.search))
            # nginx passes what the app takes (a 2 MB BibTeX upload; the app's own 413, which
            # names its limit, for a form over 1 MB) and stops only what no route takes.
            form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            r = c.post("/signin", content=b"x" * 2_500_000, headers=form)
            assert r.status_code == 413 and "at most" in r.json()["detail"]  # the app's answer
            r = c.post("/signin", content=b"x" * 4_000_000, headers=form)
            assert r.status_code == 413 and "nginx" in r.text  # nginx's own

            # CSRF: a browser's same-origin POST passes (Origin is compared with the Host
            # nginx passes on), a cross-site one is refused, a token from one node is good on both.
            r = c.post("/signin", data={"email": EMAIL, "password": PASSWORD}, headers={"Origin": base})
            assert r.status_code == 303, r.text[:300]
            session = r.cookies["pb_session"]
            assert c.cookies["pb_session"] == session
            r = c.post(f"/papers/{paper}/vote", headers={"Origin": "http://evil.example", "Accept": "application/json"})
            assert r.status_code == 403
            voted = []
            for _ in range(4):  # fresh GETs and POSTs: nginx spreads them over the two nodes
                token = _TOKEN.search(c.get("/signin").text).group(1)
                r = c.post(f"/papers/{paper}/vote", data={"csrf_token": token}, headers={"Accept": "application/json"})
                assert r.status_code == 200, r.text[:300]
                voted.append(r.json()["voted"])
            assert voted == [True, False, True, False]

        # The address the app counts is the one nginx saw, whatever a client claims.
        with client(base, "127.0.0.2") as c2:
            statuses = [failed_signin(c2, n, {"X-Forwarded-For": f"10.9.9.{n}"}) for n in range(31)]
        # The per-client limit (30) counted 127.0.0.2 each time, and no claimed address.
        assert counted(fresh_url, "127.0.0.2") == {31} and counted(fresh_url, "10.9.9.") == set()
        if windows(fresh_url, "127.0.0.2") == 1:  # (the limit's window did not turn meanwhile)
            assert statuses == [400] * 30 + [429]
        with client(base, "127.0.0.3") as c3:
            assert failed_signin(c3, 99) == 400  # another client is not limited
        # Straight to a node: X-Forwarded-For is believed from the trusted proxy's address only.
        node = f"http://127.0.0.1:{a.port}"
        with client(node, "127.0.0.4") as c4:
            assert failed_signin(c4, 100, {"X-Forwarded-For": "127.0.0.2"}) == 400
        assert counted(fresh_url, "127.0.0.4") == {1} and counted(fresh_url, "127.0.0.2") == {31}
        with client(node, "127.0.0.1") as c1:
            failed_signin(c1, 101, {"X-Forwarded-For": "127.0.0.2"})
        assert counted(fresh_url, "127.0.0.2") == {32}  # believed from the proxy's address

        # A stopped node is routed around: every request is answered by the other one.
        stop(b.proc)
        with client(base) as c:
            for _ in range(10):
                assert c.get("/").status_code == 200
            r = c.post("/signin", data={"email": EMAIL, "password": PASSWORD}, headers={"Sec-Fetch-Site": "same-origin"})
            assert r.status_code == 303
