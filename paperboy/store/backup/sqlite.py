"""SQLite backups: SQLite's online backup API, from one read transaction held open for
the whole copy (see docs/backup.md for why), and a restore that swaps the file in
while holding the old one so that nothing else has it open."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from paperboy.store.backup.files import BackupError, Progress, check_revision, publish, temp_beside

# Pages per backup step: small enough for a lively progress bar, large enough that the
# per-step overhead is nothing (4 MB at 4 KiB pages).
STEP_PAGES = 1024


def _readonly(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=ro"


def backup(src_path: Path, dest: Path, progress: Progress) -> None:
    if not src_path.exists():
        raise BackupError(f"the database file {src_path} does not exist")
    with temp_beside(dest) as tmp:
        src = sqlite3.connect(_readonly(src_path), uri=True, isolation_level=None, timeout=10)
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            # The snapshot: from here on the copy sees exactly this transaction's view.
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.backup(out, pages=STEP_PAGES, sleep=0,
                       progress=lambda _status, remaining, total: progress(total - remaining, total))
            src.execute("COMMIT")
            # One self-contained file: no -wal beside it to lose in a copy.
            out.execute("PRAGMA journal_mode=DELETE").fetchone()
            problem = _integrity_problem(out)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot copy {src_path}: {exc}") from None
        finally:
            src.close()
            out.close()
        if problem:
            raise BackupError(f"the copy of {src_path} failed its integrity check: {problem}")
        publish(tmp, dest)


def _integrity_problem(conn: sqlite3.Connection) -> str | None:
    rows = [r[0] for r in conn.execute("PRAGMA integrity_check(1)").fetchall()]
    return None if rows == ["ok"] else "; ".join(rows)


def _check_sqlite_backup(path: Path) -> str:
    """The backup's Alembic revision, after checking it is whole, sound and Paperboy's."""
    size = path.stat().st_size
    with path.open("rb") as f:
        header = f.read(100)
    if len(header) < 100:
        raise BackupError(f"{path} is truncated: {size} bytes, less than a SQLite header")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size  # 1 stands for 65536
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is valid when its change counter matches (offsets 24, 92).
    if header[24:28] == header[92:96] and pages and size < pages * page_size:
        raise BackupError(f"{path} is truncated: {size} bytes where its header says {pages * page_size}")
    try:
        conn = sqlite3.connect(_readonly(path), uri=True, isolation_level=None)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} cannot be opened: {exc}") from None
    try:
        problem = _integrity_problem(conn)
        if problem:
            raise BackupError(f"{path} is damaged: integrity check says {problem}")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "alembic_version" not in tables or "papers" not in tables:
            raise BackupError(f"{path} is a SQLite database but not Paperboy's (no alembic_version or papers table)")
        rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    finally:
        conn.close()
    check_revision(path, rev[0] if rev else None)
    return rev[0]


def restore(src: Path, target: Path, progress: Progress) -> None:
    _check_sqlite_backup(src)
    # Sole access first (a running service is refused before any copying), held until
    # the new file is in place, so nothing opens the old one meanwhile.
    with _sole_access(target), temp_beside(target, ".restore") as tmp:
        # Copy through SQLite rather than byte by byte: the copy is a fresh, sound file.
        s = sqlite3.connect(_readonly(src), uri=True, isolation_level=None)
        d = sqlite3.connect(tmp, isolation_level=None)
        try:
            s.backup(d, pages=STEP_PAGES, sleep=0,
                     progress=lambda _status, remaining, total: progress(total - remaining, total))
            d.execute("PRAGMA journal_mode=DELETE").fetchone()
        finally:
            s.close()
            d.close()
        if target.exists():  # keep the owner's choice of who may read it
            tmp.chmod(target.stat().st_mode & 0o777)
        # The old file's WAL was folded in and its mode left; what remains is stale
        # and must not meet the new file.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        publish(tmp, target)


@contextmanager
def _sole_access(path: Path) -> Iterator[None]:
    """Hold the database so that no other connection has it open (a running service
    keeps its pooled connections open) after folding its WAL into the file."""
    if not path.exists():
        yield
        return
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.5)
    try:
        try:
            # In WAL mode an exclusive lock is granted only when no other connection
            # has the database open, even an idle one; in this locking mode it is kept.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            conn.execute("PRAGMA journal_mode=DELETE").fetchone()
            conn.execute("BEGIN EXCLUSIVE")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise BackupError(f"{path} is in use by another process (is `paperboy serve` or `paperboy worker` "
                                  "running?): stop it before restoring") from None
            raise BackupError(f"cannot open {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"cannot open {path}: {exc}") from None
        yield
    finally:
        conn.close()
