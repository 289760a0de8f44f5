"""Daily arXiv listings as JSON lines (one file a day; the file name is the announce date)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import orjson

from paperboy.ingest.normalise import BadRecord, PaperRecord, make_record

SOURCE = "listing"
_DATE_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def listing_files(paths: list[Path]) -> list[Path]:
    """Expand folders to their ``*.jsonl`` files, sorted by name (i.e. by date)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.glob("*.jsonl")))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def announced_date(path: Path) -> dt.date:
    m = _DATE_NAME.search(path.name)
    if not m:
        raise BadRecord(f"{path}: the file name carries no YYYY-MM-DD announce date")
    try:
        return dt.date.fromisoformat(m.group(1))
    except ValueError as exc:
        raise BadRecord(f"{path}: {m.group(1)} is not a valid date") from exc


def parse_line(raw: bytes, announced: dt.date) -> PaperRecord:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRecord(f"malformed JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadRecord("a line must hold a JSON object")
    if "id" not in obj or "title" not in obj:
        raise BadRecord("missing 'id' or 'title'")
    authors = obj.get("authors") or []
    if not isinstance(authors, list | str):
        raise BadRecord("'authors' must be a list of names")
    return make_record(
        arxiv_id=obj["id"],
        title=obj.get("title"),
        abstract=obj.get("summary") or obj.get("abstract"),
        authors=authors,
        categories=obj.get("categories") or [],
        comment=obj.get("comment"),
        announced_on=announced,
        source=SOURCE,
    )


def read_listing(path: Path, start_offset: int = 0, start_line: int = 0) -> Iterator[tuple[dict, PaperRecord | BadRecord]]:
    """Yield ``(cursor, record-or-error)``; the cursor is the byte offset after the line."""
    announced = announced_date(path)
    size = path.stat().st_size
    line_no = start_line
    with path.open("rb") as fh:
        fh.seek(start_offset)
        offset = start_offset
        for raw in fh:
            line_no += 1
            offset += len(raw)
            cursor = {"offset": offset, "line": line_no, "size": size}
            if not raw.strip():
                continue
            try:
                yield cursor, parse_line(raw, announced)
            except BadRecord as exc:
                yield cursor, BadRecord(f"{path}:{line_no}: {exc}")
            except UnicodeDecodeError:
                yield cursor, BadRecord(f"{path}:{line_no}: not valid UTF-8")
