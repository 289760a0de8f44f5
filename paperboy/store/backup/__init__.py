"""Backups of the database, and restores from them: `paperboy backup` and `paperboy restore`.

`files.py` holds what both backends share, `sqlite.py` and `postgres.py` the rest.

SQLite: the online backup API copies the database page by page from one read
transaction, held open for the whole copy. Under WAL a reader never blocks writers, so
the service keeps committing; the copy is the database as of the moment that
transaction began. Without the held transaction, SQLite restarts a stepped backup each
time another connection commits (a busy service would keep it from ever finishing);
with it, the copy can go in steps that report progress and never restarts.

PostgreSQL: `pg_dump -Fc`, which reads from one repeatable-read snapshot and takes only
ACCESS SHARE locks (writers go on; DDL waits). A restore turns the dump into SQL with
`pg_restore` first (so a damaged or truncated dump fails before the target is touched),
then runs it with `psql` in one transaction that first drops every table in the schema:
a failed restore changes nothing, and tables the backup does not have (a newer schema)
do not survive it.

A backup is written to a temporary file beside its path and renamed only when it is
complete and checked. Every refusal is a `BackupError` whose message is one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from paperboy.store.backup import postgres, sqlite
from paperboy.store.backup.files import BackupError, Progress, file_format, noop

__all__ = ["BackupError", "Contents", "backend_of", "backup", "check_restorable", "contents", "display_url",
           "restore"]


@dataclass
class Contents:
    papers: int
    members: int
    subscriptions: int

    @property
    def empty(self) -> bool:
        return not (self.papers or self.members or self.subscriptions)

    def __str__(self) -> str:
        return f"{self.papers} papers, {self.members} members and {self.subscriptions} digest subscriptions"


def backend_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"backups support SQLite and PostgreSQL, not {name}")
    return name


def sqlite_file(url: str) -> Path:
    path = make_url(url).database or ""
    if not path or path == ":memory:":
        raise BackupError(f"{url} is not a database file")
    return Path(path).expanduser()


def contents(url: str) -> Contents | None:
    """What the database at ``url`` holds, or None when it has no Paperboy tables (or,
    for SQLite, no file)."""
    if backend_of(url) == "sqlite" and not sqlite_file(url).exists():
        return None
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            if "papers" not in tables:
                return None

            def count(table: str) -> int:
                return conn.scalar(text(f"SELECT count(*) FROM {table}")) if table in tables else 0  # noqa: S608

            return Contents(count("papers"), count("users"), count("subscriptions"))
    finally:
        eng.dispose()


def backup(url: str, dest: Path, progress: Progress = noop) -> None:
    """Write a consistent copy of the database at ``url`` to ``dest`` (replaced only
    once the copy is complete and checked)."""
    dest = Path(dest)
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: give the backup file's path")
    if backend_of(url) == "sqlite":
        src = sqlite_file(url)
        if dest.resolve() == src.resolve():
            raise BackupError(f"{dest} is the database itself")
        sqlite.backup(src, dest, progress)
    else:
        postgres.backup(make_url(url), dest, progress)


def check_restorable(url: str, src: Path, force: bool) -> str:
    """The backup's format, after checking it suits the database at ``url`` and that
    the database may be overwritten."""
    fmt = file_format(Path(src))
    backend = backend_of(url)
    wanted = "sqlite" if backend == "sqlite" else "pg_dump"
    if fmt != wanted:
        kinds = {"sqlite": "a SQLite database", "pg_dump": "a PostgreSQL dump (pg_dump -Fc)"}
        raise BackupError(f"{src} is {kinds[fmt]}, but the configured database is "
                          f"{'SQLite' if backend == 'sqlite' else 'PostgreSQL'} (PAPERBOY_DATABASE_URL)")
    if not force:
        held = contents(url)
        if held is not None and not held.empty:
            raise BackupError(f"the database holds {held}: pass --force to replace them with the backup")
    return fmt


def restore(url: str, src: Path, *, force: bool = False, progress: Progress = noop) -> None:
    """Replace the database at ``url`` with the backup ``src``; all or nothing. The
    caller brings the schema up to date afterwards (an older backup)."""
    src = Path(src)
    check_restorable(url, src, force)
    if backend_of(url) == "sqlite":
        target = sqlite_file(url)
        if target.exists() and src.resolve() == target.resolve():
            raise BackupError(f"{src} is the database itself")
        sqlite.restore(src, target, progress)
    else:
        postgres.restore(src, make_url(url), progress)


def display_url(url: str) -> str:
    """The URL as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)
