"""The snapshot fast path: rows prepared up front, optionally in a worker process, give
exactly the items and the database of the plain record path."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import orjson
import pytest

from paperboy.ingest.normalise import BadRecord
from paperboy.ingest.pipeline import run_source
from paperboy.ingest.rows import of_record
from paperboy.ingest.snapshot import WORKER_NAME, read_snapshot, read_snapshot_prepared
from tests.ingest.conftest import KAGGLE
from tests.ingest.test_crash import full_dump


def _mixed_file(tmp_path):
    """Real lines, bad lines of every kind, a blank line, a repeated id with a newer version."""
    real = [orjson.loads(line) for line in KAGGLE.open("rb")][:12]
    newer = {**real[3], "versions": [*real[3]["versions"], {"version": "v9", "created": "Tue, 9 Jan 2024 10:00:00 GMT"}],
             "title": real[3]["title"] + " (revised)"}
    lines = [orjson.dumps(o) for o in real[:5]]
    lines += [
        orjson.dumps(real[5])[:40],                                                    # truncated
        orjson.dumps({**real[6], "versions": [{"version": "v1", "created": "Mon, 31 Feb 2007 10:00:00 GMT"}]}),
        b"   ",                                                                        # blank: skipped
        orjson.dumps({**real[7], "id": "07040.003"}),                                  # not an arXiv id
        orjson.dumps(newer),                                                           # same id again, v9
        b"[1, 2]",
        *[orjson.dumps(o) for o in real[8:]],
    ]
    path = tmp_path / "mixed.json"
    path.write_bytes(b"\n".join(lines))  # the last line has no newline
    return path


def _plain(items):
    return [(cursor, str(item) if isinstance(item, BadRecord) else item) for cursor, item in items]


def test_the_worker_gives_the_same_items_in_order_with_errors_naming_file_and_line(tmp_path, shared_data):
    path = _mixed_file(tmp_path)
    serial = _plain(read_snapshot_prepared(path, "sqlite", parallel=False))
    # Chunks of 3 lines: bad lines fall in different chunks, and at their edges.
    parallel = _plain(read_snapshot_prepared(path, "sqlite", parallel=True, chunk_lines=3))
    assert parallel == serial
    # The same cursors and errors as the record reader, and the same records prepared.
    plain = _plain(read_snapshot(path))
    assert [c for c, _ in parallel] == [c for c, _ in plain]
    for (_c, mine), (_c2, theirs) in zip(parallel, plain, strict=True):
        assert mine == (theirs if isinstance(theirs, str) else of_record(theirs, "sqlite"))
    errors = {c["line"]: item for c, item in parallel if isinstance(item, str)}
    assert sorted(errors) == [6, 7, 9, 11]
    assert all(e.startswith(f"{path}:{line}: ") for line, e in errors.items())
    assert "malformed JSON" in errors[6] and "bad version date" in errors[7] and "not an arXiv id" in errors[9]


def test_resuming_mid_file_in_the_worker_reads_the_rest(tmp_path, shared_data):
    path = _mixed_file(tmp_path)
    everything = _plain(read_snapshot_prepared(path, "postgresql", parallel=False))
    cursor = everything[4][0]
    rest = _plain(read_snapshot_prepared(path, "postgresql", cursor["offset"], cursor["line"], parallel=True,
                                         chunk_lines=2))
    assert rest == everything[5:]


def test_a_failure_in_the_worker_is_raised_here(tmp_path, shared_data):
    path = tmp_path / "shrinking.json"
    path.write_bytes(KAGGLE.read_bytes())
    items = read_snapshot_prepared(path, "sqlite", parallel=True, chunk_lines=1, workers=1)
    assert next(items)[0]["line"] == 1
    # Emptied while imported: the chunks cut before (and not yet handed out) are read
    # by the worker from a file that no longer has them.
    path.write_bytes(b"")
    with pytest.raises(RuntimeError, match=f"{path} changed while it was read"):
        list(items)
    assert _parser_children() == []


def test_a_file_that_cannot_be_read_raises_here(tmp_path):
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    with pytest.raises(IsADirectoryError):
        list(read_snapshot_prepared(folder, "sqlite", parallel=True))


def _parser_children() -> list[int]:
    """This process's children named as the parser processes name themselves."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            if (proc / "comm").read_text().strip() == WORKER_NAME and int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_stopping_early_stops_the_worker(tmp_path, shared_data):
    items = read_snapshot_prepared(_mixed_file(tmp_path), "sqlite", parallel=True, chunk_lines=1, workers=2)
    assert next(items)[0]["line"] == 1
    assert _parser_children()  # at least the one that prepared line 1
    items.close()  # shuts the pool down: its processes are gone, nothing left hanging
    assert _parser_children() == []


def test_the_parallel_import_gives_the_same_database_as_the_record_path(fresh_engine, databases, tmp_path,
                                                                        shared_data):
    path = _mixed_file(tmp_path)
    fast = run_source(fresh_engine, "snap", read_snapshot_prepared(path, fresh_engine.dialect.name, parallel=True,
                                                                   chunk_lines=4), batch_size=5)
    reference = databases.new_engine()
    plain = run_source(reference, "snap", read_snapshot(path), batch_size=5)
    assert fast.as_dict() == plain.as_dict() and fast.errors == plain.errors
    assert (fast.inserted, fast.updated, fast.failed) == (12 - 3, 1, 4)
    assert full_dump(fresh_engine) == full_dump(reference)
    # Importing again changes nothing, whichever path runs.
    again = run_source(fresh_engine, "snap2", read_snapshot_prepared(path, fresh_engine.dialect.name, parallel=True))
    assert (again.inserted, again.updated) == (0, 0)
    assert full_dump(fresh_engine) == full_dump(reference)


