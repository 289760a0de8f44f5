import datetime as dt

import pytest
from sqlalchemy import func, select

from paperboy.ingest.arxiv_api import (
    ArxivError,
    PoliteClient,
    category_query,
    fetch_ids,
    get_page,
    parse_feed,
    search,
)
from paperboy.ingest.http import SourceError
from paperboy.ingest.normalise import BadRecord
from paperboy.store.models import Author, Paper, PaperAuthor
from tests.ingest.conftest import API_LEGACY, API_XML


def _paper(engine, arxiv_id):
    with engine.connect() as conn:
        return conn.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).one_or_none()


def _count(engine, model=Paper):
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


# --- parsing the recorded formats ---------------------------------------------------


def test_a_2026_id_lookup_feed_gives_every_field(shared_data):
    page = parse_feed((API_XML / "id_1605.08386_s0_m100_199195aa31ad.xml").read_bytes(), "f")
    assert (page.total, page.start, len(page.entries)) == (1, 0, 1)
    rec = page.entries[0]
    assert (rec.arxiv_id, rec.version) == ("1605.08386", 1)
    assert rec.title == "Heat-bath random walks with Markov bases"
    assert rec.authors == ["Caprice Stanley", "Tobias Windisch"]
    assert rec.categories == ["math.CO", "math.ST"]
    assert rec.comment == "20 pages, 3 figures"
    assert rec.submitted_at == dt.datetime(2016, 5, 26, 17, 59, 46, tzinfo=dt.UTC)
    assert rec.abstract.startswith("Graphs on lattice points") and rec.source == "api"


def test_a_legacy_2016_feed_gives_doi_journal_ref_and_a_later_version(shared_data):
    page = parse_feed((API_LEGACY / "id_list=1111.2011v2.xml").read_bytes(), "f")
    rec = page.entries[0]
    assert (rec.arxiv_id, rec.version) == ("1111.2011", 2)
    assert rec.doi == "10.1103/PhysRevB.85.115117"
    assert rec.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert rec.categories[0] == "cond-mat.str-el"  # the primary first
    assert rec.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    assert rec.updated_at > rec.submitted_at


def test_old_style_ids_are_kept_with_their_archive(shared_data):
    page = parse_feed((API_XML / "id_astro-ph_0601001_s0_m100_3150dca9dc76.xml").read_bytes(), "f")
    assert page.entries[0].arxiv_id == "astro-ph/0601001"


def test_the_error_feed_becomes_a_clear_error(shared_data):
    with pytest.raises(ArxivError, match="incorrect id format for abc"):
        parse_feed((API_XML / "id_abc_s0_m100_b79c8dcf6bc3.xml").read_bytes(), "http://x/q")


def test_truncated_xml_names_the_url_and_line(shared_data):
    body = (API_XML / "q_testing_s10_m10_34e56e15aaac.xml").read_bytes()
    with pytest.raises(SourceError, match=r"http://x/q\?start=10: line \d+: malformed XML"):
        parse_feed(body[: len(body) // 2], "http://x/q?start=10")


def test_bad_entries_are_reported_and_the_rest_of_the_page_kept(shared_data):
    body = (API_XML / "q_testing_s10_m10_34e56e15aaac.xml").read_bytes().decode()
    first, rest = body.split("</entry>", 1)
    first = first.replace("http://arxiv.org/abs/2403.16981v2", "http://arxiv.org/abs/not-an-id", 1)
    rest = rest.replace("<published>", "<published>yesterday-ish", 1)  # the second entry
    body = first + "</entry>" + rest
    page = parse_feed(body.encode(), "u")
    bad = [e for e in page.entries if isinstance(e, BadRecord)]
    assert len(page.entries) == 10 and len(bad) == 2
    assert any("not an arXiv id" in str(e) and "u: line" in str(e) for e in bad)
    assert any("bad" in str(e) and "published" in str(e) for e in bad)


def test_hostile_xml_entities_are_not_expanded():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&c;</title></feed>'
    )
    with pytest.raises(SourceError, match="entities"):
        parse_feed(bomb, "u")
    external = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&x;</title></feed>'
    )
    with pytest.raises(SourceError):
        parse_feed(external, "u")


def test_category_queries_bound_the_submission_dates():
    q = category_query("cs.LG", dt.date(2025, 3, 1), dt.date(2025, 3, 7))
    assert q == "cat:cs.LG AND submittedDate:[202503010000 TO 202503072359]"
    assert category_query("cs.LG") == "cat:cs.LG"


# --- against the fake arXiv on loopback ----------------------------------------------


def test_fetch_ids_stores_papers_given_as_ids_versions_and_urls(fake_settings, fresh_engine):
    got = fetch_ids(fake_settings, fresh_engine, ["https://arxiv.org/abs/1605.08386", "2104.12255v1", "arXiv:quant-ph/0201082"])
    assert got == ["1605.08386", "2104.12255", "quant-ph/0201082"]
    assert _count(fresh_engine) == 3
    p = _paper(fresh_engine, "1605.08386")
    assert p.authors_text == "Caprice Stanley, Tobias Windisch" and p.sources == "api"
    assert _count(fresh_engine, PaperAuthor) == 2 + 1 + 1
    # Asking again stores nothing new.
    assert fetch_ids(fake_settings, fresh_engine, ["1605.08386"]) == ["1605.08386"]
    assert _count(fresh_engine) == 3 and _count(fresh_engine, Author) == 4


