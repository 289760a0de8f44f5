"""`paperboy worker`: run the schedule in this process until stopped."""

from __future__ import annotations

import typer

from paperboy import clitools
from paperboy.index.embedder import import_torch, needs_no_model
from paperboy.index.jobs import start_background_indexer
from paperboy.worker.jobs import default_jobs
from paperboy.worker.loop import Worker


def worker(
    once: bool = typer.Option(False, "--once", help="Run the jobs that are due now and the free embedding batches, then exit."),
    embed_only: bool = typer.Option(False, "--embed-only", help="Only embed papers (claim embedding batches); run no scheduled job. For extra machines, GPU ones first."),
) -> None:
    """Run the schedule (ingest new papers, refresh the index, send due digests) and
    embed papers in batches claimed through the database, as many workers as you like."""
    settings = clitools.settings()
    if embed_only and settings.embedder.strip() == "null":
        raise clitools.fail("--embed-only: PAPERBOY_EMBEDDER=null computes no vectors; nothing to do")
    if settings.embed_device == "cuda" and not needs_no_model(settings.embedder):
        if not import_torch().cuda.is_available():
            raise clitools.fail("PAPERBOY_EMBED_DEVICE=cuda, but torch sees no CUDA device (use auto or cpu)")
    engine = clitools.engine()
    if settings.node_indexer and not once and not embed_only:
        # Each machine keeps its own index (digest alerts search it); the schedule's
        # index job refreshes only the machine of the worker that claims it. It embeds
        # nothing itself: this worker claims embedding batches between its jobs.
        start_background_indexer(settings, engine, interval=settings.index_refresh_seconds, embed=False)
    jobs = [] if embed_only else default_jobs(settings)
    clitools.start_notes(settings, schedule=bool(jobs), serving=False)
    Worker(settings, engine, clitools.mail_sender(settings), jobs, embed=True).run(once=once)
