"""The `paperboy` command. Each package brings its own sub-commands.

The commands are listed here by name, with where each lives and its line of help, and a
command's module is imported only when that command runs. Importing them all (the web
app, SQLAlchemy, alembic, scikit-learn...) took 2.4 s before anything happened, for
`paperboy --help` and for every press of Tab in a shell with completion installed; the
list alone takes a tenth of that. A test holds each line of help equal to the command's own.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click
import typer
from typer.core import TyperGroup

# name: (module:attribute, the first paragraph of its help), in the order `--help` lists
# them. The attribute is a Typer app (a group of commands) or a command's function.
COMMANDS: dict[str, tuple[str, str]] = {
    "backup": ("paperboy.cli.store:backup", "Back up the database while the service runs "
               "(SQLite: a checked copy; PostgreSQL: pg_dump -Fc). docs/backup.md"),
    "restore": ("paperboy.cli.store:restore", "Replace the configured database with a backup, then migrate it. "
                "Stop serve and worker first. docs/backup.md"),
    "stats": ("paperboy.cli.store:stats", "Counts of papers per source, category and announce date range, "
              "and of their vectors."),
    "serve": ("paperboy.cli.serve:serve", "Serve the web pages, feeds and JSON API."),
    "demo": ("paperboy.cli.serve:demo", "Import the sample papers (../shared/data, else the last week of arXiv) "
             "and serve them."),
    "search": ("paperboy.index.cli:search_cmd", "Search the papers (keyword + semantic)."),
    "similar": ("paperboy.index.cli:similar_cmd", "Papers most similar to one paper."),
    "worker": ("paperboy.worker.cli:worker", "Run the schedule (ingest new papers, refresh the index, send due "
               "digests) and embed papers in batches claimed through the database, as many workers as you like."),
    "db": ("paperboy.cli.store:db_app", "Database schema."),
    "ingest": ("paperboy.ingest.cli:app", "Bring papers in from arXiv listings, snapshots, the API and OAI-PMH."),
    "index": ("paperboy.index.cli:index_app", "Search indexes (keyword, embeddings, vectors)."),
    "eval": ("paperboy.index.cli:eval_app", "Measure search quality."),
    "users": ("paperboy.community.cli:users_app", "Member accounts."),
    "comments": ("paperboy.community.cli:comments_app", "Comments."),
    "digest": ("paperboy.digest.cli:digest_app", "Compose and send email digests."),
    "subscribers": ("paperboy.digest.cli:subscribers_app", "Manage digest subscribers."),
}


def load(name: str) -> click.Command:
    """The command ``name`` as Click runs it, its module imported."""
    module, attribute = COMMANDS[name][0].split(":")
    target = getattr(importlib.import_module(module), attribute)
    # Held by a Typer of its own, as `add_typer` or `command` on the main app held it
    # (the same help and options; completion is the main app's alone).
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
        command = typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
    else:
        holder.command(name)(target)
        command = typer.main.get_command(holder)  # a Typer of one command is that command
    command.name = name
    return command


class _Deferred(click.Command):
    """A command known by its name and help until it runs (or its own help is asked for):
    then the real one is loaded and parses the arguments."""

    def __init__(self, name: str, help: str) -> None:  # noqa: A002 (Click's own name)
        super().__init__(name, help=help)
        self._loaded: click.Command | None = None

    def loaded(self) -> click.Command:
        if self._loaded is None:
            self._loaded = load(self.name or "")
        return self._loaded

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        return self.loaded().make_context(info_name, args, parent=parent, **extra)


class _Commands(TyperGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (_where, help_line) in COMMANDS.items():
            self.add_command(_Deferred(name, help_line))

    def invoke(self, ctx: click.Context) -> Any:
        """The commands' own errors are theirs; these are an operator's mistakes that any
        command can meet first (a data dir it cannot write, a malformed database address,
        a database a newer Paperboy made): one line saying what to fix, exit code 2, not
        a traceback."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            message = operator_mistake(exc)
            if message is None:
                raise
            from paperboy import clitools

            raise clitools.fail(message) from None


def operator_mistake(exc: Exception) -> str | None:
    """What to tell the operator about ``exc``, if it is a mistake of the setup rather
    than a fault of Paperboy (None: let it show as one)."""
    import errno

    full = ("the disk is full: nothing stored was lost (the write that did not fit was rolled back). Free "
            "some space where PAPERBOY_DATA_DIR (or the database) lives, then run the command again.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"cannot write {exc.filename or 'a file'}: {full}"
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return (f"cannot write {exc.filename or 'a file'}: the file system is read-only. PAPERBOY_DATA_DIR and "
                "PAPERBOY_INDEX_DIR must be on a writable one.")
    if isinstance(exc, (PermissionError, NotADirectoryError, FileExistsError, IsADirectoryError)) or (
            isinstance(exc, FileNotFoundError) and _under_settings_dirs(exc.filename)):
        where = f" {exc.filename}" if exc.filename else ""
        return (f"cannot use{where}: {exc.strerror or exc}. Check PAPERBOY_DATA_DIR and PAPERBOY_INDEX_DIR "
                "(each must be a folder this user can write, or a path where one can be made).")
    from sqlalchemy.exc import ArgumentError, OperationalError

    if isinstance(exc, OperationalError) and any(
            words in str(exc.orig).lower() for words in ("disk is full", "no space left on device")):
        return f"the database could not write: {full}"

    if isinstance(exc, ArgumentError):
        return f"PAPERBOY_DATABASE_URL: {exc} (e.g. sqlite:////var/lib/paperboy/paperboy.db)"
    from alembic.util import CommandError

    if isinstance(exc, CommandError) and "Can't locate revision" in str(exc):
        return (f"the database's schema is newer than this Paperboy knows ({exc}): a newer version upgraded "
                "it. Run that version, or restore a backup taken before (docs/backup.md).")
    if isinstance(exc, RuntimeError) and str(exc).startswith("embedder "):
        return f"PAPERBOY_EMBEDDER: {exc}"
    return None


def _under_settings_dirs(filename) -> bool:
    """Whether a missing ``filename`` lies in the data or index folder (a folder that cannot
    be made there), not a file the operator named on the command line."""
    if not filename:
        return False
    from paperboy.config import get_settings  # here: `paperboy --help` imports no part of paperboy

    try:
        s = get_settings()
    except Exception:  # noqa: BLE001 - the settings' own error is said elsewhere
        return False
    path = Path(str(filename))
    return any(path == d or d in path.parents or path in d.parents for d in (Path(s.data_dir), Path(s.resolved_index_dir)))


app = typer.Typer(cls=_Commands, help="Paperboy: self-hosted research-paper discovery.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"paperboy {version('paperboy')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            typer.echo("paperboy (not installed: version unknown)")
        raise typer.Exit()


@app.callback()
def _root(_version_flag: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                             help="Print the version and exit.")) -> None:
    # Typer makes a group only of an app with a command or a callback; the commands are
    # _Commands' own, so this callback is what makes `app` the group holding them.
    pass


def main() -> None:  # pragma: no cover
    app()
