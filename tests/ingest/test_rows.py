"""A paper's row (``ingest/rows.py``): what a record stores, how an incoming version
merges with the stored one, and that a row read back from either database merges as
the row that was written."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import orjson
import pytest
from sqlalchemy import select

from paperboy.ingest import rows
from paperboy.ingest.listing import read_listing
from paperboy.ingest.normalise import BadRecord, make_record
from paperboy.ingest.pipeline import upsert_batch
from paperboy.ingest.snapshot import read_snapshot
from paperboy.store.models import Paper
from tests.conftest import DAILY
from tests.ingest.conftest import KAGGLE

UTC = dt.UTC


def record(**fields):
    base = dict(
        arxiv_id="2401.00001v1", title="Sparse attention", abstract="We study $x^2$. Code: https://github.com/a/b",
        authors=["Ada Lovelace", "Alan Turing"], categories="cs.LG cs.AI math.OC 68T05",
        submitted_at=dt.datetime(2024, 1, 2, 10, 0, tzinfo=UTC),
        updated_at=dt.datetime(2024, 1, 2, 10, 0, tzinfo=UTC),
        announced_on=dt.date(2024, 1, 3), comment="12 pages", source="api",
    )
    return make_record(**{**base, **fields})


def hash_as_always_stored(rec) -> str:
    """The content hash every stored paper carries: md5 of orjson of the typed fields.
    Written out here so that a change of how rows are built cannot silently change it
    (every paper would then be seen as changed and embedded again)."""
    cats = rec.categories
    fields = {
        "version": rec.version or 1, "title": rec.title, "abstract": rec.abstract, "authors": rec.authors,
        "primary_category": cats[0] if cats else None, "categories": " ".join(cats),
        "msc_classes": "; ".join(rec.msc_classes) or None, "acm_classes": "; ".join(rec.acm_classes) or None,
        "submitted_at": rec.submitted_at, "updated_at": rec.updated_at, "announced_on": rec.announced_on,
        "comment": rec.comment, "journal_ref": rec.journal_ref, "doi": rec.doi, "license": rec.license,
        "abs_url": f"https://arxiv.org/abs/{rec.arxiv_id}", "pdf_url": f"https://arxiv.org/pdf/{rec.arxiv_id}",
        "sources": rec.source,
    }
    return hashlib.md5(orjson.dumps(fields), usedforsecurity=False).hexdigest()


def as_dict(row: rows.Prepared) -> dict:
    values, authors = row
    return {**dict(zip(rows.ROW, values, strict=True)), "authors": authors}


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_records_row_derives_its_columns_and_spells_values_as_the_driver_takes_them(dialect):
    r = as_dict(rows.of_record(record(submitted_at=dt.datetime(2024, 1, 2, 10, 0, 0, 250, tzinfo=UTC)), dialect))
    zone = "" if dialect == "sqlite" else "+00:00"
    assert r["primary_category"] == "cs.LG" and r["categories"] == "cs.LG cs.AI math.OC"
    assert r["msc_classes"] == "68T05" and r["acm_classes"] is None
    assert r["authors_text"] == "Ada Lovelace, Alan Turing" and r["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert r["submitted_at"] == "2024-01-02 10:00:00.000250" + zone
    assert r["updated_at"] == "2024-01-02 10:00:00.000000" + zone
    assert r["announced_on"] == "2024-01-03"
    assert (r["abs_url"], r["pdf_url"]) == ("https://arxiv.org/abs/2401.00001", "https://arxiv.org/pdf/2401.00001")
    assert orjson.loads(r["links"]) == [{"kind": "code", "url": "https://github.com/a/b"}]


def test_the_content_hash_is_spelled_as_every_stored_paper_has_it(shared_data):
    records = [rec for _c, rec in read_snapshot(KAGGLE)]
    records += [rec for _c, rec in read_listing(DAILY / "2025-03-18.jsonl") if not isinstance(rec, BadRecord)]
    records.append(record(submitted_at=dt.datetime(2024, 1, 2, 10, 0, 0, 250, tzinfo=UTC), version=None,
                          categories="", comment=None))
    assert len(records) > 200
    for rec in records:
        for dialect in ("sqlite", "postgresql"):
            assert rows.of_record(rec, dialect)[0][rows.CONTENT_HASH] == hash_as_always_stored(rec), rec.arxiv_id


def test_merging_a_row_with_itself_or_an_equal_copy_changes_nothing():
    row = rows.of_record(record(), "sqlite")
    assert rows.merge(row, row) == row
    assert rows.merge(row, rows.of_record(record(), "sqlite")) == row


def test_a_newer_version_wins_field_by_field_but_never_erases():
    old = rows.of_record(record(journal_ref="J. Old 1 (2024)"), "sqlite")
    new = rows.of_record(record(arxiv_id="2401.00001v2", title="Sparse attention, revised", comment=None,
                                categories="cs.AI", authors=["Alan Turing"], source="oai",
                                updated_at=dt.datetime(2024, 2, 1, tzinfo=UTC), announced_on=dt.date(2024, 2, 2)),
                         "sqlite")
    m = as_dict(rows.merge(old, new))
    assert m["version"] == 2 and m["title"] == "Sparse attention, revised"
    assert m["authors"] == ["Alan Turing"] and m["authors_text"] == "Alan Turing"
    assert (m["categories"], m["primary_category"]) == ("cs.AI", "cs.AI")
    assert m["comment"] == "12 pages" and m["journal_ref"] == "J. Old 1 (2024)"  # the newer had none
    assert m["submitted_at"] == "2024-01-02 10:00:00.000000"  # first seen: the earliest
    assert m["updated_at"] == "2024-02-01 00:00:00.000000"  # the latest
    assert m["announced_on"] == "2024-01-03"  # first listed: the earliest
    assert m["sources"] == "api,oai"
    assert m["content_hash"] != as_dict(old)["content_hash"]
    # The same merge in the other order (the newer stored first) gives the same row.
    assert rows.merge(new, old) == rows.merge(old, new)


def test_at_equal_versions_the_stored_value_stays_and_the_incoming_one_only_fills_gaps():
    old = rows.of_record(record(comment=None, doi=None), "postgresql")
    new = rows.of_record(record(title="Another title", comment="Accepted at ICML", doi="10.1/x", source="listing",
                                announced_on=dt.date(2024, 1, 1)), "postgresql")
    m = as_dict(rows.merge(old, new))
    assert m["title"] == "Sparse attention"
    assert (m["comment"], m["doi"]) == ("Accepted at ICML", "10.1/x")
    assert m["announced_on"] == "2024-01-01" and m["sources"] == "api,listing"
    assert m["submitted_at"].endswith("+00:00")


def test_a_stored_row_read_back_merges_as_the_row_that_was_written(db):
    """Both databases: what ``rows.stored`` makes of the driver's values equals the row
    written, so a re-import finds every paper unchanged and a new version updates it."""
    recs = [record(arxiv_id=f"2401.{n:05d}", submitted_at=dt.datetime(2024, 1, 2, 10, 0, 0, n * 7, tzinfo=UTC))
            for n in range(1, 6)]
    conn = db.connection()
    assert upsert_batch(conn, recs).inserted == 5
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection.cursor()
    raw.execute(f"SELECT {', '.join(rows.ROW)} FROM papers WHERE arxiv_id = '2401.00003'")  # noqa: S608 (fixed names)
    assert rows.stored(raw.fetchone(), dialect) == rows.of_record(recs[2], dialect)
    again = upsert_batch(conn, recs)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    newer = upsert_batch(conn, [record(arxiv_id="2401.00003v2", title="Now with proofs", authors=["Alan Turing"],
                                          submitted_at=dt.datetime(2024, 2, 1, tzinfo=UTC))])
    assert (newer.inserted, newer.updated) == (0, 1)
    paper = db.scalars(select(Paper).where(Paper.arxiv_id == "2401.00003")).one()
    assert (paper.version, paper.title, paper.authors_text) == (2, "Now with proofs", "Alan Turing")
    assert paper.submitted_at == dt.datetime(2024, 1, 2, 10, 0, 0, 21, tzinfo=UTC)


def test_a_paper_another_writer_stores_meanwhile_is_merged_not_duplicated(databases):
    """PostgreSQL copies new papers straight into the table: when another writer stores
    one of them after the batch looked, the batch looks again and merges it as stored."""
    if databases.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    engine = databases.new_engine()
    first = engine.connect()
    first.begin()
    upsert_batch(first, [record(arxiv_id="2401.00001v1", title="Sparse attention")])  # not committed yet
    done: dict = {}

    def second_writer() -> None:
        with engine.begin() as conn:
            done["counts"] = upsert_batch(conn, [record(arxiv_id="2401.00001v2", title="Sparse attention, revised",
                                                        authors=["Alan Turing"]),
                                                 record(arxiv_id="2401.00002v1", title="Dense attention")])

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # its COPY waits on the first writer's uncommitted key
    first.commit()
    first.close()
    thread.join(20)
    counts = done["counts"]
    assert (counts.inserted, counts.updated) == (1, 1)
    with engine.connect() as conn:
        stored = {r.arxiv_id: r for r in conn.execute(select(Paper.arxiv_id, Paper.title, Paper.version, Paper.id))}
        authors = conn.exec_driver_sql(
            "SELECT a.name FROM paper_authors pa JOIN authors a ON a.id = pa.author_id WHERE pa.paper_id = %s "
            "ORDER BY pa.position", (stored["2401.00001"].id,)).scalars().all()
    assert sorted(stored) == ["2401.00001", "2401.00002"]
    assert (stored["2401.00001"].title, stored["2401.00001"].version) == ("Sparse attention, revised", 2)
    assert authors == ["Alan Turing"]


def test_an_author_another_writer_stores_meanwhile_is_linked_not_duplicated(databases):
    """PostgreSQL copies new author names straight into the table: when another writer
    stores one of them after the batch looked, the batch inserts the other names and
    links the stored one, so each name is one author."""
    if databases.backend != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    engine = databases.new_engine()
    first = engine.connect()
    first.begin()
    upsert_batch(first, [record(arxiv_id="2401.00001v1", authors=["Grace Hopper"])])  # not committed yet
    done: dict = {}

    def second_writer() -> None:
        with engine.begin() as conn:
            done["counts"] = upsert_batch(conn, [record(arxiv_id="2401.00002v1", title="Dense attention",
                                                        authors=["Edsger Dijkstra", "Grace Hopper"])])

    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(1.0)
    assert thread.is_alive()  # its COPY of names waits on the first writer's uncommitted name
    first.commit()
    first.close()
    thread.join(20)
    assert done["counts"].inserted == 1
    with engine.connect() as conn:
        links = conn.exec_driver_sql(
            "SELECT p.arxiv_id, a.name, a.id FROM paper_authors pa JOIN papers p ON p.id = pa.paper_id "
            "JOIN authors a ON a.id = pa.author_id ORDER BY p.arxiv_id, pa.position").all()
        names = conn.exec_driver_sql("SELECT name FROM authors ORDER BY name").scalars().all()
    assert [(a, n) for a, n, _id in links] == [
        ("2401.00001", "Grace Hopper"), ("2401.00002", "Edsger Dijkstra"), ("2401.00002", "Grace Hopper")]
    assert links[0][2] == links[2][2]  # both papers link the one Grace Hopper
    assert names == ["Edsger Dijkstra", "Grace Hopper"]
