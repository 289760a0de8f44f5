"""`paperboy worker`: run the schedule in this process until stopped."""

from __future__ import annotations

import typer

from paperboy import clitools
from paperboy.index.jobs import start_background_indexer
from paperboy.worker.jobs import default_jobs
from paperboy.worker.loop import Worker


def register(app: typer.Typer) -> None:
    """Add the worker's command to the main app."""
    app.command("worker")(worker)


def worker(
    once: bool = typer.Option(False, "--once", help="Run the jobs that are due now, then exit."),
) -> None:
    """Run the schedule: ingest new papers, refresh the index, send due digests."""
    settings = clitools.settings()
    engine = clitools.engine()
    if settings.node_indexer and not once:
        # Each machine keeps its own index (digest alerts search it); the schedule's
        # index job refreshes only the machine of the worker that claims it.
        start_background_indexer(settings, engine, interval=settings.index_refresh_seconds)
    Worker(settings, engine, clitools.mail_sender(settings), default_jobs(settings)).run(once=once)
