"""`paperboy backup` and `paperboy restore`, run as processes against real databases.

A backup taken while members keep voting, commenting and subscribing holds every write
committed before it began, and is one moment of the database: the writes it holds are
a prefix of those committed (one writer commits them in order), and every counter
matches the rows it counts. Bad files and databases that hold data are refused, and
the refused restore changes nothing.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import event, func, insert, select, text, update

from paperboy.community import accounts
from paperboy.community.markdown import render
from paperboy.community.models import Comment
from paperboy.community.paper_views import recount_comments, toggle_vote
from paperboy.config import Settings
from paperboy.digest import services as digest
from paperboy.digest.models import Subscription
from paperboy.store import backup as backups
from paperboy.store.backup.postgres import find_pg_tool
from paperboy.store.db import make_engine, session_scope, write_tx
from paperboy.store.migrate import current_revision, head_revision, upgrade
from paperboy.store.models import Paper, User, Vote, utcnow
from tests.support.databases import unmigrated_url
from tests.support.factories import make_paper

ROOT = Path(__file__).resolve().parents[1]
PAPERBOY = str(ROOT / ".venv" / "bin" / "paperboy")


def run(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(tmp_path / "data"),
                "PAPERBOY_SECRET_KEY": "test", "PAPERBOY_EMBEDDER": "null", "COLUMNS": "1000"})
    return subprocess.run([PAPERBOY, *args], env=env, capture_output=True, text=True, timeout=300)


def seed(url: str, papers: int = 3, members: int = 1) -> tuple[list[str], list[int]]:
    eng = make_engine(url)
    with session_scope(eng) as db:
        arxiv_ids = [make_paper(db).arxiv_id for _ in range(papers)]
        uids = [accounts.create_user(db, f"m{i}-{os.urandom(3).hex()}@example.org", None).id for i in range(members)]
    eng.dispose()
    return arxiv_ids, uids


def contents(url: str) -> backups.Contents | None:
    return backups.contents(url)


# --- a backup under a storm of writes ---------------------------------------------


class Writer(threading.Thread):
    """Commits votes, comments and digest subscriptions, one transaction each, through
    the functions the routes use, and records each one once its commit returned."""

    def __init__(self, url: str, settings: Settings, arxiv_ids: list[str], uids: list[int]):
        super().__init__(daemon=True)
        self.engine = make_engine(url)
        if self.engine.dialect.name == "sqlite":
            # As during a bulk import: commits stay in the WAL for long, so a copy that
            # read the database file alone would miss them.
            event.listen(self.engine, "connect", lambda c, _r: c.execute("PRAGMA wal_autocheckpoint=100000"))
        self.settings = settings
        self.uids = uids
        self.votes = [(u, a) for u in uids for a in arxiv_ids]
        self.committed: list[tuple[str, object]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            i = 0
            while not self.stop.is_set():
                kind = ("vote", "comment", "subscription")[i % 3]
                if kind == "vote" and self.votes:
                    uid, arxiv_id = self.votes.pop()
                    with write_tx(self.engine) as conn:
                        assert toggle_vote(conn, uid, arxiv_id) is not None
                    self.committed.append(("vote", (uid, arxiv_id)))
                elif kind == "comment":
                    body = f"comment {i}"
                    with write_tx(self.engine) as conn:
                        pid = conn.scalar(select(Paper.id).order_by(Paper.id).offset(i % 5).limit(1))
                        conn.execute(update(Paper).where(Paper.id == pid).values(modified_at=utcnow()))
                        conn.execute(insert(Comment).values(paper_id=pid, user_id=self.uids[i % len(self.uids)], body=body,
                                                            body_html=render(body), hidden=False,
                                                            created_at=utcnow()))
                        recount_comments(conn, pid)
                    self.committed.append(("comment", body))
                elif kind == "subscription":
                    email = f"reader{i}@example.org"
                    with session_scope(self.engine) as db:
                        digest.subscribe(db, self.settings, email, confirmed=True)
                    self.committed.append(("subscription", email))
                i += 1
                time.sleep(0.001)  # the machine is shared; a write per millisecond is a storm enough
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.engine.dispose()


def restored_writes(url: str) -> set[tuple[str, object]]:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            votes = conn.execute(select(Vote.user_id, Paper.arxiv_id).join(Paper, Paper.id == Vote.paper_id)).all()
            comments = conn.scalars(select(Comment.body)).all()
            subs = conn.scalars(select(Subscription.email).where(Subscription.status == "active")).all()
    finally:
        eng.dispose()
    return ({("vote", (u, a)) for u, a in votes} | {("comment", b) for b in comments}
            | {("subscription", e) for e in subs})


def assert_counters_match(url: str) -> None:
    eng = make_engine(url)
    try:
        with eng.connect() as conn:
            wrong = conn.execute(text(
                "SELECT p.arxiv_id, p.upvotes, p.num_comments,"
                " (SELECT count(*) FROM votes v WHERE v.paper_id = p.id),"
                " (SELECT count(*) FROM comments c WHERE c.paper_id = p.id AND NOT c.hidden AND c.deleted_at IS NULL)"
                " FROM papers p")).all()
    finally:
        eng.dispose()
    assert [r for r in wrong if (r[1], r[2]) != (r[3], r[4])] == []


def test_a_backup_taken_during_writes_holds_every_earlier_write_and_one_moment(fresh_url, databases, tmp_path):
    arxiv_ids, uids = seed(fresh_url, papers=30, members=40)
    writer = Writer(fresh_url, Settings(data_dir=tmp_path, secret_key="test"), arxiv_ids, uids)
    writer.start()
    while len(writer.committed) < 60 and writer.is_alive():
        time.sleep(0.01)
    before = list(writer.committed)  # all committed before the backup process starts
    backup_file = tmp_path / "site.backup"
    done = run(fresh_url, tmp_path, "backup", str(backup_file))
    during = len(writer.committed) - len(before)
    writer.stop.set()
    writer.join()
    assert writer.error is None, writer.error
    assert done.returncode == 0, done.stderr
    assert during > 0, "the writer should have kept committing while the backup ran"
    committed = list(writer.committed)

    target = databases.new_url()  # a fresh, migrated, empty database: no --force needed
    back = run(target, tmp_path, "restore", str(backup_file))
    assert back.returncode == 0, back.stderr

    restored = restored_writes(target)
    assert set(before) <= restored
    # One moment: the writes it holds are exactly the first k committed.
    k = len(restored)
    assert set(committed[:k]) == restored
    assert_counters_match(target)


# --- restores that are refused ----------------------------------------------------


def backup_of(url: str, tmp_path: Path, name: str = "b.backup") -> Path:
    path = tmp_path / name
    done = run(url, tmp_path, "backup", str(path))
    assert done.returncode == 0, done.stderr
    return path


def one_line_error(done: subprocess.CompletedProcess, *words: str, after_progress: bool = False) -> None:
    """A refusal is one line; a failure once the work began follows its progress bar."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    if after_progress:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_a_database_with_data_is_replaced_only_with_force(fresh_url, databases, tmp_path):
    seed(fresh_url, papers=2, members=1)
    source = backup_of(fresh_url, tmp_path)
    target = databases.new_url()
    seed(target, papers=3, members=2)

    refused = run(target, tmp_path, "restore", str(source))
    one_line_error(refused, "3 papers", "2 members", "--force")
    assert (contents(target).papers, contents(target).members) == (3, 2)

    index = tmp_path / "data" / "index"  # this node's search indexes describe the old database
    index.mkdir(parents=True)
    (index / "keyword-state.json").write_text('{"schema": 1, "watermark": "2030-01-01T00:00:00+00:00"}')
    forced = run(target, tmp_path, "restore", "--force", str(source))
    assert forced.returncode == 0, forced.stderr
    assert (contents(target).papers, contents(target).members) == (2, 1)
    assert not (index / "keyword-state.json").exists() and "rebuilt" in forced.stdout