def _variants() -> list[bytes]:
    """The real lines, and edits of them that exercise every check of the direct path."""
    real = [orjson.loads(line) for line in KAGGLE.open("rb")]
    base = real[0]
    edits = [
        {"authors": "Bal\\'azs Szegedy (MIT), J. M\\\"uller and {\\L}ukasz Kaiser", "title": "  Two\n  lines  "},
        {"abstract": "Code at https://github.com/x/y and\n https://example.org/pro\n ject page.", "comments": "see http://x.io"},
        {"categories": "math.PR 60J10 68T05 cs.LG math.PR"},
        {"versions": [{"version": "v1", "created": "Tue, 29 Feb 2000 10:00:00 GMT"}]},    # a leap day
        {"versions": [{"version": "v1", "created": "Mon, 29 Feb 1900 10:00:00 GMT"}]},    # not one
        {"versions": [{"version": "v1", "created": "Mon, 30 Feb 2007 10:00:00 GMT"}]},
        {"versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 24:00:00 GMT"}]},
        {"versions": [{"version": "v1", "created": "Mon, 2 Apr 0000 10:00:00 GMT"}]},
        {"versions": [{"version": "v1", "created": 20070402}]},
        {"versions": [{"version": "v0", "created": "Mon, 2 Apr 2007 10:00:00 GMT"}]},
        {"versions": [{"version": "1", "created": "Mon, 2 Apr 2007 10:00:00 GMT"}]},
        {"versions": [base["versions"][0], "v2", base["versions"][0]]},
        {"versions": []},
        {"id": "hep-th/9901001"}, {"id": "2401.00001v3"}, {"id": "2413.00001"}, {"id": 2401.00001},
        {"title": 42}, {"title": "   "}, {"title": "x" * 2001}, {"abstract": None}, {"abstract": "a\x00b"},
        {"abstract": ["list"]}, {"comments": "  "}, {"doi": 7}, {"license": None}, {"categories": None},
        {"authors": None}, {"authors": ", ".join(f"A{i} B" for i in range(5001))},
        {"title": "Ünïcödé  title\u2028with odd spaces", "journal-ref": " Phys.\n Rev. "},
    ]
    lines = [orjson.dumps(o) for o in real]
    lines += [orjson.dumps({**base, **edit}) for edit in edits]
    lines += [b"[1, 2]", b'{"id": "2401.00001"', b'"text"']
    return lines


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_direct_row_path_equals_the_record_path_line_by_line(dialect, shared_data):
    from paperboy.ingest.snapshot import _fast_row, parse_line, prepare_line

    lines = _variants()
    direct = 0
    for raw in lines:
        try:
            expected = of_record(parse_line(raw), dialect)
        except BadRecord as exc:
            with pytest.raises(BadRecord) as got:
                prepare_line(raw, dialect)
            assert str(got.value) == str(exc)
            continue
        assert prepare_line(raw, dialect) == expected, raw[:200]
        direct += _fast_row(raw, dialect) is not None
    # Every real line and the well-formed edits take the direct path.
    assert direct >= 200 + 5


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_any_number_of_parser_processes_gives_the_same_items_in_order(tmp_path, shared_data, workers):
    path = _mixed_file(tmp_path)
    serial = _plain(read_snapshot_prepared(path, "sqlite", parallel=False))
    # Chunks of one line: the blank line is a chunk with no item, which must not throw
    # the order or the line numbers off; chunks of 4: the last one is short.
    for chunk_lines in (1, 4):
        got = _plain(read_snapshot_prepared(path, "sqlite", parallel=True, chunk_lines=chunk_lines, workers=workers))
        assert got == serial, f"{workers} workers, chunks of {chunk_lines}"


def test_version_dates_are_valid_exactly_when_the_calendar_says_so():
    """The snapshot's own date check (used by both paths) against datetime's."""
    from paperboy.ingest.snapshot import _iso_parts, parse_created

    for year, month, day, hms in [(2000, 2, 29, "10:00:00"), (1900, 2, 29, "10:00:00"), (2004, 2, 29, "00:00:00"),
                                  (2007, 2, 30, "10:00:00"), (2007, 4, 31, "10:00:00"), (2007, 12, 31, "23:59:59"),
                                  (2007, 1, 0, "10:00:00"), (0, 1, 1, "10:00:00"), (2007, 4, 2, "24:00:00"),
                                  (2007, 4, 2, "10:60:00"), (2007, 4, 2, "10:00:60"), (9999, 12, 31, "23:59:59")]:
        text = f"Mon, {day} {'JanFebMarAprMayJunJulAugSepOctNovDec'[3 * month - 3:3 * month]} {year:04d} {hms} GMT"
        try:
            expected = dt.datetime(year, month, day, *map(int, hms.split(":")), tzinfo=dt.UTC)
        except ValueError:
            expected = None
        assert (_iso_parts(text) is None) == (expected is None), text
        if expected is None:
            with pytest.raises(BadRecord, match="bad version date"):
                parse_created(text, "2401.00001")
        else:
            assert parse_created(text, "2401.00001") == expected
