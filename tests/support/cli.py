"""The `paperboy` command run in-process, as a test's fixture: settings from the given
environment (the cached settings forgotten before and after), output with its wrapping
undone (rich wraps long lines at the console's width)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from typer.testing import CliRunner, Result

from paperboy.cli import app
from paperboy.config import get_settings


def cli_runner(monkeypatch, env: dict[str, str], unset: tuple[str, ...] = ()) -> Iterator[Callable[..., Result]]:
    """For a fixture to ``yield from``: ``run(*args, stdin=None)`` gives the result with
    ``.text``, its output on one line."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in unset:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> Result:
        result = runner.invoke(app, list(args), input=stdin)
        result.text = " ".join(result.output.split())
        return result

    try:
        yield run
    finally:
        get_settings.cache_clear()
