import datetime as dt
import json

import orjson
from typer.testing import CliRunner

from paperboy.cli import app
from paperboy.config import get_settings
from paperboy.index.models import PaperEmbedding
from paperboy.ingest.arxiv_api import fetch_ids
from paperboy.ingest.listing import read_listing
from paperboy.ingest.oai import harvest
from paperboy.ingest.pipeline import run_source
from paperboy.ingest.snapshot import read_snapshot
from paperboy.store.db import make_engine, session_scope
from paperboy.store.stats import collect_stats
from tests.conftest import DAILY
from tests.ingest.conftest import KAGGLE
from tests.support.factories import make_paper


def test_stats_count_papers_per_source_with_papers_from_several_sources_in_each(
    fake_settings, fake_arxiv, fresh_engine, tmp_path, shared_data
):
    snapshot_ids = {orjson.loads(line)["id"] for line in KAGGLE.open("rb")}
    listing = DAILY / "2025-03-18.jsonl"
    listing_ids = {orjson.loads(line)["id"] for line in listing.open("rb")}
    # A listing day that repeats three snapshot papers: those belong to both sources.
    shared = sorted(snapshot_ids)[:3]
    extra = tmp_path / "2025-03-19.jsonl"
    extra.write_bytes(b"".join(
        orjson.dumps({"id": i, "title": "T", "summary": "S", "authors": ["A B"], "categories": ["hep-ph"]}) + b"\n"
        for i in shared
    ))
    run_source(fresh_engine, "s", read_snapshot(KAGGLE))
    run_source(fresh_engine, "l", read_listing(listing))
    run_source(fresh_engine, "l2", read_listing(extra))
    api_ids = fetch_ids(fake_settings, fresh_engine, ["1605.08386", "astro-ph/0601001"])
    oai = harvest(fake_settings, fresh_engine, "oai_dc", since=dt.date(2023, 3, 7))

    stats = collect_stats(fresh_engine)
    assert stats["sources"]["snapshot"] == len(snapshot_ids)
    assert stats["sources"]["listing"] == len(listing_ids) + len(shared)
    assert stats["sources"]["api"] == len(api_ids)
    assert stats["sources"]["oai"] == oai.inserted + oai.updated + oai.unchanged
    assert stats["papers"] == sum(stats["sources"].values()) - len(shared)


def test_stats_say_how_many_papers_have_vectors_of_each_model(fresh_url, monkeypatch):
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", fresh_url)
    get_settings.cache_clear()
    runner = CliRunner()

    def stats() -> str:
        result = runner.invoke(app, ["stats"])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    engine = make_engine(fresh_url)
    with session_scope(engine) as db:
        ids = [make_paper(db).id for _ in range(3)]
    assert "no paper embedded yet" in stats()
    # Two papers embedded by the new model while all three keep the old one's vectors.
    with session_scope(engine) as db:
        db.add_all([PaperEmbedding(paper_id=i, model=model, content_hash="h", dim=2, vector=b"\0" * 8)
                    for model, papers in (("old@256", ids), ("new@256", ids[:2])) for i in papers])
    engine.dispose()
    shown = stats()
    assert "vectors of new@256: 2 of 3 papers (66 %)" in shown
    assert "vectors of old@256: 3 of 3 papers" in shown and "no paper embedded" not in shown
    as_json = runner.invoke(app, ["stats", "--json"])
    assert json.loads(as_json.output)["vectors"] == {"new@256": 2, "old@256": 3}
    get_settings.cache_clear()
