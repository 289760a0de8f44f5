"""`paperboy ingest ...`: one command per source."""

from __future__ import annotations

from pathlib import Path

import typer

from paperboy import clitools
from paperboy.ingest.arxiv_api import category_query, fetch_ids, search
from paperboy.ingest.http import SourceError
from paperboy.ingest.listing import SOURCE as LISTING
from paperboy.ingest.listing import announced_date, listing_files, read_listing
from paperboy.ingest.normalise import BadRecord
from paperboy.ingest.oai import PREFIXES, harvest
from paperboy.ingest.pipeline import UpsertCounts, read_cursor, run_source
from paperboy.ingest.snapshot import SOURCE as SNAPSHOT
from paperboy.ingest.snapshot import estimated_records, read_snapshot_prepared
from paperboy.store import bulk
from paperboy.store.models import Paper

app = typer.Typer(help="Bring papers in from arXiv listings, snapshots, the API and OAI-PMH.", no_args_is_help=True)


def report(label: str, counts: UpsertCounts) -> None:
    c = clitools.out
    c.print(
        f"[bold]{label}[/]: {counts.inserted} new, {counts.updated} updated, "
        f"{counts.unchanged} unchanged, {counts.failed} failed"
    )
    for err in counts.errors:
        clitools.console.print(f"  [yellow]skipped[/] {err}")
    if counts.failed > len(counts.errors):
        clitools.console.print(f"  ... and {counts.failed - len(counts.errors)} more")


class _ByteProgress:
    """Advances a bar by the bytes a cursor moved since the last batch."""

    def __init__(self, bar, task, label: str, start: int) -> None:
        self.bar, self.task, self.label, self.last = bar, task, label, start

    def __call__(self, pos: dict, counts: UpsertCounts) -> None:
        self.bar.advance(self.task, pos["offset"] - self.last)
        self.last = pos["offset"]
        self.bar.update(self.task, status=f"{self.label} {counts.seen} papers")


@app.command("listing")
def ingest_listing(
    paths: list[Path] = typer.Argument(..., help="Daily listing files (YYYY-MM-DD.jsonl) or folders of them."),
    batch_size: int = typer.Option(2000, min=1, help="Records written per transaction."),
) -> None:
    """Import JSON-lines daily listings; the file's date is the announce date."""

    with clitools.handled_errors():
        files = listing_files(paths)
        # Every file's name is checked before any is read: one stray file in a folder
        # would otherwise stop the run part-way, after some days were imported.
        unnamed = []
        for f in files:
            try:
                announced_date(f)
            except BadRecord as exc:
                unnamed.append(str(exc))
        if unnamed:
            raise clitools.fail(f"nothing imported: {'; '.join(unnamed[:5])}"
                                + (f" (and {len(unnamed) - 5} more)" if len(unnamed) > 5 else "")
                                + ". Rename them YYYY-MM-DD.jsonl or leave them out.")
        if not files:
            raise clitools.fail(f"no listing (*.jsonl) in {', '.join(str(p) for p in paths)}")
        engine = clitools.engine()
    total = UpsertCounts()
    with clitools.progress() as bar:
        total_bytes = sum(f.stat().st_size for f in files)
        task = bar.add_task("listings", total=total_bytes, status="")
        for path in files:
            key = f"{LISTING}:{path.resolve()}"
            with engine.connect() as conn:
                cursor = read_cursor(conn, key)
            size = path.stat().st_size
            if cursor.get("size") != size:
                cursor = {}  # the file changed (or is new): read it whole; upserts are idempotent
            if cursor.get("offset", 0) >= size:
                bar.advance(task, size)
                continue
            bar.advance(task, cursor.get("offset", 0))
            step = _ByteProgress(bar, task, path.name, cursor.get("offset", 0))
            try:
                counts = run_source(
                    engine, key, read_listing(path, cursor.get("offset", 0), cursor.get("line", 0)),
                    batch_size=batch_size, on_progress=step,
                )
            except KeyboardInterrupt:
                raise _interrupted(engine, key) from None
            except Exception as exc:  # noqa: BLE001 - a file-level failure names the file
                if isinstance(exc, (OSError,)) or exc.__class__.__name__ == "BadRecord":
                    raise clitools.fail(str(exc)) from None
                raise
            total.add(counts)
    report(f"{len(files)} listing file(s)", total)
    if total.failed:  # the rest is stored; a script or cron job learns that some were not
        raise typer.Exit(1)


