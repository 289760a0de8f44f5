"""A storm of mixed traffic against a real server while a snapshot import runs.

    .venv/bin/python bench/storm.py                          # both backends, 50 clients
    .venv/bin/python bench/storm.py --backend sqlite --clients 50 --rounds 8 --records 20000

Members vote, follow, create/rename/delete collections and comment; anonymous clients
fail sign-ins, sign up and subscribe; readers load the front page, paper pages and
/api/daily_papers. Prints, per backend: requests, 5xx, acknowledged writes found in the
database, GET p50/p99 and the import's time. PostgreSQL runs on a database of its own,
created and dropped on the server of PAPERBOY_TEST_POSTGRES_URL (default: local).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from tests.support.storm import run_storm  # noqa: E402

ADMIN = os.environ.get("PAPERBOY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _storm(url: str, work: Path, args, backend: str):
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return run_storm(url, work, clients=args.clients, rounds=args.rounds, records=args.records,
                     papers=args.papers, backend=backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=6, help="Actions per client.")
    parser.add_argument("--records", type=int, default=20_000, help="Records in the snapshot imported meanwhile.")
    parser.add_argument("--papers", type=int, default=300, help="Papers stored before the storm.")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="paperboy-storm-"))
    results = []
    try:
        if args.backend in ("sqlite", "both"):
            results.append(_storm(f"sqlite:///{work / 'sqlite' / 'paperboy.db'}", work / "sqlite", args, "SQLite"))
            print(results[-1].summary(), flush=True)
        if args.backend in ("postgres", "both"):
            name = f"pbbench_storm_{uuid.uuid4().hex[:8]}"
            admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(ADMIN).set(database=name).render_as_string(hide_password=False)
                results.append(_storm(url, work / "postgres", args, "PostgreSQL"))
                print(results[-1].summary(), flush=True)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print("| backend | requests | 5xx | writes verified | GET p50 | GET p99 | import |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        import statistics

        p50 = statistics.median(r.get_latencies) * 1000 if r.get_latencies else 0
        print(f"| {r.backend} | {r.requests} | {len(r.server_errors)} | {r.verified}/{r.acknowledged} | "
              f"{p50:.0f} ms | {r.percentile(0.99) * 1000:.0f} ms | {r.import_records} records in "
              f"{r.import_seconds:.1f} s, exit {r.import_returncode} |")
    for r in results:
        for line in r.server_errors[:5] + r.missing[:5]:
            print(f"  {r.backend}: {line}")


if __name__ == "__main__":
    main()
