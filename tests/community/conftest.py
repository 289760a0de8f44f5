"""Fixtures for the community tests: an app on a fresh database, members who sign in
through the real forms, and a CSRF-aware test client."""

from __future__ import annotations

import functools
import re
import time

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from paperboy.community import accounts
from paperboy.config import Settings
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper, User
from tests.support.factories import make_paper

PASSWORD = "correct horse battery staple"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per test process, with the site's own argon2 parameters (so a
    sign-in verifies it as it would any member's): each hash costs ~0.1 s here, and the
    suite makes members by the hundred."""
    return accounts.hash_password(PASSWORD)
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def make_settings(tmp_path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="null")
    values.update(overrides)
    return Settings(**values)


class Browser(TestClient):
    """A TestClient that knows how to pick up the page's CSRF token."""

    def token(self, path: str = "/signin") -> str:
        r = self.get(path)
        m = _TOKEN.search(r.text)
        assert m, f"no csrf token on {path}"
        return m.group(1)

    def form(self, path: str, data: dict | None = None, page: str = "/signin", **kw):
        return self.post(path, data={"csrf_token": self.token(page), **(data or {})}, follow_redirects=False, **kw)

    def submit(self, path: str, data: dict | None = None, page: str = "/signin", **kw):
        """Send a form as a browser does: its answer must be a redirect (post/redirect/get),
        which is followed to the page it leads to; that page is returned."""
        r = self.form(path, data, page, **kw)
        assert r.status_code == 303, r.text[-500:]
        return self.get(r.headers["location"])

    def sign_in(self, email: str, password: str = PASSWORD):
        r = self.form("/signin", {"email": email, "password": password})
        assert r.status_code == 303, r.text[-500:]
        return r


def drain_mail(app, timeout: float = 10.0) -> None:
    """Deliver what requests queued (the app's own deliverer thread may be sending some
    of it right now: wait until no row is left pending)."""
    from paperboy.mail.models import OutgoingMail

    deadline = time.monotonic() + timeout
    while True:
        app.state.outbox.deliver_due()
        with app.state.engine.connect() as conn:
            pending = conn.scalar(select(func.count()).select_from(OutgoingMail).where(OutgoingMail.state == "pending"))
        if not pending:
            return
        assert time.monotonic() < deadline, f"{pending} mail(s) still queued"
        time.sleep(0.02)


class Site:
    def __init__(self, app, engine):
        self.app = app
        self.engine = engine

    @property
    def outbox(self):
        """The mail sent so far, once the mail outbox has nothing left to send."""
        drain_mail(self.app)
        return self.app.state.mail.outbox

    def client(self, base_url: str = "http://testserver") -> Browser:
        return Browser(self.app, base_url=base_url)

    def user(self, email: str | None = None, *, admin: bool = False, suspended: bool = False,
             name: str = "", verified: bool = True) -> User:
        with session_scope(self.engine) as db:
            n = db.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0
            user = accounts.create_user(db, email or f"member{n + 1}@example.org", None, name or f"Member {n + 1}",
                                        is_admin=admin, verified=verified, password_hash=password_hash())
            user.is_suspended = suspended
            db.flush()
            db.expunge(user)
        return user

    def member(self, **kw) -> tuple[User, Browser]:
        user = self.user(**kw)
        client = self.client()
        client.sign_in(user.email)
        return user, client

    def paper(self, **fields) -> Paper:
        with session_scope(self.engine) as db:
            p = make_paper(db, **fields)
            db.expunge(p)
        return p

    def get_paper(self, arxiv_id: str) -> Paper:
        with session_scope(self.engine) as db:
            p = db.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
            db.expunge(p)
        return p


@pytest.fixture
def site(fresh_engine, tmp_path) -> Site:
    app = create_app(make_settings(tmp_path), fresh_engine)
    return Site(app, fresh_engine)