def _date(value: str | None, option: str):
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise clitools.fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)") from None


@app.command("snapshot")
def ingest_snapshot(
    path: Path = typer.Argument(..., help="The Kaggle arxiv-metadata-oai-snapshot.json (JSON lines)."),
    batch_size: int = typer.Option(
        20_000, min=1,
        help="Records written per transaction (smaller than the parsers' read-ahead, so parsing never stops for a commit).",
    ),
    restart: bool = typer.Option(False, help="Ignore the stored cursor and read the file from the start."),
    parallel: bool = typer.Option(
        None, "--parallel/--serial",
        help="Parse in worker processes while this one writes (default: when the file is large and there are 2+ CPUs).",
    ),
    defer_indexes: bool = typer.Option(
        None, "--defer-indexes/--keep-indexes",
        help="Drop the secondary indexes while importing and build them once at the end (default: when the "
             "file brings at least 100,000 papers and more than are stored; pages are slower meanwhile).",
    ),
) -> None:
    """Import the Kaggle arXiv metadata snapshot, streamed; a re-run resumes where it stopped."""

    with clitools.handled_errors():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        engine = clitools.engine()
    key = f"{SNAPSHOT}:{path.resolve()}"
    with engine.connect() as conn:
        cursor = {} if restart else read_cursor(conn, key)
    size = path.stat().st_size
    if cursor.get("size") != size:
        cursor = {}  # a different file (or none read yet): read it whole; upserts are idempotent
    start = min(cursor.get("offset", 0), size)
    if defer_indexes is None:
        defer_indexes = start < size and bulk.worth_deferring(estimated_records(size - start), _stored_papers(engine))
    total = UpsertCounts()
    with clitools.progress() as bar:
        task = bar.add_task(path.name, total=size, status="", completed=start)

        def rebuilding(name: str, i: int, n: int) -> None:
            bar.update(task, status=f"building index {i}/{n} ({name})")

        if not defer_indexes:  # finish what an interrupted bulk import set aside
            bulk.restore_all(engine, rebuilding)
        if start < size:
            items = read_snapshot_prepared(path, engine.dialect.name, start, cursor.get("line", 0), parallel=parallel)
            try:
                total = run_source(
                    engine, key, items, batch_size=batch_size, on_progress=_ByteProgress(bar, task, "", start),
                    defer_indexes=defer_indexes, on_rebuild=rebuilding,
                )
            except OSError as exc:
                raise clitools.fail(f"{path}: {exc}") from None
            except KeyboardInterrupt:
                raise _interrupted(engine, key) from None
            finally:
                # Closed here, in this thread: left to the garbage collector at exit, the
                # parser pool's shutdown ran in the wrong thread ("cannot join current thread").
                items.close()
    if start >= size:
        clitools.out.print(f"[bold]snapshot {path.name}[/]: already read to its end (line {cursor.get('line', 0):,}); "
                           "--restart reads it again", soft_wrap=True)
        return
    report(f"snapshot {path.name}" + (f" (resumed at line {cursor['line'] + 1})" if start else ""), total)
    if total.failed:  # the rest is stored; a script or cron job learns that some were not
        raise typer.Exit(1)


