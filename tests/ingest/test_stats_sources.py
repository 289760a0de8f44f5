import datetime as dt

import orjson

from paperboy.ingest.arxiv_api import fetch_ids
from paperboy.ingest.listing import read_listing
from paperboy.ingest.oai import harvest
from paperboy.ingest.pipeline import run_source
from paperboy.ingest.snapshot import read_snapshot
from paperboy.store.stats import collect_stats
from tests.conftest import DAILY
from tests.ingest.conftest import KAGGLE


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
