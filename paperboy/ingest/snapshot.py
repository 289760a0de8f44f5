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

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from paperboy.ingest.normalise import (
    BadRecord,
    PaperRecord,
    clean_optional,
    clean_text,
    parse_arxiv_id,
    split_authors,
    split_categories,
)

SOURCE = "snapshot"

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
# "Mon, 2 Apr 2007 19:18:42 GMT" — the only shape the snapshot's versions use.
_RFC2822 = re.compile(r"(?:[A-Z][a-z]{2}, )?(\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT")


def parse_created(value: object, arxiv_id: str) -> dt.datetime:
    if not isinstance(value, str):
        raise BadRecord(f"{arxiv_id}: bad version date: {value!r:.60}")
    m = _RFC2822.fullmatch(value)
    month = _MONTHS.get(m.group(2)) if m else None
    if not m or not month:
        raise BadRecord(f"{arxiv_id}: bad version date: {value[:60]!r}")
    try:
        return dt.datetime(int(m.group(3)), month, int(m.group(1)), int(m.group(4)), int(m.group(5)),
                           int(m.group(6)), tzinfo=dt.UTC)
    except ValueError:
        raise BadRecord(f"{arxiv_id}: bad version date: {value[:60]!r}") from None


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


def parse_line(raw: bytes) -> PaperRecord:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRecord(f"malformed JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadRecord("a line must hold a JSON object")
    arxiv_id = obj.get("id")
    if not isinstance(arxiv_id, str) or "title" not in obj:
        raise BadRecord("missing 'id' or 'title'")
    authors = obj.get("authors") or ""
    if not isinstance(authors, str):
        raise BadRecord(f"{arxiv_id}: 'authors' must be a string")
    for key in ("title", "abstract", "comments", "journal-ref", "doi", "license", "categories"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise BadRecord(f"{arxiv_id}: {key!r} must be a string")
    version, submitted, updated = _versions(obj, arxiv_id)
    # What make_record(...) does for these fields, without its generic keyword handling.
    pid, id_version = parse_arxiv_id(arxiv_id)
    cats, msc, acm = split_categories(obj.get("categories") or "")
    return PaperRecord(
        arxiv_id=pid,
        version=version if version is not None else id_version,
        title=clean_text(obj["title"]),
        abstract=clean_text(obj.get("abstract")),
        authors=split_authors(authors),
        categories=cats,
        msc_classes=msc,
        acm_classes=acm,
        submitted_at=submitted,
        updated_at=updated,
        comment=clean_optional(obj.get("comments")),
        journal_ref=clean_optional(obj.get("journal-ref")),
        doi=clean_optional(obj.get("doi")),
        license=clean_optional(obj.get("license")),
        source=SOURCE,
    ).validate()


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
