"""A storm of mixed traffic against a real Paperboy server while a snapshot import runs.

Used by tests/reliability/test_storm.py (small and bounded) and bench/storm.py (as big
as asked). Members vote and vote back, follow and unfollow, create, fill, rename and
delete collections and comment;
anonymous clients fail sign-ins, sign up and subscribe; others read pages whose latency
is recorded. Every write the server acknowledged is then looked for in the database.

Each member acts sequentially on objects of their own, so the expected end state of
every acknowledged write is unambiguous (the last vote answer says voted or not, the
last acknowledged follow or unfollow holds; a renamed collection has its last
acknowledged name and the paper added to it; a deleted one is gone).
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from sqlalchemy import func, select

from paperboy.community import accounts
from paperboy.community.models import Comment
from paperboy.store.db import make_engine, session_scope
from paperboy.store.models import Collection, CollectionItem, Follow, Paper, User, Vote

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "arxiv"
PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class StormResult:
    backend: str
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    acknowledged: int = 0
    missing: list[str] = field(default_factory=list)
    get_latencies: list[float] = field(default_factory=list)
    import_seconds: float = 0.0
    import_records: int = 0
    import_stored: int = 0
    import_returncode: int | None = None
    import_output: str = ""
    storm_seconds: float = 0.0
    server_log: str = ""

    @property
    def verified(self) -> int:
        return self.acknowledged - len(self.missing)

    def percentile(self, q: float) -> float:
        if not self.get_latencies:
            return 0.0
        data = sorted(self.get_latencies)
        return data[min(len(data) - 1, int(q * len(data)))]

    def summary(self) -> str:
        p50 = statistics.median(self.get_latencies) if self.get_latencies else 0.0
        return (f"{self.backend}: {self.requests} requests in {self.storm_seconds:.1f} s, "
                f"{len(self.server_errors)} 5xx, writes verified {self.verified}/{self.acknowledged}, "
                f"GET p50 {p50 * 1000:.0f} ms p99 {self.percentile(0.99) * 1000:.0f} ms "
                f"({len(self.get_latencies)} GETs), import {self.import_records} records in "
                f"{self.import_seconds:.1f} s ({self.import_records / max(self.import_seconds, 1e-9):.0f}/s, "
                f"exit {self.import_returncode})")


# --- the setting ---------------------------------------------------------------------

def write_snapshot(path: Path, records: int) -> int:
    """A Kaggle-format snapshot: the real sample's lines under fresh new-style ids."""
    real = [orjson.loads(line) for line in (SHARED / "kaggle" / "arxiv-metadata-oai-snapshot.head200.json").open("rb")]
    with path.open("wb") as out:
        for n in range(records):
            obj = real[n % len(real)]
            out.write(orjson.dumps({**obj, "id": f"{1901 + n // 90_000:04d}.{n % 90_000:05d}"}) + b"\n")
    return records


def seed(url: str, members: int, papers: int) -> tuple[list[str], list[str]]:
    """Papers from one real daily listing and verified members; (arXiv ids, emails)."""
    from paperboy.ingest.listing import read_listing
    from paperboy.ingest.pipeline import run_source

    engine = make_engine(url)
    listings = sorted((SHARED / "daily").glob("*.json*"))
    for listing in listings:
        run_source(engine, f"storm:{listing.name}", read_listing(listing))
        with engine.connect() as conn:
            if conn.scalar(select(func.count()).select_from(Paper)) >= papers:
                break
    emails = [f"storm{i}@example.org" for i in range(members)]
    hashed = accounts.hash_password(PASSWORD)  # once: ~0.1 s each, the same for every member
    with session_scope(engine) as db:
        for email in emails:
            accounts.create_user(db, email, None, email.split("@")[0], verified=True, password_hash=hashed)
        ids = list(db.scalars(select(Paper.arxiv_id).order_by(Paper.id).limit(papers)))
    engine.dispose()
    return ids, emails


def server_env(url: str, data_dir: Path) -> dict[str, str]:
    return {"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(data_dir), "PAPERBOY_MAIL_BACKEND": "null",
            "PAPERBOY_EMBEDDER": "null", "PAPERBOY_SERVE_WORKER": "false", "PAPERBOY_SECRET_KEY": "storm",
            "PYTHONPATH": str(ROOT)}


# --- the clients ---------------------------------------------------------------------

