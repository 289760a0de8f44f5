"""The `paperboy` command lists its commands without importing them."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from paperboy.cli import COMMANDS, app, load


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_line_of_help_is_the_commands_own(name: str) -> None:
    command = load(name)
    first_paragraph = inspect.cleandoc(command.help or "").split("\n\n")[0].replace("\n", " ")
    assert COMMANDS[name][1] == first_paragraph
    assert command.name == name


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    script = (
        "import sys\n"
        "from paperboy.cli import app\n"
        "try:\n"
        "    app(['--help'], prog_name='paperboy')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('\\n' + __import__('json').dumps(sorted(sys.modules)))\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    help_text, modules = r.stdout.rsplit("\n", 2)[0], json.loads(r.stdout.rsplit("\n", 2)[1])
    for name in COMMANDS:
        assert f" {name} " in help_text
    ours = [m for m in modules if m.startswith("paperboy")]
    assert ours == ["paperboy", "paperboy.cli"]
    assert "sqlalchemy" not in modules and "fastapi" not in modules


def test_a_listed_command_runs_with_its_own_options_and_errors() -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["stats", "--no-such-option"])
    assert r.exit_code == 2
    assert "No such option" in r.output
    r = runner.invoke(app, ["serv"])
    assert r.exit_code == 2
    assert "Did you mean 'serve'" in r.output
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("paperboy ")
    r = runner.invoke(app, ["ingest", "--help"])
    assert r.exit_code == 0
    assert "snapshot" in r.output and "--install-completion" not in r.output
