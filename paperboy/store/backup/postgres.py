"""PostgreSQL backups: `pg_dump -Fc`; a restore that turns the dump into SQL with
`pg_restore` first (a damaged dump fails before the target is touched), then runs it
with `psql` in one transaction after dropping what the schema held (docs/backup.md)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import URL

from paperboy.store.backup.files import BackupError, Progress, check_revision, publish, temp_beside


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


def _run_watching(cmd: list[str], env: dict[str, str], watch: Path | None,
                  progress: Progress) -> subprocess.CompletedProcess:
    """Run ``cmd``, reporting the size of ``watch`` as it grows."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            if watch is not None and watch.exists():
                progress(watch.stat().st_size, 0)
            time.sleep(0.2)
        if watch is not None and watch.exists():
            progress(watch.stat().st_size, 0)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, "", err.read().decode(errors="replace"))


def backup(url: URL, dest: Path, progress: Progress) -> None:
    pg_dump, pg_restore = find_pg_tool("pg_dump"), find_pg_tool("pg_restore")
    args, env = _pg_args(url)
    with temp_beside(dest) as tmp:
        done = _run_watching([pg_dump, "--format=custom", *args, "--file", str(tmp), "--dbname", url.database or ""],
                             env, tmp, progress)
        if done.returncode:
            raise BackupError(f"pg_dump failed: {_last_line(done.stderr)}")
        check = subprocess.run([pg_restore, "--list", str(tmp)], capture_output=True, text=True)
        if check.returncode:
            raise BackupError(f"the dump pg_dump wrote does not read back: {_last_line(check.stderr)}")
        publish(tmp, dest)


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
    check_revision(path, None if rev == "\\." else rev)


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


def _others_connected(url: URL) -> list[str]:
    """Who else is connected to the target database (a running serve or worker keeps
    pooled connections open). Idle ones hold no lock, so the restore's lock time-out
    alone let it replace the tables under a running service."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.scalars(text(
                "SELECT coalesce(nullif(application_name, ''), 'a client') || ' from ' "
                "|| coalesce(host(client_addr), 'this machine') FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


def restore(src: Path, url: URL, progress: Progress) -> None:
    pg_restore, psql = find_pg_tool("pg_restore"), find_pg_tool("psql")
    _check_pg_dump(pg_restore, src)
    others = _others_connected(url)
    if others:
        shown = sorted(set(others))
        raise BackupError(f"the database {url.database} is in use ({len(others)} other connection"
                          f"{'' if len(others) == 1 else 's'}: {', '.join(shown[:3])}"
                          f"{', …' if len(shown) > 3 else ''}): stop `paperboy serve` and `paperboy worker` first; "
                          "the database is unchanged")
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