def _interrupted(engine, key: str) -> typer.Exit:
    """Ctrl-C: what is stored stays (each batch commits with its cursor); say where a
    re-run goes on from."""
    with engine.connect() as conn:
        line = read_cursor(conn, key).get("line", 0)
    clitools.console.print(f"[yellow]interrupted[/]: stored up to line {line:,}; run the same command again "
                           "to go on from there", soft_wrap=True)
    return typer.Exit(130)


def _stored_papers(engine) -> int:
    from sqlalchemy import func, select

    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Paper.__table__)) or 0


@app.command("arxiv")
def ingest_arxiv(
    category: str = typer.Option(None, "--category", help="arXiv category, e.g. cs.LG (cs.* for the archive)."),
    since: str = typer.Option(None, "--from", help="First submission date (YYYY-MM-DD)."),
    until: str = typer.Option(None, "--until", help="Last submission date (YYYY-MM-DD)."),
    ids: list[str] = typer.Option(None, "--ids", help="arXiv ids or URLs to fetch (repeat, or comma-separate)."),
    restart: bool = typer.Option(False, help="Ignore the stored cursor and page from the start."),
) -> None:
    """Fetch papers from the arXiv API: a category (paged, resumable) or given ids."""

    if not category and not ids:
        raise clitools.fail("give --category or --ids")
    lo, hi = _date(since, "--from"), _date(until, "--until")
    settings = clitools.settings()
    with clitools.handled_errors():
        engine = clitools.engine()
    try:
        if ids:
            wanted = [i for arg in ids for i in arg.replace(",", " ").split()]
            stored = fetch_ids(settings, engine, wanted)
            clitools.out.print(f"[bold]arXiv API[/]: {len(stored)} paper(s) stored: {', '.join(stored)}")
            return
        query = category_query(category, lo, hi)
        with clitools.progress() as bar:
            task = bar.add_task(query, total=None, status="")

            def step(pos: dict, counts: UpsertCounts) -> None:
                bar.update(task, completed=pos.get("start", 0), total=pos.get("total"),
                           status=f"{counts.seen} papers")

            total = search(settings, engine, query, restart=restart, on_progress=step)
    except (SourceError, BadRecord) as exc:
        raise clitools.fail(f"{exc} (papers already stored are kept; a re-run resumes)") from None
    report(f"arXiv API {query}", total)


@app.command("oai")
def ingest_oai(
    set_spec: str = typer.Option(None, "--set", help="OAI set, e.g. cs or physics:hep-th."),
    since: str = typer.Option(None, "--from", help="Records changed on or after (YYYY-MM-DD)."),
    until: str = typer.Option(None, "--until", help="Records changed on or before (YYYY-MM-DD)."),
    prefix: str = typer.Option("arXiv", "--prefix", help="Metadata format: arXiv or oai_dc."),
    restart: bool = typer.Option(False, help="Start the harvest over instead of resuming it."),
) -> None:
    """Harvest arXiv's OAI-PMH ListRecords (resumption tokens; a re-run resumes)."""

    if prefix not in PREFIXES:
        raise clitools.fail(f"--prefix must be one of {', '.join(PREFIXES)}")
    lo, hi = _date(since, "--from"), _date(until, "--until")
    settings = clitools.settings()
    with clitools.handled_errors():
        engine = clitools.engine()
    label = f"OAI-PMH {prefix} set={set_spec or 'all'} from={lo or '-'} until={hi or '-'}"
    try:
        with clitools.progress() as bar:
            task = bar.add_task("OAI-PMH", total=None, status="")

            def on_page(page) -> None:
                bar.update(task, advance=len(page.records) + page.deleted, total=page.complete)

            total = harvest(settings, engine, prefix, set_spec, lo, hi, restart=restart, on_page=on_page)
    except SourceError as exc:
        raise clitools.fail(f"{exc} (pages already stored are kept; a re-run resumes)") from None
    if total is None:
        clitools.out.print(f"{label}: already harvested (use --restart to harvest again)")
        return
    report(label, total)