class Client:
    def __init__(self, base: str, result: StormResult):
        # A fresh connection per request: a kept-alive one that the server closes for
        # idleness just as a request goes out reads as a failure no server caused.
        self.http = httpx.AsyncClient(base_url=base, timeout=120, follow_redirects=False,
                                      limits=httpx.Limits(max_keepalive_connections=0))
        self.result = result
        self.token = ""

    async def refresh_token(self) -> None:
        self.token = _TOKEN.search((await self.http.get("/signin")).text).group(1)

    async def request(self, method: str, path: str, data: dict | None = None, json: bool = False) -> httpx.Response:
        headers = {"Accept": "application/json"} if json else {}
        if method == "POST":
            r = await self.http.post(path, data={"csrf_token": self.token, **(data or {})}, headers=headers)
        else:
            started = time.monotonic()
            r = await self.http.get(path, headers=headers)
            self.result.get_latencies.append(time.monotonic() - started)
        self.result.requests += 1
        self.result.statuses[r.status_code] += 1
        if r.status_code >= 500:
            self.result.server_errors.append(f"{method} {path}: {r.status_code} {r.text[:200]}")
        return r

    async def close(self) -> None:
        await self.http.aclose()


@dataclass
class Expected:
    votes: dict = field(default_factory=dict)  # (email, arxiv_id) -> voted
    follows: dict = field(default_factory=dict)  # (email, target) -> following
    collections: dict = field(default_factory=dict)  # id -> name, or None when deleted
    items: set = field(default_factory=set)  # (collection id, arxiv id) saved
    comments: set = field(default_factory=set)  # body
    signups: set = field(default_factory=set)  # email


async def _signed_in(base, result, email) -> Client:
    c = Client(base, result)
    await c.refresh_token()
    r = await c.request("POST", "/signin", {"email": email, "password": PASSWORD})
    assert r.status_code == 303, r.text[:300]
    await c.refresh_token()
    return c


async def _vote(c, expected, email, paper) -> None:
    r = await c.request("POST", f"/papers/{paper}/vote", json=True)
    if r.status_code == 200:
        expected.votes[(email, paper)] = r.json()["voted"]


async def _follow(c, expected, email, target, action) -> None:
    data = {"kind": "category", "target": target, "action": action}
    if (await c.request("POST", "/follows", data)).status_code == 303:
        expected.follows[(email, target)] = action == "follow"


async def _collection(c, expected, paper, i, j) -> None:
    r = await c.request("POST", "/collections", {"name": f"storm {i}-{j}"}, json=True)
    if r.status_code != 200:
        return
    cid = r.json()["id"]
    # SQLite gives a new row the id of a deleted one that had the highest id: what was
    # expected of the earlier collection with this id was deleted with it.
    expected.items = {(c, p) for c, p in expected.items if c != cid}
    expected.collections[cid] = f"storm {i}-{j}"
    if (await c.request("POST", f"/collections/{cid}/add", {"arxiv_id": paper})).status_code == 303:
        expected.items.add((cid, paper))
    if (await c.request("POST", f"/collections/{cid}/edit", {"name": f"renamed {i}-{j}"})).status_code == 303:
        expected.collections[cid] = f"renamed {i}-{j}"
    if j % 2 and (await c.request("POST", f"/collections/{cid}/delete")).status_code == 303:
        expected.collections[cid] = None


async def _member(c, result, expected, email, papers, i, rounds):
    mine = papers[(i * 3) % len(papers):(i * 3) % len(papers) + 3] or papers[:3]
    for j in range(rounds):
        paper = mine[j % len(mine)]
        await _vote(c, expected, email, paper)
        if j % 2:  # a toggle back: the last acknowledged answer is the state to find
            await _vote(c, expected, email, paper)
        target = f"cs.S{i}x{j}"
        await _follow(c, expected, email, target, "follow")
        if j % 2:
            await _follow(c, expected, email, target, "unfollow")
        await _collection(c, expected, paper, i, j)
        body = f"storm comment {i}-{j} $x^{j}$"
        if (await c.request("POST", f"/papers/{paper}/comments", {"body": body})).status_code == 303:
            expected.comments.add(body)
        await c.request("GET", f"/papers/{paper}")
    await c.close()


async def _anonymous(base, result, expected, i, rounds):
    c = Client(base, result)
    await c.refresh_token()
    for j in range(rounds):
        await c.request("POST", "/signin", {"email": f"storm{i}@example.org", "password": "wrong password!"})
        email = f"new{i}x{j}@example.org"
        r = await c.request("POST", "/signup", {"email": email, "password": PASSWORD})
        if r.status_code == 200:
            expected.signups.add(email)
        await c.request("POST", "/subscribe", {"email": f"reader{i}x{j}@example.org"})
    await c.close()


async def _reader(base, result, papers, i, rounds):
    c = Client(base, result)
    for j in range(rounds * 2):
        path = ("/", f"/papers/{papers[(i + j) % len(papers)]}", "/api/daily_papers")[j % 3]
        await c.request("GET", path)
    await c.close()


