"""What backups of either backend share: errors, progress, the file's format, a
temporary file beside the final path and the atomic rename onto it, the schema check."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from paperboy.store.migrate import is_known_revision

# (done, total) as the copy goes: pages for SQLite, bytes written (total 0) for PostgreSQL.
Progress = Callable[[int, int], None]

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore refused or failed; the message is one line for the user."""


def noop(done: int, total: int) -> None:
    pass


def file_format(path: Path) -> str:
    """'sqlite' or 'pg_dump', judged by the file's first bytes."""
    if not path.exists():
        raise BackupError(f"{path}: no such file")
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    what = "empty" if not head else "neither a SQLite database nor a pg_dump -Fc archive"
    raise BackupError(f"{path} is not a Paperboy backup: the file is {what}")


@contextmanager
def temp_beside(path: Path, suffix: str = ".part") -> Iterator[Path]:
    """A fresh temporary path in ``path``'s folder (so the final rename is atomic),
    removed unless the caller renamed it away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        for p in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            p.unlink(missing_ok=True)


def publish(tmp: Path, path: Path) -> None:
    """Make ``tmp`` durable, then rename it onto ``path`` (atomic within one folder)."""
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def check_revision(path: Path, rev: str | None) -> None:
    """Refuse a backup with no schema revision or one this Paperboy does not know."""
    if rev is None:
        raise BackupError(f"{path} has no schema revision in alembic_version")
    if not is_known_revision(rev):
        raise BackupError(f"{path} is at schema revision {rev}, which this Paperboy does not know "
                          "(a backup from a newer version?)")
