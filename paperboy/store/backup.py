"""Backups of the database, and restores from them: `paperboy backup` and `paperboy restore`.

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

import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from paperboy.store.migrate import is_known_revision

# (done, total) as the copy goes: pages for SQLite, bytes written (total 0) for pg_dump.
Progress = Callable[[int, int], None]

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# Pages per backup step: small enough for a lively progress bar, large enough that the
# per-step overhead is nothing (4 MB at 4 KiB pages).
SQLITE_STEP_PAGES = 1024


class BackupError(Exception):
    """A backup or restore refused or failed; the message is one line for the user."""


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


def _noop(done: int, total: int) -> None:
    pass


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


# --- temporary files --------------------------------------------------------------


@contextmanager
def _temp_beside(path: Path, suffix: str = ".part") -> Iterator[Path]:
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


def _publish(tmp: Path, path: Path) -> None:
    """Make ``tmp`` durable, then rename it onto ``path`` (atomic within one folder)."""
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --- SQLite -----------------------------------------------------------------------


def _sqlite_backup(src_path: Path, dest: Path, progress: Progress) -> None:
    if not src_path.exists():
        raise BackupError(f"the database file {src_path} does not exist")
    with _temp_beside(dest) as tmp:
        src = sqlite3.connect(f"file:{src_path}?mode=ro", uri=True, isolation_level=None, timeout=10)
        out = sqlite3.connect(tmp, isolation_level=None)
        try:
            # The snapshot: from here on the copy sees exactly this transaction's view.
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.backup(out, pages=SQLITE_STEP_PAGES, sleep=0,
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
        _publish(tmp, dest)


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
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
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
    _check_revision(path, rev[0] if rev else None)
    return rev[0]


def _check_revision(path: Path, rev: str | None) -> None:
    if rev is None:
        raise BackupError(f"{path} has no schema revision in alembic_version")
    if not is_known_revision(rev):
        raise BackupError(f"{path} is at schema revision {rev}, which this Paperboy does not know "
                          "(a backup from a newer version?)")


def _sqlite_restore(src: Path, target: Path, progress: Progress) -> None:
    _check_sqlite_backup(src)
    # Sole access first (a running service is refused before any copying), held until
    # the new file is in place, so nothing opens the old one meanwhile.
    with _sole_access(target), _temp_beside(target, ".restore") as tmp:
        # Copy through SQLite rather than byte by byte: the copy is a fresh, sound file.
        s = sqlite3.connect(f"file:{src}?mode=ro", uri=True, isolation_level=None)
        d = sqlite3.connect(tmp, isolation_level=None)
        try:
            s.backup(d, pages=SQLITE_STEP_PAGES, sleep=0,
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
        _publish(tmp, target)


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


# --- PostgreSQL -------------------------------------------------------------------


def find_pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else in `pg_config --bindir`,
    else the newest /usr/lib/postgresql/*/bin (Debian)."""
    found = shutil.which(name)
    if found:
        return found
    tried = ["PATH"]
    pg_config = shutil.which("pg_config")
    if pg_config:
        tried.append("pg_config --bindir")
        try:
            bindir = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            bindir = ""
        if bindir and (Path(bindir) / name).is_file():
            return str(Path(bindir) / name)
    tried.append("/usr/lib/postgresql/*/bin")
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if candidates:
        return str(candidates[-1])
    raise BackupError(f"{name} not found (looked on {', '.join(tried)}): install the PostgreSQL client "
                      "programs (Debian: apt-get install postgresql-client)")


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq options for ``url``: the password goes in the environment, never in argv."""
    args = ["--no-password"]
    host = url.host or url.query.get("host")
    if host:
        args += ["--host", str(host)]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    if url.query.get("sslmode"):
        env["PGSSLMODE"] = str(url.query["sslmode"])
    return args, env


def _last_line(stderr: str) -> str:
    """The first error a PostgreSQL program printed, as one line."""
    lines = [" ".join(ln.split()) for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    line = (errors or lines or ["(no message)"])[0]
    return re.sub(r"^psql:[^:]*:\d+: ", "", line)  # psql's script name and line number


def _run_watching(cmd: list[str], env: dict[str, str], watch: Path | None, progress: Progress,
                  stdin=None) -> subprocess.CompletedProcess:
    """Run ``cmd``, reporting the size of ``watch`` as it grows."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if watch is not None and watch.exists():
                progress(watch.stat().st_size, 0)
            time.sleep(0.2)
        if watch is not None and watch.exists():
            progress(watch.stat().st_size, 0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, "", err.read().decode(errors="replace"))


