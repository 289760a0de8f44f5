"""Members' writes under concurrency, against a real server on loopback.

An acknowledged write (a 303 or 200) is in the database when the answer arrives; bursts
of ordinary member actions never answer 5xx; a request never needs two pooled
connections, so a burst cannot exhaust the pool.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from paperboy.papers.taxonomy import CATEGORIES
from paperboy.site import create_app
from paperboy.store.db import make_engine
from paperboy.store.models import Collection, Follow, RateLimit, User
from tests.community.conftest import PASSWORD, Site, make_settings
from tests.support.servers import serve_app_in_thread

_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class Member:
    """A signed-in member talking HTTP to the live server."""

    def __init__(self, base: str, email: str, password: str = PASSWORD):
        self.http = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.token = self.fresh_token()
        r = self.post("/signin", {"email": email, "password": password})
        assert r.status_code == 303, r.text[-300:]
        self.token = self.fresh_token()  # sign-in rotates the CSRF cookie

    def fresh_token(self) -> str:
        return _TOKEN.search(self.http.get("/signin").text).group(1)

    def post(self, path: str, data: dict | None = None) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.token, **(data or {})})


def _anonymous(base: str) -> Member:
    m = Member.__new__(Member)
    m.http = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    m.token = m.fresh_token()
    return m


@pytest.fixture
def live(site):
    with serve_app_in_thread(site.app) as base:
        yield base


def _run(n: int, fn) -> list:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


def _collection(site: Site, member: Member, name: str) -> int:
    r = member.post("/collections", {"name": name})
    assert r.status_code == 303
    with site.engine.connect() as conn:
        return conn.scalar(select(Collection.id).where(Collection.name == name))


def test_concurrent_collection_edits_are_all_stored_when_answered(site, live):
    user = site.user()
    member = Member(live, user.email)
    ids = [_collection(site, member, f"list {i}") for i in range(20)]

    answers = _run(20, lambda i: member.post(f"/collections/{ids[i]}/edit", {"name": f"renamed {i}"}).status_code)

    assert answers == [303] * 20
    with site.engine.connect() as conn:
        names = dict(conn.execute(select(Collection.id, Collection.name)).all())
    assert [names[i] for i in ids] == [f"renamed {i}" for i in range(20)]


def test_a_page_read_after_the_redirect_shows_the_write(site, live):
    user = site.user()
    member = Member(live, user.email)
    for i in range(30):
        assert member.post("/account", {"display_name": f"Name {i}"}).status_code == 303
        assert f'value="Name {i}"' in member.http.get("/account").text


def test_concurrent_deletes_of_one_collection_never_fail(site, live):
    user = site.user()
    member = Member(live, user.email)
    cid = _collection(site, member, "doomed")

    answers = _run(20, lambda i: member.post(f"/collections/{cid}/delete").status_code)

    assert set(answers) <= {303, 404} and 303 in answers
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Collection)) == 0


# Only real categories can be followed: each worker follows its own distinct ones.
REAL_CATEGORIES = sorted(CATEGORIES)


def test_follows_and_collections_during_a_vote_storm(site, live):
    papers = [site.paper() for _ in range(5)]
    users = [site.user() for _ in range(6)]
    members = [Member(live, u.email) for u in users]

    def act(i: int) -> list[int]:
        m = members[i % len(members)]
        codes = []
        for j in range(6):
            codes.append(m.post(f"/papers/{papers[j % 5].arxiv_id}/vote").status_code)
            codes.append(m.post("/follows", {"kind": "category", "target": REAL_CATEGORIES[i * 6 + j]}).status_code)
            codes.append(m.post("/collections", {"name": f"c{i}-{j}"}).status_code)
        return codes

    codes = [c for batch in _run(12, act) for c in batch]

    assert not [c for c in codes if c >= 500]
    assert set(codes) <= {303}
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Follow)) == 12 * 6
        assert conn.scalar(select(func.count()).select_from(Collection)) == 12 * 6


def test_concurrent_wrong_sign_ins_are_counted_before_they_are_checked(site, live):
    """The limit is 5 failures per address: 12 parallel guesses get at most 5 checks."""
    user = site.user()
    for name in ("signin_fail_email", "signin_fail_ip"):  # one window: the test never crosses its end
        site.app.state.rate_limits[name] = (site.app.state.rate_limits[name][0], 10**9)
    guests = [_anonymous(live) for _ in range(12)]

    codes = _run(12, lambda i: guests[i].post("/signin", {"email": user.email, "password": f"guess {i}"}).status_code)

    assert sorted(set(codes)) == [400, 429]
    assert codes.count(400) <= 5


@pytest.fixture
def small_pool_site(fresh_url, tmp_path):
    """The app on an engine with ONE pooled connection: a request that needed a second
    one while holding the first would wait for itself and time out."""
    kw = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 3}
    engine = make_engine(fresh_url, **kw)
    app = create_app(make_settings(tmp_path), engine)
    yield Site(app, engine)
    engine.dispose()


def test_a_request_never_needs_two_pooled_connections(small_pool_site):
    site = small_pool_site
    paper = site.paper()
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        member = Member(base, user.email)
        cid = _collection(site, member, "reading")
        steps = [
            member.post(f"/papers/{paper.arxiv_id}/vote"),
            member.post(f"/papers/{paper.arxiv_id}/comments", {"body": "Nice $x^2$"}),
            member.post(f"/collections/{cid}/add", {"arxiv_id": paper.arxiv_id}),
            member.post("/follows", {"kind": "author", "target": "Ada Lovelace"}),
            member.post("/account", {"display_name": "Ada"}),
            member.http.get("/"),
            member.http.get(f"/papers/{paper.arxiv_id}"),
            member.http.get(f"/collections/{cid}"),
            member.http.get("/following"),
            member.http.get("/account"),
            _anonymous(base).post("/signin", {"email": user.email, "password": "wrong password"}),
            _anonymous(base).post("/reset", {"email": user.email}),
        ]
    assert [r.status_code for r in steps] == [303, 303, 303, 303, 303, 200, 200, 200, 200, 200, 400, 200]


def test_a_burst_of_wrong_sign_ins_leaves_the_site_answering(small_pool_site):
    site = small_pool_site
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        guests = [_anonymous(base) for _ in range(30)]
        api = httpx.Client(base_url=base, timeout=60)
        with ThreadPoolExecutor(31) as pool:
            tries = [pool.submit(g.post, "/signin", {"email": user.email, "password": "nope nope nope"})
                     for g in guests]
            unrelated = pool.submit(api.get, "/api/daily_papers")
            codes = [t.result().status_code for t in tries]
        assert unrelated.result().status_code == 200
    assert not [c for c in codes if c >= 500]
    with site.engine.connect() as conn:
        counted = conn.scalar(select(func.sum(RateLimit.count)).where(RateLimit.key.like("signin_fail_email:%")))
        assert conn.scalar(select(User.email).where(User.id == user.id)) == user.email
    assert counted == 30


def test_a_write_that_finds_the_database_busy_is_retried_then_answered_503(tmp_path):
    """SQLite: while another process holds the write lock past every retry, a member's
    write answers 503 with Retry-After (never a 500, never an acknowledged loss); once
    the lock is let go within the retries, the same write is stored."""
    import sqlite3
    import threading
    import time

    from paperboy.store.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'busy.db'}"
    engine = make_engine(url, sqlite_busy_ms=100)
    upgrade(engine)
    site = Site(create_app(make_settings(tmp_path), engine), engine)
    user = site.user()
    client = site.client()
    client.sign_in(user.email)

    def hold_lock(seconds: float, held: threading.Event) -> None:
        other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()

    for seconds, expected, category in ((5.0, 503, "cs.LG"), (0.3, 303, "cs.CL")):
        held = threading.Event()
        holder = threading.Thread(target=hold_lock, args=(seconds, held))
        holder.start()
        held.wait()
        r = client.form("/follows", {"kind": "category", "target": category}, page="/")
        holder.join()
        assert r.status_code == expected, r.text[-300:]
        if expected == 503:
            assert r.headers["retry-after"] == "1" and "busy" in r.text
    with engine.connect() as conn:
        assert set(conn.scalars(select(Follow.target))) == {"cs.CL"}
    engine.dispose()
