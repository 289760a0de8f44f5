"""The HTML pages, in-process, on both backends."""

from __future__ import annotations

import html
import re

import pytest

from paperboy.config import Settings
from paperboy.site import create_app
from tests.web.conftest import MANY_AUTHORS, TUE


def card_ids(html: str) -> list[str]:
    return re.findall(r'<article class="card" id="[^"]+" data-arxiv-id="([^"]+)"', html)


def test_front_page_shows_latest_day_most_voted_first(site, client):
    r = client.get("/")
    assert r.status_code == 200
    ids = card_ids(r.text)
    i = site.ids
    assert ids[:2] == [i["wed_top"], i["wed_mid"]]
    assert set(ids) == {i["wed_top"], i["wed_mid"], i["wed_xss"], i["wed_many"], i["wed_old"]}
    assert i["hidden"] not in r.text
    assert "Wednesday, January 15, 2025" in r.text
    # previous day has papers: Tuesday; there is no next day
    assert 'href="/papers?date=2025-01-14" rel="prev"' in r.text
    assert 'rel="next" data-nav' not in r.text
    assert '<input id="date-input" type="date" name="date" value="2025-01-15"' in r.text


def test_vote_form_contract_on_every_card(site, client):
    html = client.get("/").text
    forms = re.findall(r'<form method="post" action="/papers/([^"]+)/vote" class="vote-form">(.*?)</form>', html, re.S)
    assert [f[0] for f in forms] == card_ids(html)
    for _, inner in forms:
        assert re.search(r'<button type="submit"[^>]*>▲ <span class="vote-count">\d+</span></button>$', inner)
    top = dict(forms)[site.ids["wed_top"]]
    assert '<span class="vote-count">3</span>' in top


def test_day_navigation_and_submitted_paper_label(site, client):
    r = client.get(f"/papers?date={TUE}")
    assert r.status_code == 200
    assert card_ids(r.text) == [site.ids["tue"]]
    assert 'href="/papers?date=2025-01-13" rel="prev"' in r.text
    assert 'href="/papers?date=2025-01-15" rel="next"' in r.text
    # A submission is listed on its arXiv announce day, not on the day it was featured (Tuesday).
    r = client.get("/papers?date=2024-12-02")
    assert card_ids(r.text) == [site.ids["submitted"]]
    assert "submitted by Grace Hopper" in r.text
    assert 'href="/papers?date=2025-01-13" rel="next"' in r.text


def test_week_and_month(site, client):
    week = client.get("/papers?week=2025-W03")
    month = client.get("/papers?month=2025-01")
    assert week.status_code == month.status_code == 200
    w03 = {v for k, v in site.ids.items() if k not in ("hidden", "submitted")}
    assert set(card_ids(week.text)) == w03
    assert set(card_ids(month.text)) == w03
    assert card_ids(week.text)[0] == site.ids["wed_top"]
    # The arrows lead to the nearest week (month) with papers, as the day's skip empty days:
    # week 2 is empty, so "Previous" is the week of the submission (estimated December).
    assert client.get("/papers?week=2025-W02").text.count('class="card"') == 0
    assert "/papers?week=2025-W02" not in week.text
    found = re.search(r'<a class="button" href="/papers\?week=(\d{4}-W\d\d)" rel="prev" data-nav="prev">← ([^<]+)</a>', week.text)
    assert found, week.text[:3000]
    assert card_ids(client.get(f"/papers?week={found.group(1)}").text) == [site.ids["submitted"]]
    assert found.group(2).startswith("Week of Dec") or found.group(2).startswith("Week of Jan")
    assert "/papers?month=2024-12" in month.text and "Previous month" in month.text  # adjacent: said so
    assert card_ids(client.get("/papers?month=2024-12").text) == [site.ids["submitted"]]


@pytest.mark.parametrize("query, message", [
    ("date=2025-13-45", "not a real calendar date"),
    ("date=yesterday", "use YYYY-MM-DD"),
    ("week=abc", "not an ISO week"),
    ("week=2025-W60", "not an ISO week"),
    ("month=2025-13", "not a month"),
    ("date=2025-01-15&week=2025-W03", "only one of"),
    ("p=0", "p=&#39;0&#39; should be 1 or more"),
    ("week=0001-W01", "out of range"),
    ("month=0001-01", "out of range"),
    ("date=9999-12-31", "out of range"),
    ("p=99999999999999999999", "should be 10000 or less"),
    ("p=abc", "p=&#39;abc&#39; should be a whole number"),
])
def test_bad_feed_parameters_get_a_friendly_4xx_page(client, query, message):
    r = client.get(f"/papers?{query}")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert message in r.text
    assert "Back to today" in r.text


