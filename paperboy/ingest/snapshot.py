"""The Kaggle arXiv snapshot (``arxiv-metadata-oai-snapshot.json``): one JSON object a line.

Fields: id, submitter, authors, title, comments, journal-ref, doi, report-no,
categories, license, abstract, versions [{version, created}], update_date,
authors_parsed. The file (≈4 GB, 2.6M lines) is streamed, never loaded; the cursor is
the byte offset after the last committed line, so a re-run resumes there.

Authors come from the ``authors`` string (the form the API and listings use:
``C.-P. Yuan``), not ``authors_parsed`` (which respaces initials: ``C. -P.``), so the
same person gets one author row whatever the source.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import io
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import orjson

from paperboy.ingest.normalise import (
    MAX_ABSTRACT,
    MAX_AUTHORS,
    MAX_CATEGORY,
    MAX_NAME,
    MAX_SHORT_FIELD,
    MAX_TITLE,
    BadRecord,
    PaperRecord,
    clean_text,
    parse_arxiv_id,
    split_authors,
    split_categories,
)
from paperboy.ingest.rows import Prepared, build, of_record, zone
from paperboy.papers.ids import PLAIN_NEW_ID

SOURCE = "snapshot"

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# "Mon, 2 Apr 2007 19:18:42 GMT" — the only shape the snapshot's versions use.
_RFC2822 = re.compile(r"(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT")


def parse_created(value: object, arxiv_id: str) -> dt.datetime:
    parts = _iso_parts(value)
    if parts is None:
        raise BadRecord(f"{arxiv_id}: bad version date: {value!r:.60}" if not isinstance(value, str)
                        else f"{arxiv_id}: bad version date: {value[:60]!r}")
    return dt.datetime.fromisoformat(f"{parts[0]}T{parts[1]}+00:00")


_MDAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _iso_parts(value: object) -> tuple[str, str] | None:
    """``"Mon, 2 Apr 2007 19:18:42 GMT"`` → ``("2007-04-02", "19:18:42")``, None if not a valid date."""
    m = _RFC2822.fullmatch(value) if type(value) is str else None
    if m is None:
        return None
    day, mon, year, hour, minute, second = m.groups()
    month, d, y = _MONTHS.get(mon), int(day), int(year)
    if not month or y < 1 or d < 1 or hour > "23" or minute > "59" or second > "59":
        return None
    if d > _MDAYS[month] and not (month == 2 and d == 29 and y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return None
    return f"{year}-{month:02d}-{d:02d}", f"{hour}:{minute}:{second}"


def _versions(obj: dict, arxiv_id: str) -> tuple[int | None, dt.datetime | None, dt.datetime | None]:
    versions = obj.get("versions")
    if not versions:
        return None, None, None
    if not isinstance(versions, list) or not all(isinstance(v, dict) for v in versions):
        raise BadRecord(f"{arxiv_id}: 'versions' must be a list of objects")
    last = versions[-1].get("version")
    if not isinstance(last, str) or not last.startswith("v") or not last[1:].isdigit():
        raise BadRecord(f"{arxiv_id}: bad version {last!r:.40}")
    first_at = parse_created(versions[0].get("created"), arxiv_id)
    last_at = first_at if len(versions) == 1 else parse_created(versions[-1].get("created"), arxiv_id)
    return int(last[1:]), first_at, last_at


_TEXT_FIELDS = ("title", "abstract", "comments", "journal-ref", "doi", "license", "categories")


# JSON can only carry a NUL as this escape; PostgreSQL cannot store one in text.
_NUL = b"\\u0000"


def parse_line(raw: bytes) -> PaperRecord:
    if _NUL in raw:
        raise BadRecord("a NUL character (\\u0000) in the record")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRecord(f"malformed JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadRecord("a line must hold a JSON object")
    arxiv_id = obj.get("id")
    if not isinstance(arxiv_id, str) or "title" not in obj:
        raise BadRecord("missing 'id' or 'title'")
    get = obj.get
    authors = get("authors") or ""
    if not isinstance(authors, str):
        raise BadRecord(f"{arxiv_id}: 'authors' must be a string")
    fields = (obj["title"], get("abstract"), get("comments"), get("journal-ref"), get("doi"), get("license"),
              get("categories"))
    for key, value in zip(_TEXT_FIELDS, fields, strict=True):
        if value is not None and not isinstance(value, str):
            raise BadRecord(f"{arxiv_id}: {key!r} must be a string")
    title, abstract, comments, journal_ref, doi, license_, categories = fields
    version, submitted, updated = _versions(obj, arxiv_id)
    # What make_record(...) does for these fields, without its generic keyword handling.
    pid, id_version = parse_arxiv_id(arxiv_id)
    cats, msc, acm = split_categories(categories or "")
    return PaperRecord(
        arxiv_id=pid,
        version=version if version is not None else id_version,
        title=clean_text(title),
        abstract=clean_text(abstract),
        authors=split_authors(authors),
        categories=cats,
        msc_classes=msc,
        acm_classes=acm,
        submitted_at=submitted,
        updated_at=updated,
        comment=clean_text(comments) or None,  # clean_optional, inlined
        journal_ref=clean_text(journal_ref) or None,
        doi=clean_text(doi) or None,
        license=clean_text(license_) or None,
        source=SOURCE,
    ).validate()


# The real snapshot's lines average ~1.7 kB; a low guess errs toward a bulk import.
AVERAGE_LINE_BYTES = 1500


def estimated_records(nbytes: int) -> int:
    return nbytes // AVERAGE_LINE_BYTES


def read_snapshot(path: Path, start_offset: int = 0, start_line: int = 0) -> Iterator[tuple[dict, PaperRecord | BadRecord]]:
    """Yield ``(cursor, record-or-error)``; the cursor is the byte offset after the line."""
    size = path.stat().st_size
    line_no = start_line
    offset = start_offset
    with path.open("rb", buffering=1 << 20) as fh:
        fh.seek(start_offset)
        for raw in fh:
            line_no += 1
            offset += len(raw)
            cursor = {"offset": offset, "line": line_no, "size": size}
            if raw.isspace():
                continue
            try:
                yield cursor, parse_line(raw)
            except BadRecord as exc:
                yield cursor, BadRecord(f"{path}:{line_no}: {exc}")


# --- one line straight to its prepared row ---------------------------------------------
#
# ``of_record(parse_line(raw))`` builds a PaperRecord and datetimes only to turn them into
# strings again. For the shape nearly every snapshot line has (a plain new-style id, text
# fields, versions with well-formed dates) ``prepare_line`` goes from the JSON object to
# the fields ``rows.build`` takes directly, about twice as fast; anything else (old-style
# ids, odd types, bad dates, limits exceeded) takes the general path, which also words
# the errors. Both end in ``rows.build``; a test holds them equal line by line.


def _fast_row(raw: bytes, dialect: str) -> Prepared | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict:
        return None
    get = obj.get
    arxiv_id, title, abstract, authors_raw, cats_raw, versions = (
        get("id"), get("title"), get("abstract"), get("authors"), get("categories"), get("versions"))
    comments, journal_ref, doi, license_ = get("comments"), get("journal-ref"), get("doi"), get("license")
    if (type(arxiv_id) is not str or type(title) is not str or type(authors_raw) is not str
            or type(cats_raw) is not str or type(versions) is not list or not versions
            or not PLAIN_NEW_ID.fullmatch(arxiv_id)):
        return None
    for value in (abstract, comments, journal_ref, doi, license_):
        if value is not None and type(value) is not str:
            return None
    first, last = versions[0], versions[-1]
    if type(first) is not dict or type(last) is not dict or (
            len(versions) > 2 and not all(type(v) is dict for v in versions)):
        return None
    label = last.get("version")
    if type(label) is not str or not label.startswith("v") or not label[1:].isdigit() or len(label) > 8:
        return None
    sub = _iso_parts(first.get("created"))
    upd = sub if last is first else _iso_parts(last.get("created"))
    if sub is None or upd is None:
        return None
    title = clean_text(title)
    abstract = clean_text(abstract)
    authors = split_authors(authors_raw)
    if (not title or len(title) > MAX_TITLE or len(abstract) > MAX_ABSTRACT or len(authors) > MAX_AUTHORS
            or "\x00" in title or "\x00" in abstract or any("\x00" in a for a in authors)):
        return None
    cats, msc_list, acm_list = split_categories(cats_raw)
    if (any(len(a) > MAX_NAME for a in authors) or any(len(c) > MAX_CATEGORY for c in cats)
            or len(doi or "") > MAX_SHORT_FIELD or len(license_ or "") > MAX_SHORT_FIELD):
        return None  # over a column's width: the general path words the error
    comment = (clean_text(comments) or None) if comments else None
    journal_ref = (clean_text(journal_ref) or None) if journal_ref else None
    doi = (clean_text(doi) or None) if doi else None
    license_ = (clean_text(license_) or None) if license_ else None
    time_end = ".000000" + zone(dialect)  # the snapshot's dates have whole seconds
    return build(
        arxiv_id, int(label[1:]) or 1, title, abstract, authors, " ".join(cats),
        "; ".join(msc_list) or None, "; ".join(acm_list) or None,
        f"{sub[0]} {sub[1]}{time_end}", f"{upd[0]} {upd[1]}{time_end}", None,
        comment, journal_ref, doi, license_, SOURCE,
    )


def prepare_line(raw: bytes, dialect: str) -> Prepared:
    """``rows.of_record(parse_line(raw), dialect)``; raises BadRecord as parse_line does."""
    if _NUL in raw:
        raise BadRecord("a NUL character (\\u0000) in the record")
    row = _fast_row(raw, dialect)
    if row is not None:
        return row
    return of_record(parse_line(raw), dialect)


# --- the fast path: parse and prepare in worker processes -------------------------------
#
# Parsing a line (JSON, names, LaTeX, dates) and preparing its row (links, content hash,
# driver values) is independent per line, so worker processes do it while this one
# writes to the database. This process cuts the file into chunks of ``chunk_lines``
# lines without parsing them (it only counts their bytes) and submits each chunk's byte
# range and first line number to a ``concurrent.futures`` process pool; a worker reads
# that range itself and returns the chunk prepared by ``_prepare_lines``, the one
# function the in-line path uses too: a list of ``(offset after the line, line number,
# prepared row or error text)``. The futures are taken in the order they were submitted,
# which is file order, and each line turned back into the item ``read_snapshot`` would
# give: the same cursors, the same batches, the same database.

CHUNK_LINES = 1000
# Chunks submitted and not yet taken (~2 MB of rows each): more than a batch (20,000
# lines), so parsing goes on while this process writes one, and a bound on memory.
AHEAD_CHUNKS = 32
# Below this many bytes to read, starting a process costs more than it saves.
PARALLEL_MIN_BYTES = 8 << 20
# A worker's name in /proc/<pid>/comm (at most 15 bytes), as ps and top show it; the
# kill -9 test finds leftover workers by it.
WORKER_NAME = "paperboy-parser"
# How often a worker checks that the process that started it is still there.
ORPHAN_CHECK_SECONDS = 0.5


def parser_processes() -> int:
    """Two on two cores: the writer spends a third of its time waiting on SQLite or the
    server, which a second parser fills (docs/ingest.md, "Speed"); at most four."""
    return max(1, min(4, os.cpu_count() or 1))


def _prepare_lines(lines: Iterable[bytes], path: str, offset: int, line_no: int, dialect: str) -> list:
    """One chunk: the lines after byte ``offset`` and line ``line_no``, prepared; blank
    lines give no item but count."""
    chunk = []
    for raw in lines:
        line_no += 1
        offset += len(raw)
        if raw.isspace():
            continue
        try:
            item = prepare_line(raw, dialect)
        except BadRecord as exc:
            item = f"{path}:{line_no}: {exc}"
        chunk.append((offset, line_no, item))
    return chunk


def _cut(fh: BinaryIO, offset: int, line_no: int, chunk_lines: int) -> Iterator[tuple[int, int, list[bytes], int]]:
    """``(offset, line number before it, lines, their bytes)`` of each chunk of ``fh``, read
    on from ``offset``."""
    while lines := list(islice(fh, chunk_lines)):
        nbytes = sum(map(len, lines))
        yield offset, line_no, lines, nbytes
        offset += nbytes
        line_no += len(lines)


def _prepared_chunks(path: Path, start_offset: int, start_line: int, dialect: str,
                     chunk_lines: int = CHUNK_LINES) -> Iterator[list]:
    """The in-line path: each chunk prepared here, in turn."""
    with path.open("rb", buffering=1 << 20) as fh:
        fh.seek(start_offset)
        for offset, line_no, lines, _nbytes in _cut(fh, start_offset, start_line, chunk_lines):
            yield _prepare_lines(lines, str(path), offset, line_no, dialect)


# In a worker process: what its initializer opened, for every chunk it is given.
_worker: dict = {}


def _start_worker(path: str, real_path: str, dialect: str, parent: int) -> None:
    """A worker's initializer; ``path`` is the name errors give, ``real_path`` the file."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the importer's to handle
    # Lines make no reference cycles; collecting every 700 allocations cost ~20 % here.
    gc.set_threshold(100_000, 50, 1000)
    with contextlib.suppress(OSError):  # /proc is Linux's; elsewhere the name stays "python"
        Path("/proc/self/comm").write_text(WORKER_NAME)
    # A pool's idle worker waits on its task queue, which never ends if the importer is
    # killed (kill -9): it would wait forever. It leaves once it has another parent.
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="orphan-check", daemon=True).start()
    _worker.update(path=path, dialect=dialect)
    try:
        _worker["fd"] = os.open(real_path, os.O_RDONLY)  # held while the worker lives
    except OSError as exc:
        _worker["error"] = exc  # raised by each chunk's task, so it reaches the importer


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


