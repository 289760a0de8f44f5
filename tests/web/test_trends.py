"""/trends, /api/trends and its CSV on the web tests' site: answers, 422s, hostile topics."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from paperboy.rank import rising

HOSTILE = '<script>window.__pwned=1</script>"&\'</title><svg onload=alert(1)>'


def test_api_counts_per_month_with_totals(client):
    r = client.get("/api/trends", params={"q": ["diffusion", "cat:cs.LG"], "from": "2024-12", "to": "2025-01"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [p["label"] for p in body["periods"]] == ["2024-12", "2025-01"]
    assert [p["total"] for p in body["periods"]] == [1, 8]  # the hidden paper is not counted
    diffusion, cs_lg = body["topics"]
    assert diffusion["counts"] == [1, 4] and diffusion["shares"] == [1.0, 0.5] and diffusion["votes"] == [0, 3]
    assert cs_lg["counts"] == [1, 7]  # all but the hep-th paper
    assert diffusion["search"] == "/search?q=diffusion"


def test_weeks_and_the_default_range(client):
    body = client.get("/api/trends", params={"q": "diffusion", "unit": "week"}).json()
    # Up to 26 weeks, from the first paper's week (2024-12-02) to the last one's.
    assert body["unit"] == "week" and body["periods"][0]["label"] == "2024-W49" and len(body["periods"]) == 7
    assert body["periods"][-1]["label"] == "2025-W03" and body["periods"][-1]["start"] == "2025-01-13"
    assert sum(body["topics"][0]["counts"]) == 5


def test_csv_has_a_row_per_period_and_topic_and_defuses_formulas(client):
    r = client.get("/api/trends.csv", params={"q": ["diffusion", "-diffusion", "=zzqq"], "from": "2025-01-01",
                                               "to": "2025-01-31"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["topic"], row["count"], row["total"]) for row in rows] == [
        ("diffusion", "4", "8"), ("'-diffusion", "4", "8"), ("'=zzqq", "0", "8")]


@pytest.mark.parametrize("params, message", [
    ({}, "at least one topic"),
    ({"q": ["a1", "b2", "c3", "d4", "e5", "f6"]}, "At most 5 topics"),
    ({"q": "diffusion", "from": "2025-13"}, "not a date"),
    ({"q": "diffusion", "from": "2025-02-30"}, "not a calendar date"),
    ({"q": "diffusion", "from": "2025-02", "to": "2024-01"}, "after it ends"),
    ({"q": "diffusion", "unit": "day"}, ""),
    ({"q": "diffusion", "value": "likes"}, ""),
    ({"q": "   "}, "empty"),
    ({"q": "the of"}, "nearly every paper"),
    ({"q": "(((("}, "nothing to count: “((((”: no letters or digits"),
    ({"q": "2501.00001"}, "identifier"),
    ({"q": "diffusion", "unit": "week", "from": "1990-01"}, "At most 600"),
])
def test_bad_input_is_a_clear_422(client, params, message):
    for path in ("/api/trends", "/api/trends.csv"):
        r = client.get(path, params=params)
        assert r.status_code == 422, (path, r.text)
        assert message in r.json()["detail"]


def test_the_page_plots_lists_and_tables(client):
    r = client.get("/trends", params={"q": ["diffusion", "", "cat:cs.LG", ""], "value": "count", "from": "2024-12"})
    assert r.status_code == 200
    page = r.text
    assert page.count('<svg class="chart"') == 1 and 'role="img"' in page and "<desc id=" in page
    assert "<table" in page and "<th scope=\"row\">2025-01</th>" in page
    assert 'href="/api/trends.csv?q=diffusion&amp;q=cat%3Acs.LG&amp;unit=month&amp;value=count&amp;from=2024-12"' in page
    assert 'href="/search?q=cat%3Acs.LG"' in page
    assert 'class="nav-trends" aria-current="page">Trends' in page


def test_a_topic_given_twice_is_plotted_once(client):
    page = client.get("/trends", params={"q": ["diffusion", "Diffusion ", "cat:cs.LG", "diffusion"]}).text
    assert 'href="/api/trends.csv?q=diffusion&amp;q=cat%3Acs.LG&amp;' in page


def test_the_page_without_topics_is_the_form_and_blank_topics_are_a_422(client):
    r = client.get("/trends")
    assert r.status_code == 200 and 'name="q"' in r.text and "Rising now" in r.text
    r = client.get("/trends", params={"q": ["", " "]})
    assert r.status_code == 422 and "at least one topic" in r.text


def test_hostile_topics_are_escaped_in_svg_html_and_json(client):
    r = client.get("/trends", params={"q": [HOSTILE, "diffusion"]})
    assert r.status_code == 200
    assert "<script>window.__pwned" not in r.text and "<svg onload" not in r.text and "</title><svg" not in r.text
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in r.text
    api = client.get("/api/trends", params={"q": HOSTILE})
    assert api.json()["topics"][0]["topic"] == HOSTILE.replace("  ", " ")
    r = client.get("/trends", params={"q": "x" * 201})
    assert r.status_code == 422 and "at most 200" in r.text


def test_search_author_and_category_pages_show_a_sparkline_linking_to_trends(client, site):
    page = client.get("/search", params={"q": "diffusion"}).text
    assert 'class="sparkline"' in page and 'href="/trends?q=diffusion&amp;unit=month"' in page
    assert "Share of papers matching diffusion per month, 2024-12 to 2025-01" in page
    page = client.get("/search", params={"q": "diffusion", "category": "cs.CV"}).text
    assert 'href="/trends?q=diffusion+cat%3Acs.CV&amp;unit=month"' in page
    assert 'class="sparkline"' not in client.get("/search", params={"q": "zzqqxx"}).text
    page = client.get("/categories/cs.LG").text
    assert 'class="sparkline"' in page and 'href="/trends?q=cat%3Acs.LG&amp;unit=month"' in page
    page = client.get("/authors/Mallory <b>Evil</b>").text
    assert 'class="sparkline"' in page and "<b>Evil" not in page
    assert 'href="/trends?q=author%3A%22Mallory+%3Cb%3EEvil%3C%2Fb%3E%22&amp;unit=month"' in page


def test_rising_now_is_served_from_the_stored_list_with_links_and_plots(client, site):
    result = rising.RisingResult("month", dt.date(2025, 1, 1), dt.date(2025, 1, 15), dt.date(2024, 7, 5), 8, 1, [
        rising.Rising("diffusion", 5, 0, 1.2, 20.0), rising.Rising(HOSTILE, 5, 0, 1.0, 15.0)])
    rising.store(site.engine, result)
    try:
        page = client.get("/trends").text
        assert page.index('href="/search?q=%22diffusion%22"') < page.index("Rising now") + 2000
        assert 'href="/trends?q=%22diffusion%22&amp;unit=month"' in page
        assert page.count('class="sparkline"') == 2
        assert "5 papers (62%, was 0%)" in page
        assert "<script>window.__pwned" not in page and "<svg onload" not in page
        assert "rising-list" not in client.get("/trends", params={"unit": "week"}).text
    finally:
        rising.store(site.engine, rising.RisingResult("month", dt.date(2025, 1, 1), dt.date(2025, 1, 15),
                                                      dt.date(2024, 7, 5), 8, 1, []))


def test_rising_now_as_json(client, site):
    assert client.get("/api/trends/rising").json() == {
        "unit": "month", "recent_from": None, "recent_to": None, "base_from": None, "computed_at": None, "terms": []}
    rising.store(site.engine, rising.RisingResult("week", dt.date(2025, 1, 9), dt.date(2025, 1, 15), dt.date(2024, 7, 13),
                                                  8, 1, [rising.Rising("graph diffusion", 5, 0, 1.2, 20.0)]))
    try:
        body = client.get("/api/trends/rising", params={"unit": "week"}).json()
        assert body["recent_from"] == "2025-01-09" and body["base_from"] == "2024-07-13"
        assert body["terms"] == [{"term": "graph diffusion", "recent_count": 5, "recent_total": 8, "base_count": 0,
                                  "base_total": 1, "llr": 20.0, "score": 1.2,
                                  "search": "/search?q=%22graph+diffusion%22",
                                  "trend": "/trends?q=%22graph+diffusion%22&unit=week"}]
        assert client.get("/api/trends/rising", params={"unit": "year"}).status_code == 422
    finally:
        rising.store(site.engine, rising.RisingResult("week", dt.date(2025, 1, 9), dt.date(2025, 1, 15),
                                                      dt.date(2024, 7, 13), 8, 1, []))
