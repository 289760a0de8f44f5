"""How long `paperboy backup` and `paperboy restore` take, and what a backup costs writers.

    .venv/bin/python bench/backup.py                      # both backends
    .venv/bin/python bench/backup.py --backend sqlite --copies 5

Per backend, on a fresh database holding the 10k-paper sample (../shared/data/arxiv/daily)
and 50 members: the `paperboy backup` command's wall time (a process, start-up
included) and the size written; the same backup while a thread keeps voting (one
transaction a vote, as the site does): votes committed per second and the slowest vote
during the backups against the seconds before them; then `paperboy restore` into
another fresh database (migrations and all). PostgreSQL runs on databases of its own,
created and dropped on the server of PAPERBOY_TEST_POSTGRES_URL (default: local).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from paperboy.community.accounts import create_user  # noqa: E402
from paperboy.community.paper_views import toggle_vote  # noqa: E402
from paperboy.config import Settings  # noqa: E402
from paperboy.ingest.demo import import_sample  # noqa: E402
from paperboy.store.db import make_engine, session_scope, write_tx  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from paperboy.store.models import Paper  # noqa: E402

ADMIN = os.environ.get("PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PAPERBOY = str(ROOT / ".venv" / "bin" / "paperboy")


def cli(url: str, work: Path, *args: str) -> tuple[float, float]:
    """The command's wall time (start-up included) and the copy's, as it reports it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update(PAPERBOY_DATABASE_URL=url, PAPERBOY_DATA_DIR=str(work), PAPERBOY_SECRET_KEY="bench",
               PAPERBOY_EMBEDDER="null", PYTHONPATH=str(ROOT))
    started = time.perf_counter()
    done = subprocess.run([PAPERBOY, *args], env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"paperboy {' '.join(args)} failed: {done.stderr.strip()}")
    copy = re.search(r" in ([0-9.]+) s", done.stdout)
    return time.perf_counter() - started, float(copy.group(1)) if copy else float("nan")


def span(runs: list[tuple[float, float]]) -> str:
    walls, copies = [w for w, _ in runs], [c for _, c in runs]
    return f"{min(walls):.2f}-{max(walls):.2f} s (the copy itself {min(copies):.1f}-{max(copies):.1f} s)"


class Voter(threading.Thread):
    def __init__(self, url: str, users: list[int], papers: list[str]):
        super().__init__(daemon=True)
        self.engine, self.users, self.papers = make_engine(url), users, papers
        self.log: list[tuple[float, float]] = []  # (committed at, seconds it took)
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            with write_tx(self.engine) as conn:
                toggle_vote(conn, self.users[i % len(self.users)], self.papers[(i * 7919) % len(self.papers)])
            self.log.append((time.perf_counter(), time.perf_counter() - started))
            i += 1
        self.engine.dispose()

    def between(self, a: float, b: float) -> str:
        took = [t for at, t in self.log if a <= at <= b]
        if not took:
            return "no votes"
        return (f"{len(took) / (b - a):.0f} votes/s, p50 {statistics.median(took) * 1000:.1f} ms, "
                f"slowest {max(took) * 1000:.0f} ms")


def bench(backend: str, url: str, new_url, work: Path, copies: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    import_sample(Settings(data_dir=work, secret_key="bench", embedder="null"), engine)
    with session_scope(engine) as db:
        users = [create_user(db, f"bench{i}@example.org", None).id for i in range(50)]
    with engine.connect() as conn:
        papers = conn.scalars(select(Paper.arxiv_id)).all()
    engine.dispose()
    out = work / f"backup.{'db' if backend == 'sqlite' else 'dump'}"
    quiet = [cli(url, work, "backup", str(out)) for _ in range(copies)]
    print(f"{backend}: {len(papers)} papers; `paperboy backup` {span(quiet)} "
          f"over {copies} runs, {out.stat().st_size / 2**20:.1f} MiB written")

    voter = Voter(url, users, papers)
    voter.start()
    time.sleep(3)
    started = time.perf_counter()
    busy = [cli(url, work, "backup", str(out)) for _ in range(copies)]
    ended = time.perf_counter()
    time.sleep(1)
    voter.stop.set()
    voter.join()
    print(f"  while voting: backup {span(busy)}; votes before: "
          f"{voter.between(started - 3, started)}; during the backups: {voter.between(started, ended)}")

    target = new_url()
    print(f"  `paperboy restore` into a fresh database: {span([cli(target, work, 'restore', str(out))])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--copies", type=int, default=3, help="Backups timed per case.")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="paperboy-bench-backup-") as tmp:
            work = Path(tmp)
            n = iter(range(100))
            bench("sqlite", f"sqlite:///{work / 'site.db'}", lambda: f"sqlite:///{work / f'restored{next(n)}.db'}",
                  work, args.copies)
    if args.backend in ("postgres", "both"):
        admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
        made: list[str] = []

        def new_url() -> str:
            name = f"pbbench_backup_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            made.append(name)
            return make_url(ADMIN).set(database=name).render_as_string(hide_password=False)

        try:
            with tempfile.TemporaryDirectory(prefix="paperboy-bench-backup-") as tmp:
                bench("postgresql", new_url(), new_url, Path(tmp), args.copies)
        finally:
            with admin.connect() as conn:
                for name in made:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
