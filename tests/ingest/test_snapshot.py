import datetime as dt
import json

import orjson
import pytest
from sqlalchemy import func, select

from paperboy.ingest.pipeline import run_source
from paperboy.ingest.snapshot import read_snapshot
from paperboy.store.models import Paper, PaperCategory
from tests.ingest.conftest import KAGGLE
from tests.support.cli import cli_runner


def _count(engine, model=Paper):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _paper(engine, arxiv_id):
    with engine.connect() as conn:
        return conn.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()


def test_the_real_snapshot_lines_are_stored_with_versions_and_dates(fresh_engine, shared_data):
    counts = run_source(fresh_engine, "t", read_snapshot(KAGGLE))
    lines = [json.loads(line) for line in KAGGLE.open(encoding="utf-8")]
    assert counts.inserted == len({o["id"] for o in lines}) == _count(fresh_engine) and counts.failed == 0
    p = _paper(fresh_engine, "0704.0001")
    assert p.version == 2 and p.sources == "snapshot"
    assert p.submitted_at == dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=dt.UTC)
    assert p.updated_at == dt.datetime(2007, 7, 24, 20, 10, 27, tzinfo=dt.UTC)
    assert p.authors_text == "C. Balázs, E. L. Berger, P. M. Nadolsky, C.-P. Yuan"
    assert p.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert (p.doi, p.journal_ref) == ("10.1103/PhysRevD.76.013009", "Phys.Rev.D76:013009,2007")
    assert p.comment == "37 pages, 15 figures; published version" and p.primary_category == "hep-ph"
    assert _count(fresh_engine, PaperCategory) == sum(len(o["categories"].split()) for o in lines)


def test_malformed_lines_are_reported_with_file_and_line_and_the_rest_stored(fresh_engine, tmp_path, shared_data):
    real = [orjson.loads(line) for line in KAGGLE.open("rb")][:3]
    bad_date = {**real[1], "versions": [{"version": "v1", "created": "Mon, 31 Feb 2007 10:00:00 GMT"}]}
    bad_id = {**real[2], "id": "07040.003"}
    path = tmp_path / "snap.json"
    path.write_bytes(
        orjson.dumps(real[0]) + b"\n"
        + orjson.dumps(real[0])[:40] + b"\n"                       # truncated
        + orjson.dumps(bad_date) + b"\n"
        + orjson.dumps(bad_id) + b"\n"
        + orjson.dumps(real[0]).replace(b"Tevatron", b"Tevatr\xe9n") + b"\n"  # Latin-1 byte
        + b"[1, 2]\n"
        + orjson.dumps({**real[2], "versions": "v1"}) + b"\n"
        + orjson.dumps(real[2])                                   # last line, no newline
    )
    counts = run_source(fresh_engine, "t", read_snapshot(path))
    assert (counts.inserted, counts.failed) == (2, 6)
    by_line = {int(e.removeprefix(f"{path}:").split(":")[0]): e for e in counts.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7]
    for line, what in ((2, "malformed JSON"), (3, "bad version date"), (4, "not an arXiv id"),
                       (5, "malformed JSON"), (6, "JSON object"), (7, "versions")):
        assert what in by_line[line], by_line[line]


def test_an_interrupted_import_resumes_at_the_cursor_and_ends_the_same(fresh_engine, databases, tmp_path, shared_data):
    from tests.ingest.test_listing import _dump

    def crash_after(items, n):
        for i, item in enumerate(items):
            if i == n:
                raise KeyboardInterrupt
            yield item

    try:
        run_source(fresh_engine, "snap", crash_after(read_snapshot(KAGGLE), 130), batch_size=50)
    except KeyboardInterrupt:
        pass
    with fresh_engine.connect() as conn:
        from paperboy.ingest.pipeline import read_cursor

        cursor = read_cursor(conn, "snap")
    assert cursor["line"] == 100 and _count(fresh_engine) == 100
    rest = run_source(fresh_engine, "snap", read_snapshot(KAGGLE, cursor["offset"], cursor["line"]), batch_size=50)
    assert rest.inserted == 100
    reference = databases.new_engine()
    run_source(reference, "snap", read_snapshot(KAGGLE))
    assert _dump(fresh_engine) == _dump(reference)


@pytest.fixture
def cli(fresh_url, monkeypatch):
    yield from cli_runner(monkeypatch, {"PAPERBOY_DATABASE_URL": fresh_url})


def test_the_cli_imports_resumes_and_reports(cli, shared_data, tmp_path):
    first = cli("ingest", "snapshot", str(KAGGLE))
    assert first.exit_code == 0, first.output
    assert "200 new, 0 updated, 0 unchanged, 0 failed" in first.text
    second = cli("ingest", "snapshot", str(KAGGLE))  # read to its end: says so, and how to read it again
    assert second.exit_code == 0 and "already read to its end (line 200); --restart reads it again" in second.text
    again = cli("ingest", "snapshot", "--restart", str(KAGGLE))
    assert "0 new, 0 updated, 200 unchanged" in again.text
    stats = json.loads(cli("stats", "--json").output)
    assert stats["papers"] == 200 and stats["sources"] == {"snapshot": 200}
    missing = cli("ingest", "snapshot", "/nonexistent.json")
    assert missing.exit_code == 2 and "no such file" in missing.text
    # One bad line: the rest is stored, and the exit code says that not all were.
    partly = tmp_path / "partly.json"
    lines = KAGGLE.read_bytes().splitlines(keepends=True)[:3]
    partly.write_bytes(lines[0] + b'{"id": "truncated\n' + lines[1])
    r = cli("ingest", "snapshot", str(partly))
    assert r.exit_code == 1 and "2 unchanged, 1 failed" in r.text and "malformed JSON" in r.text


def test_nul_characters_skip_their_record_with_file_and_line_not_the_import(fresh_engine, tmp_path, shared_data):
    """PostgreSQL cannot store a NUL in text: the record is skipped, the rest imported."""
    from paperboy.ingest.snapshot import read_snapshot_prepared

    real = [orjson.loads(line) for line in KAGGLE.open("rb")][:4]
    path = tmp_path / "snap.json"
    lines = [real[0], {**real[1], "comments": "a\x00b"}, {**real[2], "journal-ref": "J\x00"},
             {**real[3], "doi": "10.1/\x00"}]
    path.write_bytes(b"\n".join(orjson.dumps(o) for o in lines) + b"\n")
    dialect = fresh_engine.dialect.name
    for reader in (read_snapshot(path), read_snapshot_prepared(path, dialect, parallel=False),
                   read_snapshot_prepared(path, dialect, parallel=True, workers=2)):
        counts = run_source(fresh_engine, "t", reader)
        assert counts.failed == 3
        assert sorted(int(e.removeprefix(f"{path}:").split(":")[0]) for e in counts.errors) == [2, 3, 4]
        assert all("NUL" in e for e in counts.errors)
    assert _count(fresh_engine) == 1
