"""A small site for the web tests: papers on three days, votes, a hidden paper, a
submission, hostile titles and math; served in-process (TestClient) or over TCP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from paperboy.config import Settings
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper, Vote
from tests.support.factories import make_paper, make_user

MON, TUE, WED = dt.date(2025, 1, 13), dt.date(2025, 1, 14), dt.date(2025, 1, 15)
XSS_TITLE = "Attack <script>window.__pwned = 1</script> and <img src=x onerror=\"window.__pwned = 2\"> titles"
MATH_TITLE = r"Bounds for $O(n^2)$ sorting with \(\alpha\)-approximations"
MANY_AUTHORS = [f"Collaborator {i}" for i in range(40)]


@dataclass
class Site:
    engine: Engine
    settings: Settings
    app: object
    ids: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url="http://testserver")


def settings_for(tmp_path, **overrides) -> Settings:
    values = dict(data_dir=tmp_path, secret_key="web-tests", mail_backend="null", embedder="null",
                  base_url="http://paperboy.test")
    values.update(overrides)
    return Settings(**values)


def seed(engine: Engine) -> dict[str, str]:
    """Papers on Mon/Tue/Wed of 2025-W03; returns names → arXiv ids."""
    ids: dict[str, str] = {}
    now = dt.datetime.now(dt.UTC)
    with session_scope(engine) as db:
        member = make_user(db, display_name="Grace Hopper")
        voters = [make_user(db) for _ in range(3)]

        def paper(name, votes=0, **fields):
            p = make_paper(db, **fields)
            if votes:
                db.execute(update(Paper).where(Paper.id == p.id).values(upvotes=votes, modified_at=now))
                for voter in voters[:votes]:
                    db.add(Vote(user_id=voter.id, paper_id=p.id, created_at=dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC)))
            ids[name] = p.arxiv_id
            return p

        paper("mon_a", title="Monday paper on graph diffusion", announced_on=MON)
        paper("mon_b", title="Another Monday paper", announced_on=MON, votes=1)
        paper("tue", title="Tuesday transformers for proteins", announced_on=TUE, categories=["q-bio.BM", "cs.LG"])
        paper("wed_top", votes=3, title="Diffusion guidance without classifier gradients", announced_on=WED,
              abstract="We study classifier-free guidance for diffusion models. " * 12 + "Code: https://github.com/acme/guidance",
              categories=["cs.CV", "cs.LG"])
        paper("wed_mid", votes=2, title=MATH_TITLE, announced_on=WED,
              abstract=r"We prove that $\sum_{i=1}^n i = \frac{n(n+1)}{2}$ holds; a broken formula $\frac{1}{$ stays text.")
        paper("wed_xss", title=XSS_TITLE, announced_on=WED, authors=["Mallory <b>Evil</b>"],
              abstract="<img src=x onerror=\"window.__pwned = 3\"> abstract")
        paper("wed_many", title="A large collaboration measures diffusion", announced_on=WED, authors=MANY_AUTHORS)
        paper("wed_old", arxiv_id="hep-th/9901001", title="An old-style identifier paper on diffusion", announced_on=WED,
              categories=["hep-th"])
        hidden = paper("hidden", title="Hidden spam paper about diffusion", announced_on=WED, votes=3)
        db.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True, modified_at=now))
        sub = paper("submitted", title="A community submission on diffusion", announced_on=dt.date(2024, 12, 2))
        db.execute(update(Paper).where(Paper.id == sub.id).values(
            submitted_by_id=member.id, featured_on=TUE, modified_at=now))
    return ids


def seeded_site(databases, tmp_path, seed_with: Callable[[Engine], dict] = seed) -> Site:
    """A new database of the run's backend, seeded by ``seed_with``, and the app on it."""
    engine = databases.new_engine(keep=True)
    ids = seed_with(engine)
    settings = settings_for(tmp_path)
    return Site(engine, settings, create_app(settings, engine), ids)


def browser_site(databases, tmp_path, seed_with: Callable[[Engine], dict] = seed) -> Site:
    """``seeded_site`` for a module of browser tests, which serves it over TCP
    (``tests.support.servers.serve_app_in_thread``): on SQLite only, skipped on PostgreSQL."""
    if databases.backend != "sqlite":
        pytest.skip("the browser tests run once, on SQLite (the pages are backend-independent)")
    return seeded_site(databases, tmp_path, seed_with)


@pytest.fixture(scope="module")
def site(databases, tmp_path_factory) -> Site:
    return seeded_site(databases, tmp_path_factory.mktemp("web"))


@pytest.fixture
def client(site) -> TestClient:
    site.app.state.page_cache.clear()
    return site.client()
