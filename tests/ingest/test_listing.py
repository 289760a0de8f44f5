import datetime as dt
import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from paperboy.ingest.listing import read_listing
from paperboy.ingest.pipeline import run_source
from paperboy.store.models import Author, Paper, PaperAuthor, PaperCategory
from tests.conftest import DAILY


def _count(engine, model):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _dump(engine):
    """Everything stored about papers, for comparing two databases."""
    with engine.connect() as conn:
        papers = conn.execute(
            select(Paper.arxiv_id, Paper.version, Paper.title, Paper.abstract, Paper.authors_text,
                   Paper.categories, Paper.announced_on, Paper.comment, Paper.content_hash, Paper.sources)
            .order_by(Paper.arxiv_id)
        ).all()
        links = conn.execute(
            select(Paper.arxiv_id, PaperAuthor.position, Author.name)
            .join(PaperAuthor, PaperAuthor.paper_id == Paper.id).join(Author)
            .order_by(Paper.arxiv_id, PaperAuthor.position)
        ).all()
    return papers, links


def test_a_real_listing_day_is_stored_with_its_announce_date(fresh_engine, shared_data):
    path = DAILY / "2025-03-18.jsonl"
    counts = run_source(fresh_engine, "t", read_listing(path))
    unique = {json.loads(line)["id"] for line in path.open()}
    assert counts.inserted == len(unique) and counts.failed == 0
    with fresh_engine.connect() as conn:
        p = conn.execute(select(Paper).where(Paper.arxiv_id == "2503.11731")).one()
    assert p.announced_on == dt.date(2025, 3, 18)
    assert p.title.startswith("Industrial-Grade Sensor Simulation via Gaussian Splatting")
    assert "\n" not in p.abstract
    assert p.authors_text.startswith("Xianming Zeng, Sicong Du")
    assert p.categories == "cs.CV cs.RO" and p.primary_category == "cs.CV"
    assert p.abs_url == "https://arxiv.org/abs/2503.11731"
    assert _count(fresh_engine, PaperCategory) >= len(unique)


def test_reimporting_changes_nothing(fresh_engine, shared_data):
    path = DAILY / "2025-03-18.jsonl"
    run_source(fresh_engine, "t", read_listing(path))
    before = _dump(fresh_engine)
    again = run_source(fresh_engine, "t2", read_listing(path))
    assert again.inserted == 0 and again.updated == 0 and again.unchanged > 0
    assert _dump(fresh_engine) == before


def test_a_paper_listed_on_several_days_keeps_its_first_announce_date(fresh_engine, tmp_path):
    rec = {"id": "2501.00001", "title": "T", "summary": "S", "authors": ["A B"], "categories": ["cs.LG"], "comment": None}
    for day in ("2025-01-20", "2025-01-17", "2025-01-22"):
        (tmp_path / f"{day}.jsonl").write_text(json.dumps(rec) + "\n")
        run_source(fresh_engine, day, read_listing(tmp_path / f"{day}.jsonl"))
    with fresh_engine.connect() as conn:
        assert conn.scalar(select(Paper.announced_on)) == dt.date(2025, 1, 17)


def test_bad_lines_are_reported_with_file_and_line_and_the_rest_is_stored(fresh_engine, tmp_path):
    good = {"id": "2501.00002", "title": "Good", "summary": "S", "authors": ["A B"], "categories": ["cs.LG"]}
    path = tmp_path / "2025-01-20.jsonl"
    path.write_bytes(
        json.dumps(good).encode() + b"\n"
        + b'{"id": "2501.0000\n'                                   # truncated JSON
        + json.dumps({**good, "id": "not-an-id"}).encode() + b"\n"  # bad id
        + b'{"id": "2501.00003", "title": "\xff\xfe"}\n'          # not UTF-8
        + json.dumps({**good, "id": "2501.00004", "title": ""}).encode() + b"\n"
    )
    counts = run_source(fresh_engine, "t", read_listing(path))
    assert counts.inserted == 1 and counts.failed == 4
    assert any(f"{path}:2:" in e and "malformed JSON" in e for e in counts.errors)
    assert any(f"{path}:3:" in e and "not an arXiv id" in e for e in counts.errors)
    assert any(f"{path}:5:" in e and "empty title" in e for e in counts.errors)


def test_cli_imports_the_whole_sample_and_a_second_run_changes_nothing(fresh_url, shared_data, monkeypatch):
    from paperboy.cli import app
    from paperboy.config import get_settings

    monkeypatch.setenv("PAPERBOY_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", "listing", str(DAILY)])
    assert first.exit_code == 0, first.output
    assert "10348 new" in first.output
    second = runner.invoke(app, ["ingest", "listing", str(DAILY)])
    assert second.exit_code == 0 and "0 new, 0 updated" in second.output
    stats = runner.invoke(app, ["stats", "--json"])
    assert json.loads(stats.output)["papers"] == 10348
    missing = runner.invoke(app, ["ingest", "listing", "/nonexistent/folder"])
    assert missing.exit_code == 2 and "no such file" in missing.output
    get_settings.cache_clear()


def test_a_folder_with_a_stray_file_or_no_listing_is_refused_before_anything_is_imported(fresh_url, tmp_path,
                                                                                          monkeypatch):
    from paperboy.cli import app
    from paperboy.config import get_settings

    monkeypatch.setenv("PAPERBOY_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    folder = tmp_path / "listings"
    folder.mkdir()
    good = json.dumps({"id": "2501.00001", "title": "A paper", "authors": ["Ada Lovelace"],
                       "categories": ["cs.LG"], "summary": "An abstract."})
    (folder / "2025-01-13.jsonl").write_text(good + "\n")
    (folder / "notadate.jsonl").write_text(good + "\n")
    runner = CliRunner()
    r = runner.invoke(app, ["ingest", "listing", str(folder)])
    said = " ".join(r.output.split())
    assert r.exit_code == 2 and "nothing imported" in said and "notadate.jsonl" in said
    assert json.loads(runner.invoke(app, ["stats", "--json"]).output)["papers"] == 0  # not even the good day
    (folder / "notadate.jsonl").unlink()
    assert runner.invoke(app, ["ingest", "listing", str(folder)]).exit_code == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    r = runner.invoke(app, ["ingest", "listing", str(empty)])
    assert r.exit_code == 2 and "no listing (*.jsonl)" in " ".join(r.output.split())
    get_settings.cache_clear()


def test_an_import_leaves_postgresql_statistics_of_what_it_wrote(fresh_engine, shared_data):
    """Where autovacuum is off or behind (it is off on this machine), the planner of a
    fresh instance would guess: an import that changed a tenth of the papers analyses
    the tables it wrote (``pg_class.reltuples``, -1 until then, becomes their size)."""
    if fresh_engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans by its index heuristics: an import leaves it no statistics to keep")

    def estimated_rows() -> dict[str, float]:
        with fresh_engine.connect() as conn:
            return dict(conn.exec_driver_sql(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                "('papers', 'authors', 'paper_authors', 'paper_categories')").all())

    counts = run_source(fresh_engine, "t", read_listing(DAILY / "2025-03-18.jsonl"))
    rows = estimated_rows()
    assert rows["papers"] == counts.inserted == _count(fresh_engine, Paper)
    assert rows["paper_authors"] == _count(fresh_engine, PaperAuthor) and rows["authors"] > 0
