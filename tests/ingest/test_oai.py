import datetime as dt

import pytest
from sqlalchemy import func, select

from paperboy.ingest.http import SourceError
from paperboy.ingest.normalise import BadRecord
from paperboy.ingest.oai import harvest, parse_page
from paperboy.store.models import Paper, PaperCategory
from tests.ingest.conftest import OAI
from tests.ingest.oai_fixtures import PAGE_1, PAGE_2, arxiv_page, oai_error

FIRST = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2025-03-01"}


def _count(engine, model=Paper):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _paper(engine, arxiv_id):
    with engine.connect() as conn:
        return conn.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).one()


def _serve_arxiv_pages(fake):
    fake.add_oai(FIRST, arxiv_page(PAGE_1, "tok|1", 0, 6))
    fake.add_oai({"verb": "ListRecords", "resumptionToken": "tok|1"}, arxiv_page(PAGE_2, None, 3, 6))


# --- parsing --------------------------------------------------------------------------


def test_arxiv_format_records_keep_every_field():
    page = parse_page(arxiv_page(PAGE_1, "tok|1", 0, 6), "u", "arXiv")
    assert page.token == "tok|1" and page.complete == 6 and page.deleted == 1
    rec = page.records[0]
    assert rec.arxiv_id == "2503.00001" and rec.title == "Learning to rank under drift"
    assert rec.authors == ["Csaba Balázs", "Martin L. King Jr"]
    assert rec.categories == ["cs.LG", "stat.ML"]
    assert rec.msc_classes == ["68T05", "62H30"] and rec.acm_classes == ["I.2.6", "H.3.3"]
    assert rec.submitted_at == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    assert rec.updated_at == dt.datetime(2025, 3, 10, tzinfo=dt.UTC)
    assert (rec.journal_ref, rec.doi) == ("J. Mach. Learn. 1 (2025) 1", "10.1000/xyz123")
    assert rec.license == "http://creativecommons.org/licenses/by/4.0/"
    assert rec.abstract == "We study ranking when the data drift."
    assert page.records[1].arxiv_id == "cs/0112017"


def test_bad_dates_and_ids_are_reported_with_url_line_and_identifier():
    page = parse_page(arxiv_page(PAGE_2, None), "http://oai?x", "arXiv")
    bad = [r for r in page.records if isinstance(r, BadRecord)]
    assert len(page.records) == 3 and len(bad) == 2
    assert "http://oai?x: line" in str(bad[0]) and "oai:arXiv.org:2503.00004" in str(bad[0]) and "bad" in str(bad[0])
    assert "not an arXiv id" in str(bad[1])


def test_the_recorded_oai_dc_pages_parse_whole(shared_data):
    sizes = []
    for n in range(3):
        page = parse_page((OAI / f"ListRecords_data_{n}.xml").read_bytes(), "u", "oai_dc")
        assert not [r for r in page.records if isinstance(r, BadRecord)]
        sizes.append(len(page.records))
    assert sizes == [1000, 1000, 265] and page.token is None and page.complete == 2265
    first = parse_page((OAI / "ListRecords_data_0.xml").read_bytes(), "u", "oai_dc").records[0]
    assert first.arxiv_id == "0806.4410" and first.authors == ["Robert Baillie"]
    assert first.comment.startswith("29 pages, 2 figures")
    assert first.submitted_at.date() == dt.date(2008, 6, 27)


def test_truncated_xml_and_oai_errors_are_clear():
    body = arxiv_page(PAGE_1, "tok|1")
    with pytest.raises(SourceError, match=r"http://oai: line \d+: malformed XML"):
        parse_page(body[:-200], "http://oai", "arXiv")
    with pytest.raises(SourceError, match="badResumptionToken.*--restart"):
        parse_page(oai_error("badResumptionToken", "expired"), "u", "arXiv")
    assert parse_page(oai_error("noRecordsMatch", "none"), "u", "arXiv").records == []


