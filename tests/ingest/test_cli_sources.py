"""`paperboy ingest arxiv` and `paperboy ingest oai` against the fake arXiv on loopback."""

import json

import pytest

from tests.ingest.oai_fixtures import PAGE_1, PAGE_2, arxiv_page
from tests.support.cli import cli_runner


@pytest.fixture
def cli(fresh_url, fake_arxiv, monkeypatch):
    yield from cli_runner(monkeypatch, {
        "PAPERBOY_DATABASE_URL": fresh_url, "PAPERBOY_ARXIV_API_URL": fake_arxiv.api_url,
        "PAPERBOY_ARXIV_OAI_URL": fake_arxiv.oai_url, "PAPERBOY_ARXIV_DELAY": "0",
        "PAPERBOY_HTTP_RETRIES": "1", "PAPERBOY_HTTP_TIMEOUT": "2",
    })


def test_ingest_arxiv_ids_stores_them_and_refuses_unknown_or_malformed_ids(cli):
    ok = cli("ingest", "arxiv", "--ids", "1605.08386,https://arxiv.org/abs/2104.12255v1")
    assert ok.exit_code == 0, ok.output
    assert "2 paper(s) stored: 1605.08386, 2104.12255" in ok.text
    unknown = cli("ingest", "arxiv", "--ids", "0808.05394")
    assert unknown.exit_code == 2 and "arXiv does not know 0808.05394" in unknown.text
    bad = cli("ingest", "arxiv", "--ids", "abc")
    assert bad.exit_code == 2 and "not an arXiv id" in bad.text
    assert json.loads(cli("stats", "--json").output)["sources"] == {"api": 2}


def test_ingest_arxiv_reports_an_unreachable_arxiv_clearly(cli, fake_arxiv):
    fake_arxiv.fail_next("503", times=5)
    res = cli("ingest", "arxiv", "--ids", "1605.08386")
    assert res.exit_code == 2 and "HTTP 503" in res.text and "gave up after 2 attempts" in res.text


def test_ingest_arxiv_needs_a_category_or_ids_and_valid_dates(cli):
    assert "give --category or --ids" in cli("ingest", "arxiv").text
    res = cli("ingest", "arxiv", "--category", "cs.LG", "--from", "2025-13-01")
    assert res.exit_code == 2 and "--from" in res.text and "not a date" in res.text


def test_ingest_oai_harvests_reports_bad_records_and_knows_when_it_is_done(cli, fake_arxiv):
    fake_arxiv.add_oai({"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "cs", "from": "2025-03-01"},
                       arxiv_page(PAGE_1, "tok|1", 0, 6))
    fake_arxiv.add_oai({"verb": "ListRecords", "resumptionToken": "tok|1"}, arxiv_page(PAGE_2, None, 3, 6))
    first = cli("ingest", "oai", "--set", "cs", "--from", "2025-03-01")
    assert first.exit_code == 0, first.output
    assert "3 new, 0 updated, 0 unchanged, 2 failed" in first.text
    assert "oai:arXiv.org:2503.00004" in first.text  # the bad record is named
    again = cli("ingest", "oai", "--set", "cs", "--from", "2025-03-01")
    assert "already harvested" in again.text
    bad_prefix = cli("ingest", "oai", "--prefix", "marc")
    assert bad_prefix.exit_code == 2 and "--prefix must be one of arXiv, oai_dc" in bad_prefix.text
