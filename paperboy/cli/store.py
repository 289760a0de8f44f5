"""The operator's database commands: `paperboy db upgrade`, `backup`, `restore`, `stats`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from sqlalchemy.exc import OperationalError

from paperboy import clitools
from paperboy.index.jobs import forget_indexes
from paperboy.schema import metadata
from paperboy.store import backup as backups
from paperboy.store import bulk
from paperboy.store import copy as dbcopy
from paperboy.store.db import make_engine
from paperboy.store.migrate import current_revision, upgrade
from paperboy.store.stats import collect_stats

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)

@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""

    engine = clitools.engine(migrate=True)  # says what it upgraded, if anything
    clitools.out.print(f"database {engine.url.render_as_string()} at revision {current_revision(engine)}, this "
                       "Paperboy's own")
    # Indexes an interrupted bulk import set aside (`paperboy ingest snapshot` also does this).
    rebuilt = bulk.restore_all(engine, lambda name, i, n: clitools.out.print(f"building index {i}/{n}: {name}"))
    if rebuilt:
        clitools.out.print(f"rebuilt {rebuilt} index(es) an interrupted bulk import had set aside")


@db_app.command("copy")
def db_copy(
    source: str = typer.Argument(..., metavar="FROM", help="The database to copy from: a URL "
                                 "(sqlite:////path/paperboy.db, postgresql+psycopg://…) or a SQLite file's path."),
) -> None:
    """Copy every row of another Paperboy database into the configured one (PAPERBOY_DATABASE_URL),
    which must hold no papers or accounts yet: a laptop's SQLite instance moved to PostgreSQL. docs/deploy.md"""
    url = source if "://" in source else f"sqlite:///{Path(source).expanduser().resolve()}"
    if url.startswith("sqlite") and not backups.sqlite_file(url).is_file():
        raise clitools.fail(f"{source}: no such SQLite file (give the old instance's paperboy.db, or a database URL)")
    target = clitools.engine()
    src = make_engine(url)
    try:
        before = current_revision(src)
        if before is None:
            raise clitools.fail(f"{backups.display_url(url)} holds no Paperboy database")
        upgrade(src)  # to this code's schema, as any command run on it would
    except OperationalError as exc:
        raise clitools.fail(f"cannot reach {backups.display_url(url)}: {exc.orig}") from None
    started = time.perf_counter()
    bar = clitools.progress()
    task = None

    def report(table: str, done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task("copying", total=total, status="")
        bar.update(task, completed=done, status=table)

    try:
        copied = dbcopy.copy_database(src, target, list(metadata.sorted_tables), report)
    except dbcopy.CopyRefused as exc:
        raise clitools.fail(str(exc)) from None
    finally:
        if task is not None:
            bar.stop()
        src.dispose()
    forget_indexes(clitools.settings())
    rows = copied.rows
    clitools.out.print(f"copied {copied.total:,} rows in {time.perf_counter() - started:.1f} s: {rows.get('papers', 0):,} "
                       f"papers, {rows.get('users', 0):,} accounts, {rows.get('votes', 0):,} votes, "
                       f"{rows.get('comments', 0):,} comments, {rows.get('collections', 0):,} collections, "
                       f"{rows.get('subscriptions', 0):,} subscriptions")
    clitools.console.print("[yellow]note:[/] keep PAPERBOY_SECRET_KEY as it was on the old instance: sessions, mailed "
                           "links and private feed addresses are signed with it. The search index is built from the "
                           "copied papers as the service starts (or now: `paperboy index build`).", soft_wrap=True)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


@contextmanager
def _copy_progress(url: str, what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar of pages for SQLite; a spinner with the size written for pg_dump
    and pg_restore (neither says how far it is). It appears with the first report, so
    a refusal comes as a plain line."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    sqlite = backups.backend_of(url) == "sqlite"
    if sqlite:
        bar = clitools.progress()
    else:
        bar = Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), TextColumn("{task.fields[status]}"),
                       TimeElapsedColumn(), console=clitools.console)
    task = None

    def report(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            bar.start()
            task = bar.add_task(what, total=None, status="pages" if sqlite else "")
        if sqlite:
            bar.update(task, completed=done, total=total)
        else:
            bar.update(task, status=f"{_size(done)} written")

    try:
        yield report
    finally:
        if task is not None:
            bar.stop()


def backup(path: Path = typer.Argument(..., help="The backup file to write; replaced only once the new copy is complete.")) -> None:
    """Back up the database while the service runs (SQLite: a checked copy; PostgreSQL: pg_dump -Fc). docs/backup.md"""
    url = clitools.settings().resolved_database_url
    started = time.perf_counter()
    try:
        with clitools.handled_errors(), _copy_progress(url, "backing up") as report:
            backups.backup(url, path, report)
    except backups.BackupError as exc:
        raise clitools.fail(str(exc)) from None
    clitools.out.print(f"backed up {backups.display_url(url)} to {path} "
                       f"({_size(path.stat().st_size)} in {time.perf_counter() - started:.1f} s)")
    held = backups.contents(url)
    if held is None or held.empty:
        # A mistyped PAPERBOY_DATA_DIR or database name backs up a new, empty database
        # and exits 0: said, so that the backup is not trusted as the instance's.
        clitools.console.print(f"[yellow]note:[/] {backups.display_url(url)} holds no papers, members or "
                               "subscriptions: is it this instance's database (PAPERBOY_DATABASE_URL, "
                               "PAPERBOY_DATA_DIR)?", soft_wrap=True)


def restore(
    path: Path = typer.Argument(..., help="A file `paperboy backup` wrote."),
    force: bool = typer.Option(False, "--force", help="Replace a database that holds papers, members or subscriptions."),
) -> None:
    """Replace the configured database with a backup, then migrate it. Stop serve and worker first. docs/backup.md"""
    s = clitools.settings()
    url = s.resolved_database_url
    started = time.perf_counter()
    try:
        with clitools.handled_errors(), _copy_progress(url, "restoring") as report:
            backups.restore(url, path, force=force, progress=report)
    except backups.BackupError as exc:
        raise clitools.fail(str(exc)) from None
    clitools.out.print(f"restored {path} into {backups.display_url(url)} in {time.perf_counter() - started:.1f} s")
    db_upgrade()  # an older backup comes up to the current schema
    clitools.out.print(f"it holds {backups.contents(url)}")
    if forget_indexes(s):
        clitools.out.print("search indexes will be rebuilt from it by the next refresh (`paperboy index build`, or the service)")
    if not s.secret_key and not (s.data_dir / "secret_key").exists():
        # Restored on a new machine: the first start makes a new key, and every link the
        # old instance mailed (unsubscribe, sign-in), its sessions and private feed
        # addresses stop working (404 "This unsubscribe link is not valid").
        clitools.console.print(
            "[yellow]note:[/] this instance has no secret key yet. Unless it gets the key of the instance the backup "
            f"came from (copy that data dir's secret_key to {s.data_dir / 'secret_key'}, or set PAPERBOY_SECRET_KEY), "
            "a new one is made and the links that instance mailed (unsubscribe, sign-in), its sessions and private "
            "feed addresses stop working.", soft_wrap=True)


def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables.")) -> None:
    """Counts of papers per source, category and announce date range, and of their vectors."""

    data = collect_stats(clitools.engine())
    if as_json:
        clitools.out.print_json(json.dumps(data, default=str))
        return
    from rich.table import Table

    c = clitools.out
    c.print(f"[bold]{data['papers']}[/] papers, {data['authors']} authors")
    if data["announced"]["first"]:
        c.print(f"announced {data['announced']['first']} … {data['announced']['last']} on {data['announced']['days']} days")
    for model, n in data["vectors"].items() or [(None, 0)]:
        share = f" ({100 * n // data['papers']} %)" if data["papers"] and n < data["papers"] else ""
        c.print(f"vectors of {model}: {n} of {data['papers']} papers{share}" if model
                else "no paper embedded yet (the service or `paperboy index build` embeds them)")
    if data["indexes_set_aside"]:
        c.print(f"[yellow]{len(data['indexes_set_aside'])} index(es) set aside by a bulk import[/] "
                f"(rebuilt when it ends; if it was interrupted: paperboy db upgrade)")
    for title, key in (("source", "sources"), ("category (primary)", "primary_categories")):
        table = Table(title=f"papers per {title}")
        table.add_column(title)
        table.add_column("papers", justify="right")
        for name, n in data[key].items():
            table.add_row(name, str(n))
        c.print(table)
