"""First-run data: the recorded sample listings when present, else last week of arXiv."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from paperboy.clitools import console, progress
from paperboy.config import Settings
from paperboy.ingest.arxiv_api import ingest_recent
from paperboy.ingest.listing import SOURCE, listing_files, read_listing
from paperboy.ingest.pipeline import UpsertCounts, run_source
from paperboy.store.models import Paper

PROJECT = Path(__file__).resolve().parents[2]


class NoSample(ValueError):
    """PAPERBOY_SAMPLE_DATA_DIR names no folder: said, not silently replaced by another."""


def sample_dir(settings: Settings) -> Path | None:
    if settings.sample_data_dir:
        named = Path(settings.sample_data_dir)
        if not named.is_dir():
            raise NoSample(f"PAPERBOY_SAMPLE_DATA_DIR={settings.sample_data_dir}: no such folder (it should hold "
                           "arXiv daily listings, *.jsonl, as ../shared/data/arxiv/daily does)")
        return named
    default = PROJECT.parent / "shared" / "data" / "arxiv" / "daily"
    return default if default.is_dir() else None


def import_sample(settings: Settings, engine: Engine) -> UpsertCounts:
    folder = sample_dir(settings)
    total = UpsertCounts()
    if folder is None:

        console.print("no sample data found: fetching the last 7 days of arXiv (cs.*) instead")
        return ingest_recent(settings, engine, since=dt.date.today() - dt.timedelta(days=7))
    files = listing_files([folder])
    with progress() as bar:
        task = bar.add_task("sample papers", total=len(files), status="")
        for path in files:
            total.add(run_source(engine, f"{SOURCE}:{path.resolve()}", read_listing(path)))
            bar.update(task, advance=1, status=path.name)
    with engine.connect() as conn:
        n = conn.scalar(select(func.count()).select_from(Paper))
    console.print(f"sample imported from {folder}: {total.inserted} new, {n} papers stored")
    return total
