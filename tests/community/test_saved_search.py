"""Searching saved papers: a member searches all their collections from /collections and
one collection from its page (anyone may search a public one), with the search box's
language meant as an alert means it (every word in the title or abstract); the JSON API
takes the same ``q``. Nobody's search reaches papers they could not list."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from paperboy.index.jobs import refresh_index
from paperboy.store.models import Paper

TITLES = {
    "kernels": "Graph diffusion kernels",
    "scores": "Score matching for graph diffusion",
    "images": "Image diffusion at scale",
    "proteins": "Protein folding",
    "elsewhere": "Graph diffusion networks",  # saved by nobody here
    "bobs": "Graph diffusion on manifolds",  # saved by Bob only
}


def _titles(html: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", "", t).split())
            for t in re.findall(r'<h2 class="card-title"[^>]*>(.*?)</h2>', html, re.S)]


def _library(site):
    papers = {k: site.paper(title=t, abstract=f"About {t.lower()}.", authors=["Ada Lovelace"] if k == "images" else
                            ["Grace Hopper"]) for k, t in TITLES.items()}
    ada_user, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    for key, name in (("kernels", "Reading"), ("scores", "Reading"), ("images", "Vision"), ("proteins", "Vision")):
        assert ada.form("/collections", {"name": name, "arxiv_id": papers[key].arxiv_id}, page="/").status_code == 303
    assert bob.form("/collections", {"name": "Mine", "public": "1", "arxiv_id": papers["bobs"].arxiv_id},
                    page="/").status_code == 303
    refresh_index(site.app.state.settings, site.engine, progress=False, embed=False)
    return papers, ada, bob


def _collection_id(client, name: str) -> int:
    return int(re.search(rf'<a href="/collections/(\d+)">{name}</a>', client.get("/collections").text).group(1))


def test_a_member_searches_all_their_saved_papers(site):
    papers, ada, _ = _library(site)
    page = ada.get("/collections").text
    assert 'action="/collections"' in page and 'name="q"' in page
    r = ada.get("/collections", params={"q": "graph diffusion"})
    assert r.status_code == 200
    assert set(_titles(r.text)) == {TITLES["kernels"], TITLES["scores"]}  # not the unsaved nor Bob's
    assert "2 of your saved papers match “graph diffusion”" in r.text
    assert _titles(ada.get("/collections", params={"q": "diffusion -graph"}).text) == [TITLES["images"]]
    assert _titles(ada.get("/collections", params={"q": 'author:"Ada Lovelace"'}).text) == [TITLES["images"]]
    assert _titles(ada.get("/collections", params={"q": papers["proteins"].arxiv_id}).text) == [TITLES["proteins"]]
    none = ada.get("/collections", params={"q": "transformers"}).text
    assert "0 of your saved papers match" in none and "Nothing here matches" in none
    # The collections are still listed under the results.
    assert "Reading</a>" in none and "Vision</a>" in none


def test_one_collection_is_searched_on_its_page_and_a_public_one_by_anyone(site):
    _, ada, bob = _library(site)
    reading = _collection_id(ada, "Reading")
    r = ada.get(f"/collections/{reading}", params={"q": "score matching"})
    assert _titles(r.text) == [TITLES["scores"]] and "1 of the collection's papers matches" in html.unescape(r.text)
    assert _titles(ada.get(f"/collections/{reading}", params={"q": "image"}).text) == []
    mine = _collection_id(bob, "Mine")
    assert _titles(ada.get(f"/collections/{mine}", params={"q": "manifolds"}).text) == [TITLES["bobs"]]
    # Ada's collections are private: Bob gets the same 404 with or without a query.
    assert bob.get(f"/collections/{reading}", params={"q": "graph"}).status_code == 404
    r = site.client().get("/collections", params={"q": "graph"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_the_query_is_escaped_and_results_are_paged(site):
    _, ada, _ = _library(site)
    hostile = '<script>alert(1)</script> "graph'
    page = ada.get("/collections", params={"q": hostile}).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    for i in range(35):
        site.paper(title=f"Graph diffusion study {i}")
    refresh_index(site.app.state.settings, site.engine, progress=False, embed=False)
    reading = _collection_id(ada, "Reading")
    with site.engine.connect() as conn:
        study = list(conn.scalars(select(Paper.arxiv_id).where(Paper.title.like("Graph diffusion study%"))))
    for aid in study:
        assert ada.form(f"/collections/{reading}/add", {"arxiv_id": aid}, page="/").status_code == 303
    first = ada.get(f"/collections/{reading}", params={"q": "graph diffusion"}).text
    assert len(_titles(first)) == 30 and "Page 1 of 2" in first
    second = ada.get(f"/collections/{reading}", params={"q": "graph diffusion", "p": 2}).text
    assert len(_titles(second)) == 7 and set(_titles(first)).isdisjoint(_titles(second))
    assert f'href="/collections/{reading}?q=graph+diffusion&amp;p=2"' in first


def test_the_api_takes_the_same_query(site):
    from tests.community.test_api_tokens import make_token, script

    _, ada, _ = _library(site)
    reading = _collection_id(ada, "Reading")
    bot = script(site, make_token(ada))
    every = bot.get(f"/api/collections/{reading}").json()
    assert {x["paper"]["title"] for x in every["items"]} == {TITLES["kernels"], TITLES["scores"]}
    r = bot.get(f"/api/collections/{reading}", params={"q": "score matching"})
    assert r.status_code == 200
    body = r.json()
    assert [x["paper"]["title"] for x in body["items"]] == [TITLES["scores"]] and body["collection"]["papers"] == 2
    assert bot.get(f"/api/collections/{reading}", params={"q": "the of"}).status_code == 422


def _bib_titles(text: str) -> list[str]:
    return re.findall(r"title = \{(.*?)\},", text)


def test_saved_papers_and_what_a_search_found_export_as_bibtex(site):
    papers, ada, bob = _library(site)
    reading = _collection_id(ada, "Reading")
    ada.form(f"/collections/{reading}/add", {"arxiv_id": papers["images"].arxiv_id}, page="/")  # in two collections
    r = ada.get("/collections/export.bib")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-bibtex")
    assert 'filename="saved-papers.bib"' in r.headers["content-disposition"]
    every = _bib_titles(r.text)
    assert sorted(every) == sorted(TITLES[k] for k in ("kernels", "scores", "images", "proteins"))  # each once
    assert every[0] == TITLES["kernels"]  # the first saved first
    found = ada.get("/collections/export.bib", params={"q": "graph diffusion"}).text
    assert sorted(_bib_titles(found)) == sorted([TITLES["kernels"], TITLES["scores"]])
    one = ada.get(f"/collections/{reading}/export.bib", params={"q": "score matching"}).text
    assert _bib_titles(one) == [TITLES["scores"]]
    page = ada.get("/collections", params={"q": "graph diffusion"}).text
    assert 'href="/collections/export.bib?q=graph+diffusion" class="export-bibtex">Export these as BibTeX' in page
    assert ada.get("/collections/export.bib", params={"q": "the of"}).status_code == 422
    r = site.client().get("/collections/export.bib", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    assert _bib_titles(bob.get("/collections/export.bib").text) == [TITLES["bobs"]]  # Bob's own only