def test_fetch_ids_refuses_an_id_arxiv_does_not_know_and_stores_nothing(fake_settings, fresh_engine):
    with pytest.raises(BadRecord, match="arXiv does not know 0808.05394"):
        fetch_ids(fake_settings, fresh_engine, ["1605.08386", "0808.05394"])
    assert _count(fresh_engine) == 0
    with pytest.raises(BadRecord, match="not an arXiv id"):
        fetch_ids(fake_settings, fresh_engine, ["abc"])


def test_the_http_400_error_feed_is_a_clear_error(fake_settings):
    with PoliteClient(fake_settings) as client, pytest.raises(ArxivError) as err:
        get_page(client, fake_settings, {"search_query": "", "id_list": "abc", "start": 0, "max_results": 100})
    assert "incorrect id format for abc" in str(err.value) and "id_list=abc" in str(err.value)


def test_a_search_is_paged_and_stored(fake_settings, fresh_engine, fake_arxiv):
    counts = search(fake_settings, fresh_engine, "testing", limit=60, page_size=10)
    starts = [int(p["start"]) for path, p in fake_arxiv.requests]
    assert starts == [0, 10, 20, 30, 40, 50]
    assert counts.failed == 0 and counts.inserted == _count(fresh_engine) > 50


def test_503_with_retry_after_a_time_out_and_a_cut_connection_are_retried(fake_settings, fresh_engine, fake_arxiv):
    fake_arxiv.fail_next("503", retry_after="0", when=lambda p: p.get("start") == "10")
    fake_arxiv.fail_next("slow", seconds=1.5, when=lambda p: p.get("start") == "20")
    fake_arxiv.fail_next("cut", when=lambda p: p.get("start") == "30")
    counts = search(fake_settings, fresh_engine, "testing", limit=40, page_size=10)
    starts = [int(p["start"]) for _, p in fake_arxiv.requests]
    assert starts == [0, 10, 10, 20, 20, 30, 30]
    assert counts.failed == 0 and _count(fresh_engine) == counts.inserted


def test_an_empty_page_mid_result_is_asked_for_again(fake_settings, fresh_engine, fake_arxiv):
    fake_arxiv.fail_next("empty", times=2, when=lambda p: p.get("start") == "20")
    counts = search(fake_settings, fresh_engine, "testing", limit=30, page_size=10)
    starts = [int(p["start"]) for _, p in fake_arxiv.requests]
    assert starts == [0, 10, 20, 20, 20]
    reference = _count(fresh_engine)
    assert counts.inserted == reference


def test_persistent_failures_give_up_with_the_url_and_keep_what_was_stored(fake_settings, fresh_engine, fake_arxiv):
    fake_arxiv.fail_next("status", status=502, times=10, when=lambda p: p.get("start") == "10")
    with pytest.raises(SourceError, match=r"start=10.*HTTP 502.*gave up after 4 attempts"):
        search(fake_settings, fresh_engine, "testing", limit=30, page_size=10)
    first_page = _count(fresh_engine)
    assert first_page > 0
    # Once arXiv is back, the re-run resumes at the failed page.
    fake_arxiv.faults.clear()
    fake_arxiv.requests.clear()
    search(fake_settings, fresh_engine, "testing", limit=30, page_size=10)
    assert [int(p["start"]) for _, p in fake_arxiv.requests] == [10, 20]


def test_endless_empty_pages_end_in_a_clear_error(fake_settings, fresh_engine, fake_arxiv):
    fake_arxiv.fail_next("empty", times=10, when=lambda p: p.get("start") == "10")
    with pytest.raises(SourceError, match="empty page at start=10"):
        search(fake_settings, fresh_engine, "testing", limit=30, page_size=10)


def test_several_categories_make_one_or_query():
    q = category_query(["cs.LG", "cs.CV"], dt.date(2025, 3, 1))
    assert q == "(cat:cs.LG OR cat:cs.CV) AND submittedDate:[202503010000 TO 299912312359]"


def test_ingest_recent_asks_for_the_configured_categories_since_the_date(fake_arxiv, fresh_engine, tmp_path):
    from paperboy.config import load_settings
    from paperboy.ingest.arxiv_api import ingest_recent

    # The recorded page for the query "testing" stands in for this week's papers.
    body = fake_arxiv.routes[("api", "testing", "", "0", "10")].body
    query = "(cat:cs.LG OR cat:cs.CV) AND submittedDate:[202503100000 TO 299912312359]"
    fake_arxiv.add_api({"search_query": query, "start": 0, "max_results": 200}, body.replace(
        b"<opensearch:totalResults>214881<", b"<opensearch:totalResults>10<"))
    settings = load_settings(data_dir=tmp_path, arxiv_api_url=fake_arxiv.api_url, arxiv_delay=0,
                             categories="cs.LG cs.CV")
    counts = ingest_recent(settings, fresh_engine, since=dt.date(2025, 3, 10))
    assert [p["search_query"] for _, p in fake_arxiv.requests] == [query]
    assert counts.inserted == 10 == _count(fresh_engine)