def _pg_backup(url: URL, dest: Path, progress: Progress) -> None:
    pg_dump, pg_restore = find_pg_tool("pg_dump"), find_pg_tool("pg_restore")
    args, env = _pg_args(url)
    with _temp_beside(dest) as tmp:
        done = _run_watching([pg_dump, "--format=custom", *args, "--file", str(tmp), "--dbname", url.database or ""],
                             env, tmp, progress)
        if done.returncode:
            raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
        check = subprocess.run([pg_restore, "--list", str(tmp)], capture_output=True, text=True)
        if check.returncode:
            raise BackupError(f"the dump pg_dump wrote does not read back: {_last_line(check.stderr)}")
        _publish(tmp, dest)


def _check_pg_dump(pg_restore: str, path: Path) -> None:
    listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True)
    if listing.returncode:
        raise BackupError(f"{path} is damaged: {_last_line(listing.stderr)}")
    tables = {ln.split()[-2] for ln in listing.stdout.splitlines() if " TABLE " in ln and not ln.startswith(";")}
    if "alembic_version" not in tables or "papers" not in tables:
        raise BackupError(f"{path} is a PostgreSQL dump but not Paperboy's (no alembic_version or papers table)")
    # The revision is the one row of alembic_version's COPY data.
    data = subprocess.run([pg_restore, "--data-only", "--table=alembic_version", "--file=-", str(path)],
                          capture_output=True, text=True)
    if data.returncode:
        raise BackupError(f"{path} is damaged: {_last_line(data.stderr)}")
    lines = data.stdout.splitlines()
    copy = next((i for i, ln in enumerate(lines) if ln.startswith("COPY ") and "alembic_version" in ln), None)
    rev = lines[copy + 1].strip() if copy is not None and copy + 1 < len(lines) else "\\."
    _check_revision(path, None if rev == "\\." else rev)


# Runs first in the restore's transaction: every table, view and sequence of the
# schema goes, so the result is the backup's schema, and only it.
_CLEAR_SCHEMA = """
SET lock_timeout = '10s';
DO $paperboy$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm', 'r', 'p', 'S')
           ORDER BY position(c.relkind IN 'vmrpS') LOOP
    EXECUTE format('DROP %s IF EXISTS %I CASCADE',
                   CASE r.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                  WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, r.relname);
  END LOOP;
END $paperboy$;
SET lock_timeout = 0;
"""


def _pg_restore(src: Path, url: URL, progress: Progress) -> None:
    pg_restore, psql = find_pg_tool("pg_restore"), find_pg_tool("psql")
    _check_pg_dump(pg_restore, src)
    args, env = _pg_args(url)
    with tempfile.TemporaryDirectory(prefix="paperboy-restore-") as work:
        sql = Path(work) / "restore.sql"
        # The whole dump becomes SQL before the target is touched: a truncated or
        # damaged archive fails here.
        done = _run_watching([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges",
                              "--file", str(sql), str(src)], env, sql, progress)
        if done.returncode:
            raise BackupError(f"{src} is damaged: {_last_line(done.stderr)}")
        script = Path(work) / "all.sql"
        with script.open("w") as f:
            f.write(_CLEAR_SCHEMA)
        with script.open("ab") as f, sql.open("rb") as body:
            shutil.copyfileobj(body, f)
        sql.unlink()
        done = _run_watching([psql, *args, "--quiet", "--no-psqlrc", "--single-transaction",
                              "--set", "ON_ERROR_STOP=1", "--file", str(script), "--dbname", url.database or ""],
                             env, None, progress)
        if done.returncode:
            message = _last_line(done.stderr)
            if "lock timeout" in message:
                message += " (the database is in use: stop `paperboy serve` and `paperboy worker` first)"
            raise BackupError(f"restore failed, the database is unchanged: {message}")


# --- the two commands -------------------------------------------------------------


def backup(url: str, dest: Path, progress: Progress = _noop) -> None:
    """Write a consistent copy of the database at ``url`` to ``dest`` (replaced only
    once the copy is complete and checked)."""
    dest = Path(dest)
    if dest.is_dir():
        raise BackupError(f"{dest} is a folder: give the backup file's path")
    if backend_of(url) == "sqlite":
        src = sqlite_file(url)
        if dest.resolve() == src.resolve():
            raise BackupError(f"{dest} is the database itself")
        _sqlite_backup(src, dest, progress)
    else:
        _pg_backup(make_url(url), dest, progress)


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


def restore(url: str, src: Path, *, force: bool = False, progress: Progress = _noop) -> None:
    """Replace the database at ``url`` with the backup ``src``; all or nothing. The
    caller brings the schema up to date afterwards (an older backup)."""
    src = Path(src)
    check_restorable(url, src, force)
    if backend_of(url) == "sqlite":
        target = sqlite_file(url)
        if target.exists() and src.resolve() == target.resolve():
            raise BackupError(f"{src} is the database itself")
        _sqlite_restore(src, target, progress)
    else:
        _pg_restore(src, make_url(url), progress)


def display_url(url: str) -> str:
    """The URL as it may be shown: the password hidden."""
    return make_url(url).render_as_string(hide_password=True)
