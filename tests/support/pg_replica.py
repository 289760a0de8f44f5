"""A real PostgreSQL primary and a streaming hot standby, started for the tests.

``initdb`` makes a primary in a temporary folder (owned by the ``postgres`` user, the
server refuses to run as root), ``pg_basebackup -R`` copies it into a second folder set
up as its standby, and both listen on free loopback ports. ``stop`` always stops both
(``pg_ctl stop -m fast``) and removes the folders.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.servers import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def missing() -> str | None:
    """Why a pair cannot be started here, or None."""
    for name in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        if not (PG_BIN / name).exists():
            return f"the PostgreSQL 15 server binaries are not installed ({PG_BIN / name} is missing)"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    return None


class StreamingPair:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="paperboy-replica-"))
        self.primary_dir, self.standby_dir = self.root / "primary", self.root / "standby"
        self.primary_port, self.standby_port = free_port(), free_port()
        self.running: set[Path] = set()

    # --- URLs
    def url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary_port)

    @property
    def standby_url(self) -> str:
        return self.url(self.standby_port)

    # --- lifecycle
    def _run(self, *args: str) -> None:
        cmd = ["runuser", "-u", "postgres", "--", *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def _pg_ctl_start(self, folder: Path, port: int) -> None:
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(folder), "-o", options, "-l", str(folder / "server.log"),
                  "-w", "-t", "60", "start")
        self.running.add(folder)

    def start(self) -> StreamingPair:
        os.chmod(self.root, 0o700)
        shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.primary_dir), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        with open(self.primary_dir / "postgresql.conf", "a") as conf:
            conf.write("wal_level = replica\nmax_wal_senders = 5\nfsync = off\nhot_standby = on\n"
                       "hot_standby_feedback = on\nwal_receiver_status_interval = 1s\n")
        with open(self.primary_dir / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n")
        self._pg_ctl_start(self.primary_dir, self.primary_port)
        self._run(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
                  "-D", str(self.standby_dir), "-R", "-X", "stream", "--no-sync")
        self.start_standby()
        return self

    def start_standby(self) -> None:
        self._pg_ctl_start(self.standby_dir, self.standby_port)
        self.wait_streaming()

    def stop_standby(self, mode: str = "immediate") -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.standby_dir), "-m", mode, "-w", "stop")
        self.running.discard(self.standby_dir)

    def stop(self) -> None:
        """Stop both servers (whatever state they are in) and remove their folders."""
        for folder in (self.standby_dir, self.primary_dir):
            if folder in self.running:
                try:
                    self._run(str(PG_BIN / "pg_ctl"), "-D", str(folder), "-m", "fast", "-w", "stop")
                except RuntimeError:
                    pass
                self.running.discard(folder)
        shutil.rmtree(self.root, ignore_errors=True)

    # --- replication control (on the standby)
    def standby_sql(self, sql: str):
        eng = create_engine(self.standby_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        try:
            with eng.connect() as conn:
                return conn.execute(text(sql)).fetchall()
        finally:
            eng.dispose()

    def wait_streaming(self, timeout: float = 60.0) -> None:
        """Until the standby answers queries and its WAL receiver streams."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.standby_sql("SELECT status FROM pg_stat_wal_receiver") == [("streaming",)]:
                    return
            except Exception:  # noqa: BLE001 - still starting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the standby did not start streaming")
            time.sleep(0.1)

    def wait_replayed(self, database: str, timeout: float = 60.0) -> None:
        """Until the standby has replayed everything the primary has written so far."""
        eng = create_engine(self.url(self.primary_port, database), poolclass=NullPool)
        try:
            with eng.connect() as conn:
                target = conn.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
        finally:
            eng.dispose()
        deadline = time.monotonic() + timeout
        while not self.standby_sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0][0]:
            if time.monotonic() > deadline:
                raise RuntimeError("the standby did not catch up")
            time.sleep(0.05)

