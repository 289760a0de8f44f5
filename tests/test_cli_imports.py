"""`paperboy` answers --help and option errors without loading what its commands run.

Each command imports the web app, the store and the models when it runs
(``paperboy/clitools.py``): `paperboy --help` took 3.1 s with them loaded at start and
0.34 s without (bench/cli_startup.py, docs/architecture.md). A module-level import in any
package's ``cli.py`` would bring that back; this keeps it out."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["sqlalchemy", "fastapi", "starlette", "alembic", "numpy", "tantivy", "paperboy.store.db", "paperboy.site"]


def _loaded_after(code: str) -> dict[str, bool]:
    probe = (f"import sys, json\n{code}\n"
             f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_building_the_command_tree_loads_no_database_or_web_code():
    assert _loaded_after("from paperboy.cli import app; import typer.main; typer.main.get_command(app)") == dict.fromkeys(HEAVY, False)


def test_a_commands_help_loads_no_database_or_web_code():
    code = ("from paperboy.cli import app\n"
            "for argv in (['--help'], ['backup', '--help'], ['ingest', 'snapshot', '--help'], ['digest', 'run', '--help'],\n"
            "             ['index', 'build', '--help'], ['users', 'create', '--help'], ['worker', '--help'], ['serve', '--help']):\n"
            "    try:\n"
            "        app(argv, standalone_mode=False)\n"
            "    except SystemExit:\n"
            "        pass")
    assert _loaded_after(code) == dict.fromkeys(HEAVY, False)


def test_a_command_that_runs_loads_what_it_needs():
    loaded = _loaded_after("import os, tempfile\nos.environ['PAPERBOY_DATA_DIR'] = tempfile.mkdtemp()\n"
                           "from paperboy.cli import app\n"
                           "try:\n    app(['stats', '--json'], standalone_mode=False)\nexcept SystemExit:\n    pass")
    assert loaded["sqlalchemy"] and loaded["paperboy.store.db"]