def test_a_mistyped_parameter_page_links_to_the_same_page_without_it(client):
    r = client.get("/papers?category=cs.LG&p=abc&sort=newest")
    assert r.status_code == 422
    assert '<a href="/papers?category=cs.LG&amp;sort=newest">Open this page without it</a>' in r.text
    two = client.get("/papers?p=0&category=cs.LG&sort=newest&date=x")
    assert "Open this page without them" not in two.text  # the date is checked by the route, after p
    assert '<a href="/papers?category=cs.LG&amp;sort=newest&amp;date=x">Open this page without it</a>' in two.text
    api = client.get("/api/daily_papers?limit=abc")
    assert api.status_code == 422
    assert api.json()["errors"] == [{"param": "limit", "message": "should be a whole number", "type": "int_parsing"}]
    assert api.json()["detail"] == "Invalid parameter: limit='abc' should be a whole number."


def test_an_arxiv_id_pasted_after_papers_as_arxiv_writes_it_leads_to_the_paper(site, client):
    pid = site.ids["wed_top"]
    for path in (f"/papers/arXiv:{pid}", f"/papers/arxiv:{pid}v2", f"/papers/https://arxiv.org/abs/{pid}"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 301 and r.headers["location"] == f"/papers/{pid}", path
    assert client.get("/papers/not-an-id").status_code == 404
    assert client.get(f"/papers/arXiv:{pid}", headers={"Accept": "application/json"},
                      follow_redirects=False).status_code == 301


def test_feed_mode_submitted_shows_only_featured_papers(site, tmp_path):
    app = create_app(Settings(data_dir=tmp_path, secret_key="x", mail_backend="null", embedder="null",
                              feed_mode="submitted"), site.engine)
    from starlette.testclient import TestClient

    c = TestClient(app)
    r = c.get("/")
    assert card_ids(r.text) == [site.ids["submitted"]]
    assert "submitted by Grace Hopper" in r.text


def test_paper_page_full_record_meta_tags_and_bibtex(site, client):
    pid = site.ids["wed_top"]
    r = client.get(f"/papers/{pid}")
    assert r.status_code == 200
    html = r.text
    assert '<meta name="citation_title" content="Diffusion guidance without classifier gradients">' in html
    assert html.count('<meta name="citation_author"') == 2
    assert '<meta name="citation_date" content="2025/01/15">' in html
    assert f'<meta name="citation_arxiv_id" content="{pid}">' in html
    assert f'<meta name="citation_pdf_url" content="https://arxiv.org/pdf/{pid}">' in html
    assert "@misc{" in html and f"eprint = {{{pid}}}" in html and "archivePrefix = {arXiv}" in html
    assert 'href="https://github.com/acme/guidance"' in html
    assert 'data-copy="bibtex-text"' in html
    assert '/papers/' + pid + '/vote' in html


def test_the_paper_page_lists_arxiv_and_pdf_once_and_keeps_the_papers_own_links(site, client):
    pid = site.ids["wed_top"]
    html = client.get(f"/papers/{pid}").text
    assert html.count(f'href="https://arxiv.org/pdf/{pid}"') == 1  # the "Read:" line's
    meta = re.search(r'<div class="card-meta">(.*?)</div>', html, re.S).group(1)
    assert 'href="https://github.com/acme/guidance"' in meta and "arxiv.org" not in meta


def test_versioned_and_old_style_ids(site, client):
    pid = site.ids["wed_top"]
    r = client.get(f"/papers/{pid}v2", follow_redirects=False)
    assert r.status_code == 301 and r.headers["location"] == f"/papers/{pid}"
    r = client.get("/papers/hep-th/9901001")
    assert r.status_code == 200 and "old-style identifier" in r.text


@pytest.mark.parametrize("path, status, text", [
    ("/papers/2501.99999", 404, "No paper arXiv:2501.99999"),
    ("/papers/not-an-id", 404, "There is no page"),
    ("/papers/1399.00001", 404, "is not an arXiv id"),
    ("/categories/xx.NOPE", 404, "No papers in category"),
    ("/authors/Nobody%20At%20All", 404, "No papers by an author"),
])
def test_unknown_things_are_friendly_404s(client, path, status, text):
    r = client.get(path)
    assert r.status_code == status
    assert text in r.text
    assert r.headers["content-type"].startswith("text/html")


def test_hidden_paper_is_nowhere(site, client):
    hid = site.ids["hidden"]
    assert client.get(f"/papers/{hid}").status_code == 404
    for path in ["/", "/papers?week=2025-W03", "/trending", "/categories/cs.LG", "/authors/Ada%20Lovelace",
                 "/search?q=diffusion", "/search?q=spam"]:
        assert hid not in client.get(path).text, path


def test_untrusted_titles_are_escaped(site, client):
    for path in ["/", f"/papers/{site.ids['wed_xss']}"]:
        html = client.get(path).text
        assert "<script>window.__pwned" not in html
        assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
        assert "<img src=x" not in html and '<img src="x"' not in html
        assert "Mallory &lt;b&gt;Evil&lt;/b&gt;" in html


def test_math_is_rendered_to_mathml_with_fallback(site, client):
    html = client.get(f"/papers/{site.ids['wed_mid']}").text
    assert "<math" in html and "<msup><mi>n</mi><mn>2</mn></msup>" in html
    assert "<mfrac>" in html
    assert '<code class="tex">$\\frac{1}{$</code>' in html
    # meta tags carry plain text, the math as Unicode (Zotero and link previews show no TeX)
    assert '<meta name="citation_title" content="Bounds for O(n²) sorting with α-approximations">' in html


def test_long_author_lists_are_shortened_and_expandable(site, client):
    html = client.get("/").text
    card = html[html.index(f'data-arxiv-id="{site.ids["wed_many"]}"'):]
    card = card[:card.index("</article>")]
    assert '<details class="more-authors"><summary>+35 more</summary>' in card
    assert all(name in card for name in MANY_AUTHORS)
    assert "data-long" in html  # the long abstract gets a toggle from app.js


def test_author_and_category_pages(site, client):
    r = client.get("/authors/Ada%20Lovelace")
    assert r.status_code == 200
    assert len(card_ids(r.text)) == len(site.ids) - 3  # hidden, many-authors and Mallory's are not Ada's
    r = client.get("/categories/q-bio.BM")
    assert card_ids(r.text) == [site.ids["tue"]]
    assert 'href="/feeds/categories/q-bio.BM.rss"' in r.text


def test_a_page_past_the_last_says_so_and_leads_to_the_last_one(site, client):
    ada = client.get("/authors/Ada%20Lovelace?p=50")
    assert ada.status_code == 404 and card_ids(ada.text) == []
    assert "There is no page 50:" in ada.text and "fill 1 page." in ada.text and "No papers here yet" not in ada.text
    assert 'href="/authors/Ada%20Lovelace">Go to the last page (1)' in ada.text
    category = client.get("/categories/q-bio.BM?p=3")
    assert category.status_code == 404 and "There is no page 3: 1 paper fills 1 page." in category.text
    search = client.get("/search?q=diffusion&p=40")
    assert search.status_code == 404 and "There is no page 40:" in search.text and " results fill 1 page." in search.text
    assert "No papers match" not in search.text


def test_a_category_typed_in_another_case_leads_to_the_category(client):
    r = client.get("/categories/Q-BIO.bm?p=1", follow_redirects=False)
    assert r.status_code == 308 and r.headers["location"] == "/categories/q-bio.BM?p=1"
    assert client.get("/categories/xx.nope").status_code == 404


def test_an_arxiv_category_with_no_paper_here_is_a_page_that_can_be_followed_and_left(site, client):
    """A member may follow hep-th before any of its papers come (the Following page links
    here): the page says so, with the follow button, instead of a dead 404."""
    r = client.get("/categories/astro-ph.GA")
    assert r.status_code == 200 and "<h1>astro-ph.GA</h1>" in r.text
    assert "No paper in astro-ph.GA has come to this instance yet." in r.text
    assert client.get("/categories/ASTRO-PH.ga", follow_redirects=False).headers["location"] == "/categories/astro-ph.GA"


def test_trending_page_shows_scores_and_explanation(site, client):
    r = client.get("/trending")
    assert r.status_code == 200
    ids = card_ids(r.text)
    assert ids[0] == site.ids["wed_top"]
    assert site.ids["hidden"] not in ids
    assert "loses half its weight every 48 hours" in r.text
    assert re.search(r'<span class="score" title="Trending score">score \d+\.\d\d</span>', r.text)
    r = client.get("/trending?category=q-bio.BM")
    assert card_ids(r.text) == [site.ids["tue"]]


def test_search_page(site, client):
    r = client.get("/search?q=diffusion")
    assert r.status_code == 200
    ids = card_ids(r.text)
    assert site.ids["wed_top"] in ids and site.ids["hidden"] not in ids
    assert re.search(r"\d+ results? for “diffusion”", r.text)
    assert "<mark>" in r.text
    r = client.get("/search?q=diffusion&category=hep-th")
    assert card_ids(r.text) == [site.ids["wed_old"]]


def test_a_search_in_a_category_this_instance_lacks_says_so(site, client):
    """Not a page that looks like "no paper matched": the category named is none here
    (in the query or the menu's field), in whatever case; a known one says nothing."""
    for url in ["/search?q=diffusion+cat%3Acs.FAKE", "/search?q=diffusion&category=cs.FAKE"]:
        r = client.get(url)
        assert r.status_code == 200 and card_ids(r.text) == []
        assert "No paper here is in the category &#39;cs.FAKE&#39;" in r.text, url
    r = client.get("/search?q=diffusion+cat%3AHEP-TH")
    assert card_ids(r.text) == [site.ids["wed_old"]] and "No paper here is in the category" not in r.text
    r = client.get("/search?q=nothingmatchesthisword+cat%3Ahep-th")
    assert card_ids(r.text) == [] and "No paper here is in the category" not in r.text


def test_search_marks_matched_words_in_titles_but_leaves_math_and_markup_alone(site, client):
    r = client.get("/search?q=diffusion")
    titles = dict(re.findall(r'data-arxiv-id="([^"]+)".*?<h2 class="card-title"><a [^>]*>(.*?)</a></h2>', r.text, re.S))
    assert titles[site.ids["wed_top"]] == "<mark>Diffusion</mark> guidance without classifier gradients"
    r = client.get("/search?q=attack+titles")  # every word must match now: the hostile title has both
    titles = dict(re.findall(r'data-arxiv-id="([^"]+)".*?<h2 class="card-title"><a [^>]*>(.*?)</a></h2>', r.text, re.S))
    # A hostile title stays text, with only the <mark> added.
    assert "<script>" not in titles[site.ids["wed_xss"]] and "&lt;script&gt;" in titles[site.ids["wed_xss"]]
    assert "<mark>titles</mark>" in titles[site.ids["wed_xss"]]
    # A title with math keeps its MathML rather than highlighting.
    r = client.get("/search?q=sorting")
    titles = dict(re.findall(r'data-arxiv-id="([^"]+)".*?<h2 class="card-title"><a [^>]*>(.*?)</a></h2>', r.text, re.S))
    assert "<math" in titles[site.ids["wed_mid"]] and "<mark>" not in titles[site.ids["wed_mid"]]
    # and its snippet renders the abstract's math as the card would, a broken formula as text
    snippets = dict(re.findall(r'data-arxiv-id="([^"]+)".*?<p class="card-snippet">(.*?)</p>', r.text, re.S))
    snippet = snippets[site.ids["wed_mid"]]
    assert snippet.startswith("We prove that <span class=\"math\"") and "<math" in snippet
    assert "$\\sum" not in snippet and "$\\frac{1}{$" in html.unescape(snippet)


def test_the_search_page_has_one_search_box_holding_the_query_and_the_header_box_elsewhere_is_empty(client):
    boxes = re.findall(r'<input[^>]*name="q"[^>]*>', client.get("/search?q=diffusion").text)
    assert len(boxes) == 1 and 'value="diffusion"' in boxes[0]
    header = re.findall(r'<input id="header-q"[^>]*>', client.get("/").text)
    assert len(header) == 1 and "value=" not in header[0]


def test_search_for_an_arxiv_id_redirects(site, client):
    pid = site.ids["tue"]
    r = client.get(f"/search?q={pid}v1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}"
    r = client.get("/search?q=arXiv:hep-th/9901001", follow_redirects=False)
    assert r.headers["location"] == "/papers/hep-th/9901001"
    # The paper's arXiv DOI, and its address on the sites researchers share papers from.
    for pasted in (f"https://doi.org/10.48550/arXiv.{pid}", f"https://huggingface.co/papers/{pid}",
                   f"https://www.alphaxiv.org/abs/{pid}v1", f"https://arxiv.org/abs/{pid}?context=cs.LG"):
        r = client.get("/search", params={"q": pasted}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/papers/{pid}", pasted


@pytest.mark.parametrize("query, message", [
    ("q=x&from=2025-02-30", "from"), ("q=x&to=soon", "to"), ("q=x&sort=random", "Unknown sort 'random'"),
    ("q=x&p=-1", "Pages run from 1"), ("q=x&p=two", "not a page number"),
    ("q=x&category=" + "c" * 41, "not an arXiv category"),
])
def test_bad_search_parameters_give_a_message_on_the_results_page(client, query, message):
    r = client.get(f"/search?{query}")
    assert r.status_code == 200 and 'class="result-count"' in r.text
    said = notices(r.text)
    assert any(message in n for n in said), said


def notices(page: str) -> list[str]:
    return [html.unescape(n) for n in re.findall(r'<p class="notice">(.*?)</p>', page)]


def test_a_pasted_abstract_in_the_header_search_finds_papers_like_it(site, client):
    abstract = ("We study classifier-free guidance for diffusion models: guidance trades the diversity of "
                "samples for their fidelity, and we show when it helps image generation and when it hurts. "
                "Unlike the usual recipe, our sampler needs no gradients from a separately trained classifier, "
                "and it scales to large text-to-image diffusion models at no extra cost in sampling time. "
                "We analyse the guidance scale, the schedule of the noise and the number of sampling steps, "
                "and release the code and the trained models for others to build on.")
    assert len(abstract) > 500  # more than the page used to take before answering 422
    r = client.get("/search", params={"q": abstract})
    assert r.status_code == 200
    assert card_ids(r.text)[0] == site.ids["wed_top"]
    assert any(n.startswith("Papers like this text") for n in notices(r.text))
    # Headings and the title name the text briefly instead of repeating all of it.
    count = re.search(r'<p class="result-count" role="status">(.*?)</p>', r.text, re.S).group(1)
    assert "We study classifier-free guidance" in count and abstract not in count
    assert abstract not in r.text.split("<title>")[1].split("</title>")[0]


def test_text_over_ten_thousand_characters_is_cut_with_a_message(client):
    r = client.get("/search", params={"q": "diffusion guidance sampling fidelity " * 400})
    assert r.status_code == 200
    assert "The text was cut to its first 10,000 characters." in notices(r.text)


def test_only_common_words_get_a_helpful_message(client):
    r = client.get("/search?q=the+of+for")
    assert r.status_code == 200 and card_ids(r.text) == []
    assert any("quotes" in n and n.startswith("“the”, “of”, “for”") for n in notices(r.text))


def test_a_query_with_nothing_to_search_for_says_why_and_offers_no_alert(site, client):
    from paperboy.community import accounts
    from paperboy.store.db import session_scope

    with session_scope(site.engine) as db:
        accounts.create_user(db, "nothing@example.org", "correct horse battery staple", "N", verified=True)
    page = client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/signin", data={"csrf_token": token, "email": "nothing@example.org",
                                 "password": "correct horse battery staple"})
    for query, said in (("?", "“?”: no letters or digits to search for."),
                        ("pneumonoultramicroscopicsilicovolcanoconiosis", "word over 40 characters long"),
                        ("the of", "words nearly every paper uses")):
        r = client.get("/search", params={"q": query})
        assert r.status_code == 200 and card_ids(r.text) == []
        assert any(said in n for n in notices(r.text)), notices(r.text)
        assert "0 results for" in r.text and "Alert me" not in r.text and "No papers match" not in r.text
    assert "Alert me" in client.get("/search", params={"q": "zzzqqq"}).text  # a real word: the alert may wait for it


def test_an_old_style_id_that_is_not_here_is_reported_once(client):
    for query in ("hep-th/9901002", "arXiv:hep-th/9901002v2", "2501.99999"):
        r = client.get("/search", params={"q": query})
        said = [n for n in notices(r.text) if query.split(":")[-1].removesuffix("v2") in n]
        assert len(said) == 1, said


def test_search_page_without_query(client):
    r = client.get("/search")
    assert r.status_code == 200 and 'name="q"' in r.text and "result" not in r.text.split("</form>")[-1]


def test_assets_are_served_by_the_app(client):
    html = client.get("/").text
    assert "//cdn" not in html and "https://fonts" not in html
    for path in re.findall(r'(?:href|src)="(/static/[^"?]+)', html):
        assert client.get(path).status_code == 200, path
    assert 'class="skip-link" href="#main"' in html
    css = client.get("/static/style.css").text
    assert "prefers-color-scheme: dark" in css and ":focus-visible" in css


def test_an_empty_instance_still_answers(fresh_engine, tmp_path):
    import feedparser
    from starlette.testclient import TestClient

    from tests.web.conftest import settings_for

    c = TestClient(create_app(settings_for(tmp_path), fresh_engine))
    r = c.get("/")
    assert r.status_code == 200 and "No papers on this day" in r.text
    assert c.get("/trending").status_code == 200
    assert c.get("/api/daily_papers").json() == []
    assert c.get("/api/daily_papers?sort=trending").json() == []
    assert not feedparser.parse(c.get("/feeds/daily.atom").content).bozo
    assert c.get("/search?q=anything").status_code == 200


@pytest.mark.parametrize("path", ["/", "/papers?date=2025-01-14", "/api/daily_papers", "/feeds/daily.rss", "/static/style.css"])
def test_head_is_answered_like_get(client, path):
    head, get = client.head(path), client.get(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content)


def test_links_are_labelled_by_what_they_point_at():
    from paperboy.web.cards import link_label

    assert link_label("https://github.com/acme/guidance", "code") == "Code"
    assert link_label("https://huggingface.co/acme/guidance-7b", "code") == "Model"
    assert link_label("https://huggingface.co/datasets/acme/prompts", "code") == "Dataset"
    assert link_label("https://huggingface.co/spaces/acme/demo", "code") == "Space"
    assert link_label("https://acme.github.io/guidance/", "project") == "Project page"


def category_menu(page: str) -> list[str]:
    menu = re.search(r'<datalist id="category-list">(.*?)</datalist>', page, re.S).group(1)
    return re.findall(r'<option value="([^"]+)">', menu)


def test_search_category_menu_lists_the_commonest_categories_and_follows_new_papers(databases, tmp_path):
    from paperboy.store.db import session_scope
    from tests.support.factories import make_paper
    from tests.web.conftest import seeded_site

    site = seeded_site(databases, tmp_path)
    with site.client() as client:
        menu = category_menu(client.get("/search?q=diffusion").text)
        assert menu[0] == "cs.LG" and {"hep-th", "q-bio.BM"} <= set(menu)
        assert "astro-ph.GA" not in menu
        # Kept between requests, but a new paper brings its category at once.
        with session_scope(site.engine) as db:
            make_paper(db, title="Galaxies and diffusion", categories=["astro-ph.GA"], announced_on=TUE)
        assert "astro-ph.GA" in category_menu(client.get("/search?q=galaxies").text)


def test_paging_links_leave_out_a_one_time_notice_but_keep_the_rest():
    """After "You now follow cs.CL", page 2 must not say it again."""
    from starlette.requests import Request

    from paperboy.pages.views import make_pager

    query = b"notice=followed&who=cs.CL&kind=category&in=3&done=welcome&sort=new&q=a+b"
    request = Request({"type": "http", "method": "GET", "path": "/categories/cs.CL", "query_string": query,
                       "headers": []})
    pager = make_pager(request, 2, 160, 50)
    assert pager.next_url == "/categories/cs.CL?sort=new&q=a+b&p=3"
    assert pager.prev_url == "/categories/cs.CL?sort=new&q=a+b"
    assert pager.last_url == "/categories/cs.CL?sort=new&q=a+b&p=4"


def test_a_database_that_is_down_is_a_503_with_retry_after_not_a_500(tmp_path, caplog):
    """The database's file gone (or a PostgreSQL server stopped): every page and API call
    answered 500 "something went wrong" with two tracebacks each in the terminal."""
    import os

    from starlette.testclient import TestClient

    from paperboy.config import Settings
    from paperboy.site import create_app
    from paperboy.store.db import make_engine
    from paperboy.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'pb.db'}")
    upgrade(engine)
    app = create_app(Settings(data_dir=tmp_path, secret_key="t", embedder="null", mail_backend="null"), engine)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/").status_code == 200
    os.rename(tmp_path / "pb.db", tmp_path / "moved.db")
    (tmp_path / "pb.db").mkdir()  # nothing SQLite can open
    engine.dispose()
    app.state.page_cache.clear()
    with caplog.at_level("WARNING"):
        page, api = client.get("/papers/2501.00001"), client.get("/api/daily_papers")
    assert page.status_code == api.status_code == 503
    assert page.headers["retry-after"] == api.headers["retry-after"] == "10"
    assert "The database is not answering just now" in page.text and "frame-ancestors" in page.headers["content-security-policy"]
    assert api.json() == {"error": "Service Unavailable", "status": 503,
                          "detail": "The database is not answering just now; please try again in a moment."}
    assert "Traceback" not in caplog.text and "database unavailable on /api/daily_papers" in caplog.text
