"""How long a `paperboy` command takes to start, against the interpreter's own start.

    .venv/bin/python bench/cli_startup.py [--runs 7] [--against DIR]

Each command runs ``--runs`` times as a fresh process (as a shell or a systemd timer runs
it); the median wall time is printed beside that of ``python -c pass`` and of importing
the libraries every database command needs (typer, SQLAlchemy, pydantic-settings),
measured in the same run. Commands that only answer ``--help`` touch no database.
``--against DIR``: also run each command from another checkout of Paperboy (e.g. an
earlier commit, ``git worktree add /tmp/old HEAD~1``) in the same interleaved rounds.
Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The command as its entry point runs it, from the checkout on PYTHONPATH.
PAPERBOY = [sys.executable, "-c", "from paperboy.cli import app; app()"]

BASELINES: list[tuple[str, list[str]]] = [
    ("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
    ("import typer, sqlalchemy, pydantic_settings (floor)",
     [sys.executable, "-c", "import typer, sqlalchemy, pydantic_settings"]),
]
COMMANDS: list[tuple[str, list[str]]] = [
    ("paperboy --help", ["--help"]),
    ("paperboy backup --help", ["backup", "--help"]),
    ("paperboy ingest snapshot --help", ["ingest", "snapshot", "--help"]),
    ("paperboy digest --help", ["digest", "--help"]),
    ("paperboy stats (SQLite, empty)", ["stats"]),
]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    # Run from the data folder: `python -c` puts the working directory first on sys.path,
    # which would pick this checkout's package whatever PYTHONPATH says.
    subprocess.run(cmd, env=env, cwd=env["PAPERBOY_DATA_DIR"], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--against", type=Path, help="Another checkout to time beside this one.")
    args = ap.parse_args()
    trees = [("this checkout", ROOT)] + ([(f"{args.against}", args.against.resolve())] if args.against else [])
    with tempfile.TemporaryDirectory() as data:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
        env.update(PAPERBOY_DATA_DIR=data, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
        subprocess.run([*PAPERBOY, "db", "upgrade"], env=env, cwd=data, stdout=subprocess.DEVNULL, check=True)
        runs: list[tuple[str, list[str], dict[str, str]]] = [(name, cmd, env) for name, cmd in BASELINES]
        for label, tree in trees:
            tree_env = {**env, "PYTHONPATH": str(tree)}
            runs += [(f"{name} [{label}]", [*PAPERBOY, *argv], tree_env) for name, argv in COMMANDS]
        # Interleaved rounds: a busy spell on this shared machine hits every command alike.
        times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for _ in range(args.runs):
            for name, cmd, run_env in runs:
                times[name].append(timed(cmd, run_env))
    base = statistics.median(times[BASELINES[0][0]])
    print(f"{'command':<60} {'median s':>9} {'min s':>7} {'minus python':>13}")
    for name, _, _ in runs:
        med = statistics.median(times[name])
        print(f"{name:<60} {med:9.3f} {min(times[name]):7.3f} {med - base:13.3f}")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
