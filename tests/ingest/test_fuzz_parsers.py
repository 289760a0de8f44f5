"""Hypothesis fuzzing of the four ingest parsers with mutated real records.

Real records from ../shared/data/arxiv (daily listings, the Kaggle snapshot, an arXiv API
Atom feed, an OAI-PMH page) are truncated, stripped of fields, given fields of the wrong
type, NUL and control characters, huge strings or invalid UTF-8, or broken as XML. The
properties: a parser never raises anything but its documented errors; a malformed record
comes back as a BadRecord naming its file:line (or page and line); the good records of
the same input still parse; and every record a parser accepts can be stored. A few
examples per backend go through the database: the import never aborts, and the good
records are stored.
"""

from __future__ import annotations

import copy
import itertools
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select

from paperboy.ingest import arxiv_api, listing, oai, snapshot
from paperboy.ingest.http import SourceError
from paperboy.ingest.normalise import (
    MAX_ABSTRACT,
    MAX_CATEGORY,
    MAX_NAME,
    MAX_SHORT_FIELD,
    MAX_TITLE,
    BadRecord,
    PaperRecord,
)
from paperboy.ingest.pipeline import run_source
from paperboy.ingest.rows import of_record
from paperboy.store.models import Paper
from tests.conftest import DAILY
from tests.ingest.conftest import API_XML, KAGGLE, OAI

PARSER_RUNS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DB_RUNS = settings(max_examples=6, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- what can go wrong with a value ------------------------------------------------------

NASTY_CHARS = st.sampled_from(["\x00", "\x01", "\x07", "\x1b", "\x7f", "\u2028", "\ufeff", "\ud7ff", "\U0010ffff"])
nasty_text = st.one_of(
    st.text(max_size=40),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=20), NASTY_CHARS, st.text(max_size=20)),
    st.sampled_from(["", " ", "\n\n", "x" * 300_000, "v99999999999999999999", "2401.00001v0",
                     "Mon, 31 Feb 2007 19:18:42 GMT", "not a date", "a" * (MAX_CATEGORY + 1)]),
)
wrong_type = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=True),
                       st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2))
json_junk = st.one_of(nasty_text, wrong_type)
BAD_BYTES = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\\ud800", b'"', b"{", b"}"])


def _real_lines(path: Path, n: int) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()][:n]


SNAPSHOT_LINES = _real_lines(KAGGLE, 30)
LISTING_FILE = sorted(DAILY.glob("*.jsonl"))[0] if DAILY.exists() else None
LISTING_LINES = _real_lines(LISTING_FILE, 30) if LISTING_FILE else []


@st.composite
def mutated_json_line(draw, lines: list[bytes]) -> bytes:
    """A real line, changed: fields dropped or replaced, text spliced, bytes broken."""
    obj = orjson.loads(draw(st.sampled_from(lines)))
    keys = sorted(obj) + ["id", "title", "versions", "authors", "comments", "doi", "journal-ref", "categories"]
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(["drop", "replace", "splice", "versions"]))
        if action == "drop":
            obj.pop(key, None)
        elif action == "replace":
            obj[key] = draw(json_junk)
        elif action == "splice" and isinstance(obj.get(key), str):
            at = draw(st.integers(0, len(obj[key])))
            obj[key] = obj[key][:at] + draw(nasty_text) + obj[key][at:]
        elif action == "versions":
            obj["versions"] = draw(st.one_of(
                wrong_type, st.lists(st.fixed_dictionaries({"version": json_junk, "created": json_junk}), max_size=3)))
    raw = orjson.dumps(obj)
    byte_action = draw(st.sampled_from(["none", "none", "truncate", "insert"]))
    if byte_action == "truncate":
        raw = raw[: draw(st.integers(0, len(raw) - 1))]
    elif byte_action == "insert":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(BAD_BYTES) + raw[at:]
    return raw.replace(b"\n", b" ")


def assert_storable(rec: PaperRecord) -> None:
    """What the database takes from any source, on both backends."""
    assert rec.arxiv_id and len(rec.arxiv_id) <= 40
    assert rec.title and len(rec.title) <= MAX_TITLE and len(rec.abstract) <= MAX_ABSTRACT
    for value in (rec.title, rec.abstract, rec.comment, rec.journal_ref, rec.doi, rec.license, *rec.authors):
        assert "\x00" not in (value or "")
    assert len(rec.doi or "") <= MAX_SHORT_FIELD and len(rec.license or "") <= MAX_SHORT_FIELD
    assert all(len(a) <= MAX_NAME for a in rec.authors)
    assert all(len(c) <= MAX_CATEGORY for c in rec.categories)
    assert rec.version is None or 0 <= rec.version < 2**31


def _mixed_file(good: list[bytes], bad: list[bytes]) -> tuple[bytes, set[int]]:
    """Good and bad lines alternating; returns the content and the bad lines' numbers."""
    lines, bad_at = [], set()
    for n, (g, b) in enumerate(itertools.zip_longest(good, bad), 0):
        if g is not None:
            lines.append(g)
        if b is not None:
            lines.append(b)
            bad_at.add(len(lines))
        del n
    return b"\n".join(lines) + b"\n", bad_at


