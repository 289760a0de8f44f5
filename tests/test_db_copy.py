"""`paperboy db copy FROM`: a laptop's SQLite instance moved into the configured database
(PostgreSQL on the postgresql run, another SQLite file on the sqlite one), members,
votes, comments, collections and subscriptions included, and the site goes on there."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from paperboy.community.models import Comment
from paperboy.digest import services
from paperboy.digest.models import Subscription
from paperboy.schema import metadata
from paperboy.site import create_app
from paperboy.store.db import make_engine, session_scope
from paperboy.store.migrate import upgrade
from paperboy.store.models import Collection, User, Vote
from tests.community.conftest import PASSWORD, Site, make_settings
from tests.support.cli import cli_runner

SKIPPED = {"rate_limits", "deferred_ddl"}


@pytest.fixture
def cli(fresh_url, tmp_path, monkeypatch):
    yield from cli_runner(monkeypatch, {"PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_DATA_DIR": str(tmp_path / "new"),
                                        "PAPERBOY_EMBEDDER": "null", "PAPERBOY_MAIL_BACKEND": "null",
                                        "PAPERBOY_SECRET_KEY": "kept"})


def laptop(tmp_path) -> tuple[str, Site, dict]:
    """The old instance: a SQLite file with papers, members and what they did."""
    url = f"sqlite:///{tmp_path / 'laptop' / 'paperboy.db'}"
    (tmp_path / "laptop").mkdir()
    engine = make_engine(url)
    upgrade(engine)
    site = Site(create_app(make_settings(tmp_path / "laptop", secret_key="kept"), engine), engine)
    papers = [site.paper(title=f"Paper {i} on sparse attention") for i in range(3)]
    ada, browser = site.member(email="ada@example.org", name="Ada")
    browser.form(f"/papers/{papers[0].arxiv_id}/vote", page="/")
    browser.form(f"/papers/{papers[1].arxiv_id}/comments", {"body": "What about *long* inputs?"}, page="/")
    r = browser.form("/collections", {"name": "Reading group", "arxiv_id": papers[2].arxiv_id}, page="/")
    cid = int(re.search(r"/collections/(\d+)", r.headers["location"]).group(1))
    with session_scope(engine) as db:
        services.subscribe(db, site.app.state.settings, "reader@example.org", confirmed=True)
    return url, site, {"papers": papers, "ada": ada, "collection": cid}


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.scalar(select(func.count()).select_from(t))
                for t in metadata.sorted_tables if t.name not in SKIPPED}


def test_a_laptop_instance_moves_with_its_members_and_goes_on_there(cli, fresh_url, tmp_path):
    url, old, made = laptop(tmp_path)
    r = cli("db", "copy", url.removeprefix("sqlite:///"))  # a file's path is taken as it is
    assert r.exit_code == 0, r.output
    assert "copied" in r.text and "3 papers, 1 accounts, 1 votes, 1 comments, 1 collections, 1 subscriptions" in r.text
    new_engine = make_engine(fresh_url)
    assert counts(new_engine) == counts(old.engine)  # every table, row for row

    # The member signs in there with the same password, finds their things, and acts.
    new = Site(create_app(make_settings(tmp_path / "new", secret_key="kept"), new_engine), new_engine)
    browser = new.client()
    browser.sign_in("ada@example.org", PASSWORD)
    page = browser.get(f"/collections/{made['collection']}")
    assert page.status_code == 200 and "Reading group" in page.text and made["papers"][2].title in page.text
    assert "What about <em>long</em> inputs?" in browser.get(f"/papers/{made['papers'][1].arxiv_id}").text
    assert new.get_paper(made["papers"][0].arxiv_id).upvotes == 1
    browser.form(f"/papers/{made['papers'][1].arxiv_id}/vote", page="/")  # new rows take new ids
    browser.form(f"/papers/{made['papers'][0].arxiv_id}/comments", {"body": "Copied fine."}, page="/")
    second, _ = new.member(email="bo@example.org")
    with new_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Vote)) == 2
        assert conn.scalar(select(func.count()).select_from(Comment)) == 2
        assert second.id > made["ada"].id
        assert conn.scalar(select(Subscription.email)) == "reader@example.org"

    # Again: refused, the copy there untouched.
    again = cli("db", "copy", url)
    assert again.exit_code == 2 and "already holds data (2 users, 3 papers, 1 subscriptions)" in again.text
    with new_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User)) == 2
        assert conn.scalar(select(func.count()).select_from(Collection)) == 1
    new_engine.dispose()
    old.engine.dispose()


def test_what_is_no_paperboy_database_is_named(cli, tmp_path):
    said = cli("db", "copy", str(tmp_path / "nothing.db"))
    assert said.exit_code == 2 and "no such SQLite file" in said.text
    empty = tmp_path / "empty.db"
    make_engine(f"sqlite:///{empty}").connect().close()
    said = cli("db", "copy", str(empty))
    assert said.exit_code == 2 and "holds no Paperboy database" in said.text
