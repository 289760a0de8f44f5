"""The latency work keeps behaviour: query-vector cache, keyword search run while the query
is embedded, the page-sized keyword search, hidden ids without a tantivy query, snippets
found without a per-query regex, and the direct (fp32 / bf16) query embedding."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from paperboy.index import service as service_module
from paperboy.index import snippets
from paperboy.index.embedder import HashEmbedder
from paperboy.index.jobs import refresh_index
from paperboy.index.query import parse_query
from paperboy.index.service import SearchService
from tests.index.conftest import ids, set_paper


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting queries and (optionally) slow like a real model."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.calls: list[str] = []
        self.threads: set[str] = set()

    def embed_query(self, text: str) -> np.ndarray:
        self.calls.append(text)
        self.threads.add(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        return super().embed_query(text)


def summary(res) -> tuple:
    return (res.mode, res.total, [(h.arxiv_id, round(h.score, 6), h.snippet, h.title_html) for h in res.hits])


def test_query_vector_cache_embeds_a_query_once(corpus, settings, monkeypatch):
    emb = CountingEmbedder()
    svc = SearchService(settings, corpus, embedder=emb)
    first = svc.search("graph networks")
    assert first.mode == "hybrid" and first.hits
    # the same ranking text again, another page, a filter, another sort: no new embedding
    assert summary(svc.search("graph networks")) == summary(first)
    svc.search("graph networks", limit=2, offset=2)
    svc.search("graph networks cat:cs.LG")
    svc.search("graph networks", category="cs.LG", mode="semantic")
    assert emb.calls == ["graph networks"]
    v1, v2 = svc._embed_query("graph networks"), svc._embed_query("graph networks")
    assert v1 is v2 and np.array_equal(v1, HashEmbedder().embed_query("graph networks"))
    assert not v1.flags.writeable  # shared between requests: nobody may change it
    # least recently used first out
    monkeypatch.setattr(service_module, "QUERY_CACHE", 2)
    for text in ("a", "b", "graph networks", "c"):
        svc._embed_query(text)
    assert list(svc._qcache) == [(svc.model, "graph networks"), (svc.model, "c")]
    assert emb.calls == ["graph networks", "a", "b", "graph networks", "c"]  # it had been pushed out
    svc.clear_query_cache()
    svc.search("graph networks")
    assert emb.calls.count("graph networks") == 3


def test_keyword_search_while_embedding_gives_the_sequential_results(corpus, settings):
    emb = CountingEmbedder(delay=0.02)
    svc = SearchService(settings, corpus, embedder=emb)
    queries = ["graph networks", "message passing molecules", "vision transformers", "robot",
               '"neural networks" -survey', "diffusion cat:cs.CV", "models author:lecun"]
    concurrent = {}
    for q in queries:  # nothing cached: tantivy runs in the pool while the query is embedded
        concurrent[q] = summary(svc.search(q))
    assert svc._pool is not None and len(emb.calls) == len(queries)
    for q in queries:  # cached vectors: the keyword search overlaps the vector search only
        assert summary(svc.search(q)) == concurrent[q], q
    assert len(emb.calls) == len(queries)
    # a service that runs everything in the calling thread never uses the pool
    seq = SearchService(settings, corpus, embedder=CountingEmbedder())
    seq.concurrent = False
    for q in queries:
        assert summary(seq.search(q)) == concurrent[q], q
    assert seq._pool is None


def test_many_threads_share_one_service(corpus, settings):
    svc = SearchService(settings, corpus, embedder=CountingEmbedder(delay=0.005))
    queries = ["graph networks", "protein structure", "scaling laws", "grasping clutter", "energy models"] * 4
    expected = {q: summary(SearchService(settings, corpus, embedder=HashEmbedder()).search(q)) for q in set(queries)}
    results: list[tuple[str, tuple]] = []
    errors: list[BaseException] = []

    def work(chunk):
        try:
            for q in chunk:
                results.append((q, summary(svc.search(q))))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(queries[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == len(queries)
    for q, got in results:
        assert got == expected[q], q


def test_keyword_mode_pages_are_slices_of_the_ranking(service):
    full = service.search("networks", mode="keyword", limit=10)
    assert full.mode == "keyword" and len(full.hits) >= 4
    for offset in range(len(full.hits)):
        page = service.search("networks", mode="keyword", limit=2, offset=offset)
        assert summary(page)[2] == summary(full)[2][offset:offset + 2]
        assert page.total == full.total


def test_hidden_semantic_candidates_are_dropped(service, corpus):
    before = ids(service.search("molecular graphs chemistry", mode="semantic"))
    assert "2401.00001" in before
    set_paper(corpus, "2401.00001", hidden=True)
    refresh_index(service.settings, corpus, progress=False)
    res = service.search("molecular graphs chemistry", mode="semantic")
    assert service._hidden and "2401.00001" not in ids(res)
    assert len(res.hits) == len(before) - 1  # the page is not short of anything else
    set_paper(corpus, "2401.00001", hidden=False)
    refresh_index(service.settings, corpus, progress=False)
    assert service.search("molecular graphs chemistry", mode="semantic").hits and not service._hidden


TEXTS = [
    "Transformers transformer TRANSFORMING transformed; graph_neural graphs <b>x</b> & \"q\"",
    "Über naïve CAFÉ résumé Straße finance ﬁnance",
    "İstanbul graphs: lower-casing this text changes its length, graph networks",
    "a i x ai xa ax a-i",
    "",
    "networks" * 3 + " networks",
]


@pytest.mark.parametrize("query", ["transformer graph", "naive cafe finance", "graph network", "a i x",
                                   "istanbul", "straße", "networks"])
def test_snippet_spans_match_the_regex_ones(query):
    terms = snippets.query_terms(query.split())
    pattern = snippets._candidates(frozenset(terms))
    for text in TEXTS:
        expected = [m.span() for m in pattern.finditer(text)
                    if any(t in terms for t in snippets.stem(m.group(0)[:40]))] if pattern else []
        assert snippets._spans(text, terms) == expected, (query, text)


def test_direct_query_embedding_matches_encode():
    pytest.importorskip("sentence_transformers")
    from paperboy.index.embedder import SentenceTransformerEmbedder, minilm_path

    texts = ["graph neural networks", "diffusion guidance without classifier gradients", "x",
             "Über naïve café", "word " * 400]
    fp32 = SentenceTransformerEmbedder(minilm_path(), name="all-MiniLM-L6-v2", query_precision="fp32")
    assert fp32._direct is not None
    for text in texts:
        assert np.allclose(fp32.embed_query(text), fp32.embed([text])[0], atol=1e-5), text
    assert fp32.query_dtype == "float32"
    fp32.model = None  # free it before loading the next

    bf16 = SentenceTransformerEmbedder(minilm_path(), name="all-MiniLM-L6-v2", query_precision="bf16")
    for text in texts:
        q = bf16.embed_query(text)
        assert q.dtype == np.float32 and q.shape == (384,)
        assert float(q @ bf16.embed([text])[0]) >= 0.999, text
    assert bf16.query_dtype == "bfloat16"
    with pytest.raises(ValueError):
        SentenceTransformerEmbedder(minilm_path(), query_precision="int4")


def test_bare_word_query_ranks_like_the_full_one(service):
    service.search("warm up")
    kwi = service._kw
    assert not service._hidden
    for text in ("graph networks", "neural networks molecules protein", "models", "lecun energy", "zzz"):
        q = parse_query(text)
        full = kwi.search(kwi.build(q), limit=20)
        bare = kwi.search(kwi.build(q, none_hidden=True), limit=20)
        assert bare.ids == full.ids and bare.total == full.total, text
        assert np.allclose(bare.scores, full.scores, rtol=1e-6), text
    # filters, phrases and exclusions always take the full query
    q = parse_query('graph "neural networks" -survey cat:cs.LG')
    assert kwi.search(kwi.build(q, none_hidden=True), limit=20).ids == kwi.search(kwi.build(q), limit=20).ids


def test_restrict_by_term_queries_and_by_term_set_agree(service, corpus, monkeypatch):
    from paperboy.index import keyword

    set_paper(corpus, "2401.00002", hidden=True)
    refresh_index(service.settings, corpus, progress=False)
    service.search("warm up")
    kwi = service._kw
    every = kwi.search(kwi.build(parse_query("")), limit=100)
    all_ids = every.ids + [service._hidden and next(iter(service._hidden))] + [10**9]
    for text in ("", "cat:cs.LG", '"neural networks"', "-survey", "author:lecun", "year:2024", "graph"):
        q = parse_query(text)
        by_terms = kwi.restrict(q, all_ids)
        monkeypatch.setattr(keyword, "RESTRICT_TERMS_MAX", 0)
        by_set = kwi.restrict(q, all_ids)
        monkeypatch.undo()
        assert by_terms == by_set, text
        assert 10**9 not in by_terms and not (by_terms & service._hidden), text