def _check_line_items(items, path: Path, bad_at: set[int], good_ids: set[str]) -> list[str]:
    """Every item is a storable record or a BadRecord saying ``path:line:`` of a mutated
    line; every good line's paper is among the records. Returns the stored ids."""
    ids = []
    for cursor, item in items:
        if isinstance(item, BadRecord):
            line = int(str(item).removeprefix(f"{path}:").split(":", 1)[0])
            assert str(item).startswith(f"{path}:{line}: ") and line == cursor["line"] and line in bad_at
        else:
            rec = item
            if isinstance(rec, PaperRecord):
                assert_storable(rec)
                ids.append(rec.arxiv_id)
            else:  # a prepared row
                ids.append(rec[0][0])
    assert good_ids <= set(ids)
    return ids


def _snapshot_ids(lines: list[bytes]) -> set[str]:
    return {snapshot.parse_line(line).arxiv_id for line in lines}


# --- the snapshot ----------------------------------------------------------------------


@PARSER_RUNS
@given(bad=st.lists(mutated_json_line(SNAPSHOT_LINES), min_size=1, max_size=4),
       good=st.lists(st.sampled_from(SNAPSHOT_LINES), min_size=1, max_size=3, unique=True))
def test_snapshot_lines_mutated_are_skipped_with_their_line_and_good_ones_still_parse(shared_data, bad, good):
    content, bad_at = _mixed_file(good, bad)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.json"
        path.write_bytes(content)
        _check_line_items(snapshot.read_snapshot(path), path, bad_at, _snapshot_ids(good))
        for dialect in ("sqlite", "postgresql"):  # the fast path agrees with the general one
            prepared = list(snapshot.read_snapshot_prepared(path, dialect, parallel=False))
            general = [(c, of_record(r, dialect) if isinstance(r, PaperRecord) else str(r))
                       for c, r in snapshot.read_snapshot(path)]
            assert [(c, str(r) if isinstance(r, BadRecord) else r) for c, r in prepared] == general


# --- daily listings ----------------------------------------------------------------------


@pytest.mark.skipif(LISTING_FILE is None, reason="no daily listings in ../shared/data")
@PARSER_RUNS
@given(bad=st.lists(mutated_json_line(LISTING_LINES or [b"{}"]), min_size=1, max_size=4),
       good=st.lists(st.sampled_from(LISTING_LINES or [b"{}"]), min_size=1, max_size=3, unique=True))
def test_listing_lines_mutated_are_skipped_with_their_line_and_good_ones_still_parse(bad, good):
    content, bad_at = _mixed_file(good, bad)
    announced = listing.announced_date(LISTING_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / LISTING_FILE.name
        path.write_bytes(content)
        good_ids = {listing.parse_line(line, announced).arxiv_id for line in good}
        _check_line_items(listing.read_listing(path), path, bad_at, good_ids)


# --- XML: the arXiv API's Atom and OAI-PMH ------------------------------------------------

ATOM_FEED = max(sorted(API_XML.glob("*.xml")), key=lambda p: p.read_bytes().count(b"<entry>")) if API_XML.exists() else None
OAI_PAGE = OAI / "ListRecords_data_0.xml"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
OAI_NS = "{http://www.openarchives.org/OAI/2.0/}"
xml_text = st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=40),
                     st.sampled_from(["", "x" * 300_000, "2401.99999v99999999999", "not a date", "a" * 301]))


def _small_document(path: Path, record_tag: str, keep: int) -> bytes:
    """The document with only its first ``keep`` records (fast to parse a thousand times)."""
    root = etree.fromstring(path.read_bytes())
    records = list(root.iter(record_tag))
    for rec in records[keep:]:
        rec.getparent().remove(rec)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@st.composite
def mutated_xml(draw, document: bytes, record_tag: str) -> tuple[bytes, int, bool]:
    """``(document, index of the mutated record, whether the bytes were broken)``."""
    root = etree.fromstring(document)
    records = list(root.iter(record_tag))
    index = draw(st.integers(0, len(records) - 1))
    elements = [el for el in records[index].iter() if isinstance(el.tag, str)][1:]
    for _ in range(draw(st.integers(1, 3))):
        el = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["drop", "text", "attribute", "duplicate"]))
        if action == "drop" and el.getparent() is not None:
            el.getparent().remove(el)
            elements = [e for e in records[index].iter() if isinstance(e.tag, str)][1:] or elements
        elif action == "text":
            el.text = draw(xml_text)
        elif action == "attribute":
            el.set("term", draw(xml_text))
        elif action == "duplicate" and el.getparent() is not None:
            el.addnext(copy.deepcopy(el))
    raw = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    broken = draw(st.sampled_from([False, False, False, True]))
    if broken:  # bytes XML cannot hold, or a cut document
        at = draw(st.integers(0, len(raw)))
        raw = draw(st.sampled_from([raw[:at], raw[:at] + draw(BAD_BYTES) + b"<" + raw[at:],
                                    raw[:at] + b"\x00\x01" + raw[at:]]))
    return raw, index, broken