def test_files_that_are_no_backup_are_refused_and_change_nothing(fresh_url, backend, databases, tmp_path):
    seed(fresh_url, papers=2, members=1)
    good = backup_of(fresh_url, tmp_path)
    target = databases.new_url()
    seed(target, papers=1, members=1)

    random_file = tmp_path / "random.bin"
    random_file.write_bytes(os.urandom(5000))
    one_line_error(run(target, tmp_path, "restore", "--force", str(random_file)), "not a Paperboy backup")

    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    one_line_error(run(target, tmp_path, "restore", "--force", str(empty)), "empty")
    one_line_error(run(target, tmp_path, "restore", "--force", str(tmp_path / "missing")), "no such file")

    truncated = tmp_path / "truncated"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    one_line_error(run(target, tmp_path, "restore", "--force", str(truncated)), str(truncated))

    other = tmp_path / "other"
    if backend == "sqlite":
        other.write_bytes(b"PGDMP" + os.urandom(2000))
        one_line_error(run(target, tmp_path, "restore", "--force", str(other)),
                       "PostgreSQL dump", "the configured database is SQLite")
    else:
        sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
        one_line_error(run(target, tmp_path, "restore", "--force", str(other)),
                       "SQLite database", "the configured database is PostgreSQL")

    # A SQLite file or a pg dump that is someone else's.
    foreign = tmp_path / "foreign"
    if backend == "sqlite":
        sqlite3.connect(foreign).execute("CREATE TABLE papers (x)").connection.close()
    else:
        admin = make_engine(fresh_url)
        with write_tx(admin) as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        admin.dispose()
        foreign = backup_of(fresh_url, tmp_path, "foreign")
    one_line_error(run(target, tmp_path, "restore", "--force", str(foreign)), "not Paperboy's")

    assert (contents(target).papers, contents(target).members) == (1, 1)


