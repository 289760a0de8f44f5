"""`paperboy serve --workers N`: N real web processes behind one port agree on the key,
honour one member's session, show a vote made through any of them, and run the
worker's schedule once (in the supervisor), never N times."""

from __future__ import annotations

import json
import multiprocessing as mp
import re
import time
from pathlib import Path

import pytest

from paperboy.community import accounts
from paperboy.config import Settings
from paperboy.store.db import make_engine, session_scope
from tests.support.cluster import PASSWORD, base_env, request, serve, sign_in, wait_until
from tests.support.factories import make_paper

EMAIL = "many@example.org"
NAME = "Many Processes"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _key(data_dir: str, barrier) -> str:
    barrier.wait()
    return Settings(data_dir=Path(data_dir)).resolved_secret_key()


def test_processes_that_start_at_once_make_one_secret_key(tmp_path):
    n = 8
    ctx = mp.get_context("spawn")
    barrier = ctx.Manager().Barrier(n)
    with ctx.Pool(n) as pool:
        keys = pool.starmap(_key, [(str(tmp_path), barrier)] * n)
    stored = (tmp_path / "secret_key").read_text()
    assert set(keys) == {stored} and len(stored) > 40
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no half-made key left behind


@pytest.fixture
def site(fresh_url):
    engine = make_engine(fresh_url)
    with session_scope(engine) as db:
        paper = make_paper(db, title="Shared by every process").arxiv_id
        accounts.create_user(db, EMAIL, PASSWORD, NAME, verified=True)
    engine.dispose()
    return fresh_url, paper


def _every_process(served, path: str, headers: dict, check, tries: int = 300) -> set[int]:
    """GET ``path`` on fresh connections until each web process has answered; ``check``
    holds for every answer. The pids that answered."""
    pids = served.web_pids()
    seen: set[int] = set()
    for _ in range(tries):
        status, _h, body, pid = request(served, "GET", path, headers=headers)
        assert status == 200, body[:300]
        check(body, pid)
        seen.add(pid)
        if seen >= pids:
            return seen
    raise AssertionError(f"only processes {seen} of {pids} answered {tries} requests")


def _vote_count(body: str) -> int:
    return int(re.search(r'<span class="vote-count">(\d+)</span>', body).group(1))


def counts(n: int):
    def check(body, pid):
        assert _vote_count(body) == n, f"process {pid} shows {_vote_count(body)} votes, not {n}"
    return check


def test_every_process_honours_one_session_and_sees_one_vote(site, tmp_path):
    url, paper = site
    data_dir = tmp_path / "data"
    env = base_env(url, data_dir, PAPERBOY_INDEX_REFRESH_SECONDS="0.05")  # no PAPERBOY_SECRET_KEY: the file is made
    with serve(env, workers=3) as served:
        assert len(served.web_pids()) == 3
        cookie = sign_in(served.base, EMAIL)
        member = {"Cookie": f"pb_session={cookie}"}
        page = f"/papers/{paper}"

        def signed_in(body, pid):
            assert NAME in body, f"process {pid} did not know the session"

        _every_process(served, page, member, signed_in)

        # Anonymous pages cached by every process before the vote.
        _every_process(served, page, {}, counts(0))

        # A form token handed out by one process is accepted by the others (one key):
        # a POST with neither Sec-Fetch-Site nor Origin must carry it.
        status, headers, body, _ = request(served, "GET", "/signin", headers=member)
        token = _TOKEN.search(body).group(1)
        csrf_cookie = re.search(r"pb_csrf=([^;]+)", headers.get("set-cookie", "")).group(1)
        form = {"Cookie": f"pb_session={cookie}; pb_csrf={csrf_cookie}", "Accept": "application/json",
                "Content-Type": "application/x-www-form-urlencoded"}
        voters: set[int] = set()
        voted = None
        for _ in range(200):  # each POST toggles the vote; go on until two processes took one
            status, _h, body, pid = request(served, "POST", f"{page}/vote", body=f"csrf_token={token}", headers=form)
            assert status == 200, f"process {pid}: {status} {body[:200]}"
            voted = json.loads(body)["voted"]
            voters.add(pid)
            if len(voters) >= 2 and voted:
                break
        assert len(voters) >= 2 and voted

        def sees_my_vote(body, pid):
            assert _vote_count(body) == 1, f"process {pid} shows {_vote_count(body)} votes"
            assert 'class="vote-button voted" aria-pressed="true"' in body, f"process {pid} lost my vote"

        _every_process(served, page, member, sees_my_vote)  # at once: a member's page reads the version fresh
        time.sleep(0.5)  # anonymous pages re-read the version at most every 0.25 s (docs/architecture.md)
        _every_process(served, page, {}, counts(1))

        # The indexer (and the schedule started beside it) runs in the supervisor only:
        # whoever holds the index's refresh lock is that process, never a web process.
        holders = _lock_holders(data_dir / "index" / ".refresh.lock", seconds=30)
        assert holders == {served.proc.pid}, f"index refreshed by {holders}, supervisor is {served.proc.pid}"
        assert served.proc.pid not in served.web_pids()
    keys = [p for p in data_dir.iterdir() if "secret_key" in p.name]
    assert [p.name for p in keys] == ["secret_key"]


def _lock_holders(lock: Path, seconds: float) -> set[int]:
    """The processes seen holding ``lock`` (flock) in /proc/locks, sampled until one is seen."""
    holders: set[int] = set()
    deadline = time.monotonic() + seconds
    while not holders and time.monotonic() < deadline:
        if not lock.exists():
            time.sleep(0.05)
            continue
        inode = lock.stat().st_ino
        end = time.monotonic() + 2
        while time.monotonic() < end:
            for line in Path("/proc/locks").read_text().splitlines():
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF"
                if fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) == inode:
                    holders.add(int(fields[4]))
    return holders


def test_a_web_node_without_the_schedule_keeps_its_own_index_fresh(site, tmp_path):
    """PAPERBOY_SERVE_WORKER=false (worker nodes run the schedule): the node's own index
    files still follow the database, refreshed once per node, by the supervisor."""
    url, _ = site
    data_dir = tmp_path / "data"
    env = base_env(url, data_dir, PAPERBOY_SECRET_KEY="k", PAPERBOY_SERVE_WORKER="false",
                   PAPERBOY_INDEX_REFRESH_SECONDS="0.05", PAPERBOY_ACCESS_LOG="true")
    with serve(env, workers=2) as served:
        engine = make_engine(url)
        with session_scope(engine) as db:
            new = make_paper(db, title="Zeppelinology after startup").arxiv_id
        engine.dispose()

        def found() -> bool:
            status, _h, body, _pid = request(served, "GET", "/api/papers/search?q=zeppelinology")
            assert status == 200, body[:300]
            return new in body

        wait_until(found, 60, "the new paper in the node's index")
        # PAPERBOY_ACCESS_LOG: a line per request in serve's output
        wait_until(lambda: '"GET /api/papers/search?q=zeppelinology HTTP/1.1" 200' in served.output(), 10,
                   "the request in the access log")
        holders = _lock_holders(data_dir / "index" / ".refresh.lock", seconds=30)
        assert holders == {served.proc.pid}, f"index refreshed by {holders}, supervisor is {served.proc.pid}"
