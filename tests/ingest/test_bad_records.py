"""A record with a field of the wrong type is skipped with its file:line and a reason;
the rest of the file imports, on both backends (docs/ingest.md, "Bad records")."""

from __future__ import annotations

import orjson
from sqlalchemy import select

from paperboy.ingest.listing import read_listing
from paperboy.ingest.pipeline import run_source
from paperboy.store.models import Paper


def _stored(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(Paper.arxiv_id)))


def test_a_listing_field_of_the_wrong_type_skips_that_record_only(databases, shared_data, tmp_path):
    engine = databases.new_engine()
    good = {"id": "2503.00001", "title": "A paper", "authors": ["A. One"], "categories": ["cs.LG"]}
    path = tmp_path / "2025-03-18.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in (
        good, {**good, "id": "2503.00002", "title": 5}, {**good, "id": "2503.00003", "categories": 7},
        {**good, "id": 2503.00004}, {**good, "id": "2503.00005", "comment": ["x"]},
    )) + b"\n")

    total = run_source(engine, "listing:types", read_listing(path))

    assert (total.inserted, total.failed) == (1, 4)
    assert total.errors == [
        f"{path}:2: 2503.00002: 'title' must be a string, not int",
        f"{path}:3: 2503.00003: 'categories' must be a string or a list of strings",
        f"{path}:4: 'id' must be a string, not float",
        f"{path}:5: 2503.00005: 'comment' must be a string, not list",
    ]
    assert _stored(engine) == {"2503.00001"}