def test_an_older_backup_is_migrated_after_restore(fresh_url, backend, databases, tmp_path):
    old = unmigrated_url(databases, tmp_path)
    eng = make_engine(old)
    upgrade(eng, "0008")
    eng.dispose()
    older = backup_of(old, tmp_path)

    target = databases.new_url()
    done = run(target, tmp_path, "restore", str(older))
    assert done.returncode == 0, done.stderr
    eng = make_engine(target)
    assert current_revision(eng) == head_revision()
    eng.dispose()


def test_a_backup_from_a_newer_paperboy_is_refused(fresh_url, databases, tmp_path):
    eng = make_engine(fresh_url)
    with write_tx(eng) as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dcafe'"))
    eng.dispose()
    newer = backup_of(fresh_url, tmp_path)
    target = databases.new_url()
    one_line_error(run(target, tmp_path, "restore", str(newer)), "f00dcafe", "does not know")
    eng = make_engine(target)
    assert current_revision(eng) == head_revision()
    eng.dispose()


def test_sqlite_restore_is_refused_while_the_database_is_open(tmp_path, databases, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL: see test_postgresql_restore_waits_for_no_one_and_changes_nothing")
    source = databases.new_url()
    good = backup_of(source, tmp_path)
    target = databases.new_url()
    seed(target, papers=1, members=1)
    eng = make_engine(target)
    with eng.connect() as conn:  # as a running service's pool holds one
        conn.execute(select(func.count()).select_from(User)).scalar()
        done = run(target, tmp_path, "restore", "--force", str(good))
    eng.dispose()
    one_line_error(done, "in use", "stop it")
    assert contents(target).papers == 1


def test_postgresql_restore_waits_for_no_one_and_changes_nothing(tmp_path, databases, backend):
    if backend != "postgresql":
        pytest.skip("SQLite: see test_sqlite_restore_is_refused_while_the_database_is_open")
    source = databases.new_url()
    good = backup_of(source, tmp_path)
    target = databases.new_url()
    seed(target, papers=1, members=1)
    eng = make_engine(target)
    with eng.connect() as conn:  # a reader in the middle of a transaction holds its table
        conn.execute(select(func.count()).select_from(Paper)).scalar()
        done = run(target, tmp_path, "restore", "--force", str(good))
        conn.rollback()
        # An idle pooled connection (a running serve between requests) holds no lock, and
        # the restore went through under it: refused as well.
        idle = run(target, tmp_path, "restore", "--force", str(good))
    eng.dispose()
    for refused in (done, idle):
        one_line_error(refused, "is in use (1 other connection", "stop `paperboy serve`", "the database is unchanged",
                       after_progress=True)
    assert (contents(target).papers, contents(target).members) == (1, 1)
    assert run(target, tmp_path, "restore", "--force", str(good)).returncode == 0  # alone, it goes


def test_backup_refusals(fresh_url, tmp_path):
    one_line_error(run(fresh_url, tmp_path, "backup", str(tmp_path)), "is a folder")
    # A backup of an empty database (a mistyped data dir makes one) is said to be one.
    empty = run(fresh_url, tmp_path, "backup", str(tmp_path / "empty.backup"))
    assert empty.returncode == 0 and "holds no papers, members or subscriptions" in " ".join(empty.stderr.split())
    seed(fresh_url, papers=1, members=0)
    full = run(fresh_url, tmp_path, "backup", str(tmp_path / "full.backup"))
    assert full.returncode == 0 and "holds no papers" not in full.stderr
    with pytest.raises(backups.BackupError, match="pg_no_such_tool not found.*postgresql-client"):
        find_pg_tool("pg_no_such_tool")


def test_a_restore_on_a_machine_without_the_old_key_says_what_stops_working(fresh_url, databases, tmp_path):
    """A restore on a new machine: the old instance's mailed unsubscribe links answered
    "not valid" once the new one made its own key, and nothing had said so."""
    seed(fresh_url, papers=1, members=1)
    source = backup_of(fresh_url, tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATABASE_URL": databases.new_url(), "PAPERBOY_DATA_DIR": str(tmp_path / "new-machine"),
                "PAPERBOY_EMBEDDER": "null", "COLUMNS": "1000"})
    done = subprocess.run([PAPERBOY, "restore", str(source)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    assert "this instance has no secret key yet" in said and "unsubscribe" in said
    assert str(tmp_path / "new-machine" / "secret_key") in said
    kept = run(databases.new_url(), tmp_path, "restore", str(source))  # PAPERBOY_SECRET_KEY given: nothing to say
    assert kept.returncode == 0 and "no secret key" not in kept.stderr