def _prepare_range(offset: int, length: int, line_no: int) -> list:
    """A worker's task: the chunk of ``length`` bytes at ``offset`` (after line ``line_no``), prepared."""
    if "error" in _worker:
        raise _worker["error"]
    parts = []
    at, end = offset, offset + length
    while at < end and (data := os.pread(_worker["fd"], end - at, at)):
        parts.append(data)
        at += len(data)
    if at < end:
        raise RuntimeError(f"{_worker['path']} changed while it was read: bytes {at}-{end} are gone")
    return _prepare_lines(io.BytesIO(b"".join(parts)), _worker["path"], offset, line_no, _worker["dialect"])


def _chunks_from_workers(path: Path, start_offset: int, start_line: int, dialect: str,
                         chunk_lines: int, workers: int) -> Iterator[list]:
    with path.open("rb", buffering=1 << 20) as fh:
        fh.seek(start_offset)
        # spawn: fresh interpreters, not forks with copies of this process's database
        # connections, threads and locks. They import the main module again (as
        # ``__mp_main__``), which the console script and the bench scripts guard.
        pool = ProcessPoolExecutor(
            workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
            initargs=(str(path), os.path.realpath(path), dialect, os.getpid()),
        )
        try:
            ahead: deque[Future[list]] = deque()
            for offset, line_no, _lines, nbytes in _cut(fh, start_offset, start_line, chunk_lines):
                ahead.append(pool.submit(_prepare_range, offset, nbytes, line_no))
                if len(ahead) >= AHEAD_CHUNKS:
                    yield ahead.popleft().result()  # a worker's exception is raised here
            while ahead:
                yield ahead.popleft().result()
        finally:
            # Stopped early (closed, an error): chunks not yet started are dropped, the
            # workers finish the one they are on and exit.
            pool.shutdown(wait=True, cancel_futures=True)


def read_snapshot_prepared(
    path: Path, dialect: str, start_offset: int = 0, start_line: int = 0, *,
    parallel: bool | None = None, chunk_lines: int = CHUNK_LINES, workers: int | None = None,
) -> Iterator[tuple[dict, Prepared | BadRecord]]:
    """``read_snapshot`` yielding rows ready for the database (``rows.build``).

    ``parallel`` (default: when there is enough to read and more than one CPU) parses
    in ``workers`` processes (default ``parser_processes()``); the items are the same
    either way.
    """
    size = path.stat().st_size
    if parallel is None:
        parallel = (os.cpu_count() or 1) > 1 and size - start_offset >= PARALLEL_MIN_BYTES
    if parallel:
        chunks = _chunks_from_workers(path, start_offset, start_line, dialect, chunk_lines,
                                      workers or parser_processes())
    else:
        chunks = _prepared_chunks(path, start_offset, start_line, dialect, chunk_lines)
    try:
        for chunk in chunks:
            for offset, line_no, item in chunk:
                yield {"offset": offset, "line": line_no, "size": size}, BadRecord(item) if isinstance(item, str) else item
    finally:
        chunks.close()
