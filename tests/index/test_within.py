"""Searching a member's own papers (``SearchService.within``): the search box's query
language over a given set of papers, meant as an alert means it. Every free word is in a
paper's title or abstract, or the paper is close to them in meaning; phrases, exclusions
and filters narrow; papers outside the set never come back, however well they match.

Indexed with the hash embedder (tests/offline): its "meaning" is shared words cut to
their first six letters, so a cosine can be computed here and checked against the floor.
"""

from __future__ import annotations

import datetime as dt

import pytest

from paperboy.config import Settings
from paperboy.index.embedder import HashEmbedder, paper_text
from paperboy.index.jobs import refresh_index
from paperboy.index.service import SearchService
from paperboy.store.db import session_scope
from tests.support.factories import make_paper

# key: (title, abstract, authors, categories, in the member's library)
PAPERS = {
    "kernels": ("Graph diffusion kernels", "Heat kernels on graphs for diffusion.", ["Ada Lovelace"], ["cs.LG"], True),
    "scores": ("Score matching for diffusion", "Diffusion models trained on graph data by score matching.",
               ["Grace Hopper"], ["cs.LG", "stat.ML"], True),
    "images": ("Image diffusion at scale", "Latent diffusion for images.", ["Ada Lovelace"], ["cs.CV"], True),
    "near": ("Graph diffusion", "Diffusion on a graph.", ["Emmy Noether"], ["math.PR"], True),
    "proteins": ("Protein folding", "Structure prediction for proteins.", ["Alan Turing"], ["q-bio.BM"], True),
    "outside": ("Graph diffusion networks", "Message passing as diffusion on a graph.", ["Ada Lovelace"], ["cs.LG"],
                False),
}
DAY = dt.date(2025, 1, 15)


def _cosine(query: str, key: str) -> float:
    title, abstract, *_ = PAPERS[key]
    emb = HashEmbedder()
    return float(emb.embed([paper_text(title, abstract)])[0] @ emb.embed_query(query))


@pytest.fixture
def corpus(fresh_engine, tmp_path, request):
    embedder = getattr(request, "param", "null")
    settings = Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder=embedder)
    ids, arxiv = {}, {}
    with session_scope(fresh_engine) as db:
        for key, (title, abstract, authors, cats, _mine) in PAPERS.items():
            p = make_paper(db, title=title, abstract=abstract, authors=authors, categories=cats, announced_on=DAY)
            ids[key], arxiv[key] = p.id, p.arxiv_id
    refresh_index(settings, fresh_engine, progress=False, embed=embedder != "null")
    service = SearchService(settings, fresh_engine)
    library = [ids[k] for k, row in PAPERS.items() if row[4]]  # in the order a page shows them
    keys = {i: k for k, i in ids.items()}

    def within(query: str) -> list[str]:
        found = service.within(query, library)
        assert found.error is None, found.messages
        return [keys[i] for i in found.ids]

    return service, within, library, arxiv


def test_every_word_must_be_in_the_paper_and_nothing_outside_the_set_comes_back(corpus):
    _, within, _, _ = corpus
    assert set(within("graph diffusion")) == {"kernels", "scores", "near"}  # "outside" matches too: not theirs
    assert within("graph diffusion kernels") == ["kernels"]
    assert set(within("diffusion")) == {"kernels", "scores", "images", "near"}
    assert within("the diffusion of proteins") == []  # every word, common ones aside
    assert within("kernels graph diffusion")[0] == "kernels"  # word order does not matter


def test_phrases_exclusions_and_filters_narrow(corpus):
    _, within, _, _ = corpus
    assert within('"score matching"') == ["scores"]
    assert set(within("diffusion -images")) == {"kernels", "scores", "near"}
    assert set(within('diffusion author:"Ada Lovelace"')) == {"kernels", "images"}
    assert within("diffusion cat:stat.ML") == ["scores"]
    assert within("diffusion year:2019") == []


def test_filters_alone_keep_the_order_given(corpus):
    _, within, _, _ = corpus
    assert within('author:"Ada Lovelace"') == ["kernels", "images"]
    assert within("cat:cs.LG") == ["kernels", "scores"]


def test_an_arxiv_id_finds_that_paper_only_among_the_set(corpus):
    service, within, library, arxiv = corpus
    assert within(arxiv["proteins"]) == ["proteins"]
    found = service.within(f"https://arxiv.org/abs/{arxiv['outside']}", library)
    assert found.ids == [] and "not among these papers" in found.messages[-1]


def test_an_empty_query_says_so_and_an_empty_set_finds_nothing(corpus):
    service, _, library, _ = corpus
    for empty in ("", "   ", "the of and"):
        found = service.within(empty, library)
        assert found.ids == [] and found.error == "Empty query."
    assert service.within("diffusion", []).ids == []


@pytest.mark.parametrize("corpus", ["hash"], indirect=True)
def test_a_paper_close_in_meaning_is_found_without_every_word(corpus):
    service, within, library, _ = corpus
    query = "graph diffusion heat"
    # "near" lacks "heat" and is above the floor by meaning; "scores" lacks it too, below.
    assert _cosine(query, "near") >= 0.5 > max(_cosine(query, k) for k in ("scores", "images", "proteins"))
    found = service.within(query, library)
    assert found.error is None
    keys = {i: k for i, k in zip(library, (k for k, row in PAPERS.items() if row[4]), strict=True)}
    assert [keys[i] for i in found.ids] == ["kernels", "near"]  # every word first, then by meaning
    assert found.related == 1
    assert within("graph diffusion heat") == ["kernels", "near"]