def test_wrongly_encoded_pages_are_refused_with_the_url():
    # Declared UTF-8, but one title written in Latin-1.
    latin1 = arxiv_page(PAGE_1, None).replace(b"Learning", "Léarning".encode("latin-1"))
    with pytest.raises(SourceError, match=r"http://oai: line \d+: malformed XML"):
        parse_page(latin1, "http://oai", "arXiv")


# --- harvesting from the fake arXiv --------------------------------------------------------


def test_the_recorded_oai_dc_harvest_follows_resumption_tokens(fake_settings, fake_arxiv, fresh_engine, shared_data):
    counts = harvest(fake_settings, fresh_engine, "oai_dc", since=dt.date(2023, 3, 7))
    assert [p.get("resumptionToken") for _, p in fake_arxiv.requests] == [None, "6511260|1001", "6511260|2001"]
    assert counts.failed == 0 and counts.inserted == _count(fresh_engine) > 2000
    assert _paper(fresh_engine, "0806.4410").sources == "oai"
    # Finished: a re-run does nothing until told to restart; a restart changes nothing.
    assert harvest(fake_settings, fresh_engine, "oai_dc", since=dt.date(2023, 3, 7)) is None
    again = harvest(fake_settings, fresh_engine, "oai_dc", since=dt.date(2023, 3, 7), restart=True)
    assert again.inserted == 0 and again.updated == 0


def test_an_arxiv_format_harvest_stores_records_and_counts_bad_ones(fake_settings, fake_arxiv, fresh_engine):
    _serve_arxiv_pages(fake_arxiv)
    counts = harvest(fake_settings, fresh_engine, "arXiv", "cs", dt.date(2025, 3, 1))
    assert (counts.inserted, counts.failed) == (3, 2)
    p = _paper(fresh_engine, "2503.00001")
    assert p.categories == "cs.LG stat.ML" and p.msc_classes == "68T05; 62H30"
    assert p.links == [{"kind": "code", "url": "https://github.com/example/drift"}]
    assert _count(fresh_engine, PaperCategory) == 2 + 1 + 2


def test_503_retry_after_is_honoured_and_a_cut_page_retried(fake_settings, fake_arxiv, fresh_engine):
    _serve_arxiv_pages(fake_arxiv)
    fake_arxiv.fail_next("503", retry_after="1", when=lambda p: "resumptionToken" in p)
    fake_arxiv.fail_next("cut", when=lambda p: "resumptionToken" in p)
    counts = harvest(fake_settings, fresh_engine, "arXiv", "cs", dt.date(2025, 3, 1))
    tokens = [p.get("resumptionToken") for _, p in fake_arxiv.requests]
    assert tokens == [None, "tok|1", "tok|1", "tok|1"] and counts.inserted == 3


def test_an_interrupted_harvest_resumes_at_the_next_page(fake_settings, fake_arxiv, fresh_engine):
    _serve_arxiv_pages(fake_arxiv)
    fake_arxiv.fail_next("503", times=10, when=lambda p: "resumptionToken" in p)
    with pytest.raises(SourceError, match="tok%7C1.*HTTP 503"):
        harvest(fake_settings, fresh_engine, "arXiv", "cs", dt.date(2025, 3, 1))
    assert _count(fresh_engine) == 2  # the first page was committed with its token
    fake_arxiv.faults.clear()
    fake_arxiv.requests.clear()
    counts = harvest(fake_settings, fresh_engine, "arXiv", "cs", dt.date(2025, 3, 1))
    assert [p.get("resumptionToken") for _, p in fake_arxiv.requests] == ["tok|1"]
    assert counts.inserted == 1 and _count(fresh_engine) == 3


def test_dublin_core_creators_are_turned_into_forename_first_names():
    from paperboy.ingest.oai import _dc_name

    assert _dc_name("Baillie, Robert") == "Robert Baillie"
    assert _dc_name("Finger, Jr., M.") == "M. Finger Jr."
    assert _dc_name("BESIII Collaboration") == "BESIII Collaboration"