def _check_xml_page(parse, document: bytes, mutated: tuple[bytes, int, bool], record_tag: str) -> list[PaperRecord]:
    raw, index, broken = mutated
    try:
        records = parse(raw)
    except SourceError as exc:  # a page that is not XML cannot be split into records
        assert str(exc).startswith("page-7: ") and (broken or "opensearch" in str(exc) or "ListRecords" in str(exc))
        return []
    expected = parse(document)
    good = [r for i, r in enumerate(expected) if i != index]
    stored = []
    for rec in records:
        if isinstance(rec, BadRecord):
            assert str(rec).startswith("page-7: line ")
        else:
            assert_storable(rec)
            stored.append(rec)
    if not broken:  # the others are untouched
        ids = [r.arxiv_id for r in stored]
        assert all(r.arxiv_id in ids for r in good if isinstance(r, PaperRecord))
    return stored


ATOM_DOC = _small_document(ATOM_FEED, ATOM_NS + "entry", 6) if ATOM_FEED else b""
OAI_DOC = _small_document(OAI_PAGE, OAI_NS + "record", 6) if OAI_PAGE.exists() else b""


def _atom(raw: bytes) -> list:
    return arxiv_api.parse_feed(raw, "page-7").entries


def _oai(raw: bytes) -> list:
    return oai.parse_page(raw, "page-7", "oai_dc").records


@pytest.mark.skipif(not ATOM_DOC, reason="no API recordings in ../shared/data")
@PARSER_RUNS
@given(mutated=mutated_xml(ATOM_DOC or b"<x/>", ATOM_NS + "entry"))
def test_atom_entries_mutated_are_skipped_with_their_line_and_good_ones_still_parse(mutated):
    _check_xml_page(_atom, ATOM_DOC, mutated, ATOM_NS + "entry")


@pytest.mark.skipif(not OAI_DOC, reason="no OAI-PMH recordings in ../shared/data")
@PARSER_RUNS
@given(mutated=mutated_xml(OAI_DOC or b"<x/>", OAI_NS + "record"))
def test_oai_records_mutated_are_skipped_with_their_line_and_good_ones_still_parse(mutated):
    _check_xml_page(_oai, OAI_DOC, mutated, OAI_NS + "record")


# --- through the database, both backends ----------------------------------------------------

_runs = itertools.count()


def _import_and_check(engine, items: list, expected_ids: set[str]) -> None:
    total = run_source(engine, f"fuzz:{next(_runs)}", items, batch_size=50)
    assert total.failed == sum(isinstance(item, BadRecord) for _c, item in items)
    with engine.connect() as conn:
        stored = set(conn.scalars(select(Paper.arxiv_id).where(Paper.arxiv_id.in_(expected_ids))))
    assert stored == expected_ids


@DB_RUNS
@given(bad=st.lists(mutated_json_line(SNAPSHOT_LINES), min_size=2, max_size=6),
       good=st.lists(st.sampled_from(SNAPSHOT_LINES), min_size=1, max_size=3, unique=True))
def test_a_snapshot_with_malformed_records_imports_its_good_ones(engine, shared_data, bad, good):
    content, _bad_at = _mixed_file(good, bad)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "snapshot.json"
        path.write_bytes(content)
        items = list(snapshot.read_snapshot_prepared(path, engine.dialect.name, parallel=False))
    accepted = {item[0][0] for _c, item in items if not isinstance(item, BadRecord)}
    assert _snapshot_ids(good) <= accepted
    _import_and_check(engine, items, accepted)


@pytest.mark.skipif(LISTING_FILE is None, reason="no daily listings in ../shared/data")
@DB_RUNS
@given(bad=st.lists(mutated_json_line(LISTING_LINES or [b"{}"]), min_size=2, max_size=6))
def test_listings_atom_and_oai_with_malformed_records_import_their_good_ones(engine, bad):
    content, _bad_at = _mixed_file(LISTING_LINES[:3], bad)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / LISTING_FILE.name
        path.write_bytes(content)
        items = list(listing.read_listing(path))
    _import_and_check(engine, items, {r.arxiv_id for _c, r in items if isinstance(r, PaperRecord)})


@DB_RUNS
@given(atom=mutated_xml(ATOM_DOC or b"<x/>", ATOM_NS + "entry"), oai_page=mutated_xml(OAI_DOC or b"<x/>", OAI_NS + "record"))
def test_xml_pages_with_malformed_records_import_their_good_ones(engine, shared_data, atom, oai_page):
    for parse, document, mutated, tag in ((_atom, ATOM_DOC, atom, ATOM_NS + "entry"), (_oai, OAI_DOC, oai_page, OAI_NS + "record")):
        records = _check_xml_page(parse, document, mutated, tag)
        try:
            items = [({"n": n}, rec) for n, rec in enumerate(parse(mutated[0]))]
        except SourceError:
            continue
        _import_and_check(engine, items, {r.arxiv_id for r in records})