async def _storm(base, result, expected, papers, emails, clients, rounds):
    members = min(len(emails), clients * 3 // 5)
    anonymous = max(1, (clients - members) // 2)
    readers = max(1, clients - members - anonymous)
    # Members sign in first: the anonymous clients' wrong passwords soon use up the
    # sign-in budget of this one client address (127.0.0.1), as they should.
    signed_in = await asyncio.gather(*(_signed_in(base, result, emails[i]) for i in range(members)))
    tasks = [_member(signed_in[i], result, expected, emails[i], papers, i, rounds) for i in range(members)]
    tasks += [_anonymous(base, result, expected, i, rounds) for i in range(anonymous)]
    tasks += [_reader(base, result, papers, i, rounds) for i in range(readers)]
    await asyncio.gather(*tasks)


# --- verification --------------------------------------------------------------------

def verify(url: str, expected: Expected, result: StormResult) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        users = dict(conn.execute(select(User.email, User.id)).all())
        votes = set(conn.execute(select(Vote.user_id, Paper.arxiv_id).join(Paper, Paper.id == Vote.paper_id)).all())
        follows = set(conn.execute(select(Follow.user_id, Follow.target)).all())
        names = dict(conn.execute(select(Collection.id, Collection.name)).all())
        items = set(conn.execute(select(CollectionItem.collection_id, Paper.arxiv_id)
                                 .join(Paper, Paper.id == CollectionItem.paper_id)).all())
        bodies = set(conn.scalars(select(Comment.body)))
    engine.dispose()
    checks: list[tuple[bool, str]] = []
    for (email, paper), voted in expected.votes.items():
        checks.append((((users[email], paper) in votes) == voted, f"vote {email} {paper} voted={voted}"))
    for (email, target), following in expected.follows.items():
        checks.append((((users[email], target) in follows) == following, f"follow {email} {target} following={following}"))
    for cid, name in expected.collections.items():
        checks.append((names.get(cid) == name, f"collection {cid} {name!r} (stored {names.get(cid)!r})"))
    for cid, paper in expected.items:
        if expected.collections.get(cid) is not None:  # a deleted collection takes its items with it
            checks.append(((cid, paper) in items, f"collection {cid} holds {paper}"))
    for body in expected.comments:
        checks.append((body in bodies, f"comment {body!r}"))
    for email in expected.signups:
        checks.append((email in users, f"signup {email}"))
    result.acknowledged = len(checks)
    result.missing = [what for ok, what in checks if not ok]


def run_storm(url: str, data_dir: Path, *, clients: int = 50, rounds: int = 4, records: int = 6000,
              papers: int = 200, backend: str = "") -> StormResult:
    """Seed, serve, import and storm at once; the figures and what was not stored."""
    from tests.support.servers import free_port, wait_for_http

    data_dir.mkdir(parents=True, exist_ok=True)
    result = StormResult(backend or url.split(":", 1)[0])
    paper_ids, emails = seed(url, members=clients, papers=papers)
    snapshot = data_dir / "storm-snapshot.json"
    result.import_records = write_snapshot(snapshot, records)
    env = {**os.environ, **server_env(url, data_dir)}
    port = free_port()
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", "from paperboy.cli import app; app()", "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=data_dir)
    base = f"http://127.0.0.1:{port}"
    importer = None
    try:
        wait_for_http(base + "/docs", timeout=60)
        with make_engine(url).connect() as conn:
            before = conn.scalar(select(func.count()).select_from(Paper))
        started = time.monotonic()
        importer = subprocess.Popen(
            [sys.executable, "-c", "from paperboy.cli import app; app()", "ingest", "snapshot", str(snapshot),
             "--batch-size", "2000"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=data_dir)
        finished: dict = {}

        def wait_import() -> None:
            finished["out"], _ = importer.communicate(timeout=900)
            finished["at"] = time.monotonic()

        waiter = threading.Thread(target=wait_import, daemon=True)
        waiter.start()
        expected = Expected()
        # Its own thread: the caller may already run an event loop (browser tests do).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _storm(base, result, expected, paper_ids, emails, clients, rounds)).result()
        result.storm_seconds = time.monotonic() - started
        waiter.join(timeout=900)
        result.import_seconds = finished.get("at", time.monotonic()) - started
        result.import_returncode = importer.returncode
        result.import_output = finished.get("out", b"").decode(errors="replace")[-3000:]
        with make_engine(url).connect() as conn:
            result.import_stored = conn.scalar(select(func.count()).select_from(Paper)) - before
        verify(url, expected, result)
    finally:
        if importer is not None and importer.poll() is None:
            importer.kill()
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        result.server_log = (data_dir / "server.log").read_text(errors="replace")[-5000:]
    return result
