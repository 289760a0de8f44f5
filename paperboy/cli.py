"""The `paperboy` command. Each package brings its own sub-commands."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import typer

from paperboy import clitools
from paperboy.community import cli as community_cli
from paperboy.digest import cli as digest_cli
from paperboy.index import cli as index_cli
from paperboy.index.jobs import forget_indexes, start_background_indexer, stop_background
from paperboy.ingest.cli import app as ingest_app
from paperboy.ingest.demo import import_sample
from paperboy.mail.senders import get_mail_sender
from paperboy.site import create_app
from paperboy.store import backup as backups
from paperboy.store import bulk
from paperboy.store.migrate import current_revision
from paperboy.store.stats import collect_stats
from paperboy.worker import cli as worker_cli
from paperboy.worker.jobs import start_in_process

SHUTDOWN_WAIT = 20.0  # seconds `paperboy serve` waits for its background work as it stops

app = typer.Typer(help="Paperboy: self-hosted research-paper discovery.", no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")


def _register_stages() -> None:

    for package in (index_cli, community_cli, digest_cli, worker_cli):
        package.register(app)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""

    engine = clitools.engine(migrate=True)
    clitools.out.print(f"database {engine.url.render_as_string()} at revision {current_revision(engine)}")
    # Indexes an interrupted bulk import set aside (`paperboy ingest snapshot` also does this).
    rebuilt = bulk.restore_all(engine, lambda name, i, n: clitools.out.print(f"building index {i}/{n}: {name}"))
    if rebuilt:
        clitools.out.print(f"rebuilt {rebuilt} index(es) an interrupted bulk import had set aside")


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


@app.command()
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


@app.command()
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


@app.command()
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


@app.command()
def serve(
    host: str = typer.Option(None, help="Address to listen on (default: PAPERBOY_HOST)."),
    port: int = typer.Option(None, help="Port to listen on (default: PAPERBOY_PORT)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    get: str = typer.Option(None, "--get", metavar="PATH",
                            help="Answer one GET request for PATH in-process, print the response, exit 1 unless it is 2xx."),
) -> None:
    """Serve the web pages, feeds and JSON API."""
    s = clitools.settings()
    engine = clitools.engine()  # migrate before the first request
    if isinstance(get, str):  # demo() calls serve() directly, leaving the option object
        from starlette.testclient import TestClient

        with TestClient(create_app(s, engine)) as client:
            r = client.get(get, follow_redirects=False)
        typer.echo(r.text)
        raise typer.Exit(0 if 200 <= r.status_code < 300 else 1)
    import uvicorn

    # Made (or read) here, before uvicorn starts its processes, so every one of them
    # signs sessions and links with the same key.
    s.resolved_secret_key()
    stop_work = None
    if s.serve_worker:
        # In this process only: with --workers N uvicorn's supervisor is this process and
        # the N web processes are spawned fresh, so the schedule and the indexer run once.
        stop_work = start_in_process(s, engine, get_mail_sender(s))
        clitools.console.print("worker schedule and indexer running in this process "
                               "(PAPERBOY_SERVE_WORKER=false when `paperboy worker` runs instead)")
    elif s.node_indexer:
        # A web node of a cluster: the schedule runs on worker nodes, but this machine's
        # index files are its own and only a refresher here brings them up to date. It
        # runs no model: the workers embed (paper_embeddings), this node adds their vectors.
        indexer = start_background_indexer(s, engine, interval=s.index_refresh_seconds, embed=False)
        stop_work = partial(stop_background, [indexer], [indexer.stop])
        clitools.console.print("indexer running in this process (PAPERBOY_NODE_INDEXER=false to leave it out)")
    clitools.console.print(f"serving on http://{host or s.host}:{port or s.port}")
    uvicorn.run("paperboy.asgi:app", host=host or s.host, port=port or s.port, workers=workers,
                log_level="warning", access_log=False, timeout_worker_healthcheck=s.serve_healthcheck_seconds,
                **proxy_options(s))
    if stop_work is not None:
        # Ctrl-C or SIGTERM: the web stopped; the background work finishes what it is
        # doing (an embedding batch: seconds), inside systemd's TimeoutStopSec (deploy/).
        clitools.console.print(f"stopping: the background work finishes what it is doing (at most {SHUTDOWN_WAIT:.0f} s)")
        stop_work(SHUTDOWN_WAIT)


def proxy_options(s) -> dict:
    """uvicorn's proxy settings: X-Forwarded-* is believed only from the proxies named in
    PAPERBOY_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1, so anything on the
    host could pick the client address that per-client rate limits count)."""
    proxies = ",".join(p.strip() for p in s.trusted_proxies.replace(" ", ",").split(",") if p.strip())
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": proxies or ""}


@app.command()
def demo(
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="Start the web service afterwards."),
) -> None:
    """Import the sample papers (../shared/data, else the last week of arXiv) and serve them."""

    import_sample(clitools.settings(), clitools.engine())
    if serve_after:
        serve(host=None, port=None, workers=1)


_register_stages()


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # `python -m paperboy.cli`, where no console script is installed
    main()
