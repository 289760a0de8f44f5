"""The ANN index against exact search, the real all-MiniLM-L6-v2 model, the null embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from paperboy.config import Settings
from paperboy.index import embedder
from paperboy.index import vectors as vx
from paperboy.index.embedder import HashEmbedder, get_embedder, minilm_path
from paperboy.index.jobs import refresh_index
from paperboy.index.service import MODEL_LOADING, SearchService
from paperboy.site import create_app
from paperboy.store.models import Paper
from paperboy.web.app import build_app
from paperboy.web.features import Feature
from tests.index.conftest import CORPUS, add_papers, ids

ROOT = Path(__file__).resolve().parents[2]


def _clustered(rng, n: int = 3000, dim: int = 64) -> np.ndarray:
    """Clustered unit vectors, like embeddings: n points around 60 centres."""
    centres = rng.normal(size=(60, dim))
    data = centres[rng.integers(0, 60, n)] + 0.3 * rng.normal(size=(n, dim))
    return (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)


def _stored_from(data: np.ndarray):
    """``vectors.StoredVectors`` over an array (row i is paper i + 1), as the database gives them."""
    def fetch(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray([k for k in keys if 1 <= k <= len(data)], dtype=np.int64)
        return keys, data[keys - 1]
    return fetch


def _true_top(data: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    return (np.argsort(-(data @ q), kind="stable")[:k] + 1).tolist()


def test_hnsw_re_ranked_by_the_stored_vectors_agrees_with_exact_search(tmp_path):
    """The file holds i8 copies; the searcher finds candidates with them and orders them by
    the stored f32 vectors, so its top 10 is exact search's over the real vectors, with
    their exact cosines."""
    rng = np.random.default_rng(0)
    data = _clustered(rng)
    ids = np.arange(1, 3001, dtype=np.uint64)
    index = vx.new_hnsw(64)
    vx.upsert(index, ids, data)
    path = tmp_path / "v.usearch"
    vx.save_hnsw(index, path)
    exact = vx.VectorSearcher(path, brute_force_max=10_000, stored=_stored_from(data))
    ann = vx.VectorSearcher(path, brute_force_max=0, stored=_stored_from(data))
    assert exact.matrix is not None and ann.hnsw is not None and ann.stored is not None
    queries = data[rng.integers(0, 3000, 50)] + 0.05 * rng.normal(size=(50, 64)).astype(np.float32)
    recall, exact_agree = [], []
    for q in queries:
        q = q / np.linalg.norm(q)
        truth = _true_top(data, q, 10)
        e_ids, e_scores = exact.search(q, 10)
        a_ids, a_scores = ann.search(q, 10)
        assert e_scores == sorted(e_scores, reverse=True) and a_scores == sorted(a_scores, reverse=True)
        assert np.allclose(a_scores, data[np.asarray(a_ids) - 1] @ q, atol=1e-5)  # the stored vectors' cosines
        exact_agree.append(e_ids == truth)
        recall.append(len(set(truth) & set(a_ids)) / 10)
    assert all(exact_agree)  # below brute_force_max the stored vectors are scanned
    assert np.mean(recall) >= 0.95
    # replacing a vector replaces it (no duplicate key)
    vx.upsert(index, ids[:1], -data[:1])
    assert len(index) == 3000
    assert np.allclose(np.asarray(index.get(ids[:1], dtype=np.float32)).reshape(-1), -data[0], atol=1e-2)  # i8


def test_without_stored_vectors_an_i8_file_answers_alone_and_an_f16_file_is_not_re_ranked(tmp_path):
    """A searcher given no stored vectors answers from the file's own (approximate) i8
    copies; a file built as f16 by an earlier version is read as it is, never re-ranked."""
    from usearch.index import Index

    rng = np.random.default_rng(1)
    data = _clustered(rng, 2000)
    ids = np.arange(1, 2001, dtype=np.uint64)
    for dtype in ("i8", "f16"):
        index = Index(ndim=64, metric="cos", dtype=dtype, connectivity=vx.CONNECTIVITY,
                      expansion_add=vx.EXPANSION_ADD)
        index.add(ids, data)
        path = tmp_path / f"{dtype}.usearch"
        vx.save_hnsw(index, path)
        alone = vx.VectorSearcher(path, brute_force_max=0)
        given = vx.VectorSearcher(path, brute_force_max=0, stored=_stored_from(data))
        assert alone.stored is None
        assert (given.stored is not None) is (dtype == "i8")
        q = data[7]
        a_ids, _ = alone.search(q, 5)
        assert a_ids[0] == 8 and len(a_ids) == 5
        v = given.vector(8)
        assert v is not None and np.allclose(v, data[7], atol=1e-5 if dtype == "i8" else 2e-3)


def test_the_reader_searches_with_the_ef_it_is_given(tmp_path):
    """The served file is searched with the reader's ef (the vector_ef_search setting),
    not the one it was built with: on data without structure a small ef misses about half
    the true neighbours and one as large as the index finds nearly all. The truth is the
    file's own exhaustive search (its i8 cosines; 0.99-1.0 in 8 seeds): against float
    cosines the i8 rounding reorders near-ties at the tenth place (0.93-0.97 at any ef,
    which made this test fail once in CI)."""
    rng = np.random.default_rng(2)
    data = rng.normal(size=(2000, 64))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    index = vx.new_hnsw(64)
    vx.upsert(index, np.arange(1, 2001, dtype=np.uint64), data)
    path = tmp_path / "v.usearch"
    vx.save_hnsw(index, path)
    queries = rng.normal(size=(30, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exhaustive = vx.VectorSearcher(path, brute_force_max=0).hnsw
    truth = [{int(k) for k in exhaustive.search(q, 10, exact=True).keys} for q in queries]
    recall = {}
    for ef in (8, 2000):
        ann = vx.VectorSearcher(path, brute_force_max=0, ef_search=ef)
        assert ann.hnsw.expansion_search == ef
        recall[ef] = np.mean([len(t & set(ann.search(q, 10)[0])) / 10 for q, t in zip(queries, truth, strict=True)])
    assert recall[8] < 0.8 and recall[2000] >= 0.97
    # unset (0, the default), the ef is chosen from the index's size
    assert Settings().vector_ef_search == 0
    auto = vx.VectorSearcher(path, brute_force_max=0)
    assert auto.hnsw.expansion_search == auto.ef_search == vx.ef_for(2000)


def test_the_ef_grows_with_the_index_as_measured():
    """Unset, the ef is the one measured to give recall@10 of about 0.95 at each size
    (docs/scale.md): the smallest below the first size, log-log interpolated between the
    measured sizes, extended past the last and capped at the setting's maximum."""
    (s1, e1), (s2, e2), (s3, e3) = vx.EF_BY_SIZE
    assert [vx.ef_for(n) for n in (0, 5_000, s1, s2, s3)] == [e1, e1, e1, e2, e3]
    between = vx.ef_for(1_000_000)
    assert e2 < between < e3 and between % 32 == 0
    # on the log-log line through the two measured points around it, rounded up to 32
    line = np.exp(np.interp(np.log(1e6), np.log([s2, s3]), np.log([e2, e3])))
    assert line <= between < line + 32
    sizes = [10 ** k for k in range(3, 10)]
    efs = [vx.ef_for(n) for n in sizes]
    assert efs == sorted(efs) and e3 < vx.ef_for(10_000_000) < vx.EF_MAX == efs[-1] == 10_000


def test_the_service_reads_vectors_with_the_ef_setting(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="hash", vector_ef_search=37)
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False)
    svc = SearchService(settings, fresh_engine)
    assert svc.search("graph networks", mode="semantic").hits
    vec = svc._vec
    assert getattr(vec, "ann", vec).ef_search == 37


def test_similarities_score_exactly_the_papers_asked_for(tmp_path):
    """Alerts score every paper of their period: the cosine of each id that has a vector
    (others skipped), best first, the same from the matrix and from the HNSW file."""
    rng = np.random.default_rng(1)
    data = rng.normal(size=(500, 32))
    data = (data / np.linalg.norm(data, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(10, 510, dtype=np.uint64)
    index = vx.new_hnsw(32)
    vx.upsert(index, ids, data)
    path = tmp_path / "v.usearch"
    vx.save_hnsw(index, path)
    q = data[7]
    asked = [400, 17, 99_999, 10, 255]  # 99_999 has no vector
    want = sorted(((i, float(data[i - 10] @ q)) for i in asked if i != 99_999), key=lambda p: -p[1])

    def stored(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keys = np.asarray([k for k in keys if 10 <= k < 510], dtype=np.int64)
        return keys, data[keys - 10]

    # With the stored vectors the cosines are theirs; the file's own i8 copies are within 1 %.
    for given, atol in ((stored, 1e-5), (None, 1e-2)):
        for searcher in (vx.VectorSearcher(path, brute_force_max=10_000, stored=given),
                         vx.VectorSearcher(path, brute_force_max=0, stored=given)):
            got_ids, got_scores = searcher.similarities(q, asked)
            assert got_ids == [i for i, _ in want]
            assert np.allclose(got_scores, [s for _, s in want], atol=atol)
            assert searcher.similarities(q, [99_999]) == ([], [])


def test_hash_embedder_is_deterministic_and_normalised():
    e = HashEmbedder()
    a, b = e.embed(["graph neural networks", "graph neural networks"]), e.embed(["robots"])
    assert np.allclose(a[0], a[1]) and np.isclose(np.linalg.norm(b[0]), 1.0)
    assert float(a[0] @ e.embed_query("neural graph networks")) > float(a[0] @ b[0])


def test_null_embedder_gives_keyword_only(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="null")
    add_papers(fresh_engine, CORPUS)
    stats = refresh_index(settings, fresh_engine, progress=False)
    assert "embedded" not in stats
    svc = SearchService(settings, fresh_engine)
    res = svc.search("graph networks")
    assert res.hits and res.mode == "keyword" and res.semantic_coverage == 0.0
    sims = svc.similar("2401.00001", limit=3)  # falls back to more-like-this on words
    assert sims and sims[0].arxiv_id == "2502.00008"


def test_minilm_loads_offline_from_the_package():
    assert os.path.exists(os.path.join(minilm_path(), "model.safetensors"))
    emb = get_embedder("minilm")
    assert emb.dim == 384 and emb.name == "all-MiniLM-L6-v2@256"
    v = emb.embed(["A cat sits on the mat.", "A kitten is resting on a rug.", "Quarterly tax filing deadlines."])
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


@pytest.mark.slow
def test_semantic_search_with_the_real_model(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path)  # the default embedder: minilm
    add_papers(fresh_engine, CORPUS)
    # The model this process loads for queries embeds the papers too: the niced child
    # process that refresh_index starts by default would load it again (~10 s); serving
    # with it is test_single_node's.
    stats = refresh_index(settings, fresh_engine, progress=False, embedder=get_embedder("minilm"))
    assert stats["embedded"] == len(CORPUS)
    svc = SearchService(settings, fresh_engine)
    # no shared words with the paper, found by meaning
    res = svc.search("picking up objects with a mechanical arm", mode="semantic")
    assert ids(res)[0] == "2406.00005"
    res = svc.search("picking up objects with a mechanical arm")
    assert ids(res)[0] == "2406.00005" and res.semantic_coverage == 1.0
    assert svc.similar("2401.00001", limit=1)[0].arxiv_id == "2502.00008"


@pytest.mark.parametrize("embedder, loads", [("minilm", True), ("hash", False)])
def test_a_server_loads_its_query_embedder_as_it_starts_not_in_the_first_search(fresh_engine, tmp_path, embedder, loads):
    app = create_app(Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder=embedder,
                              for_you_warm_seconds=0), fresh_engine)
    search = app.state.search
    assert not search.query_embedder_loaded
    with TestClient(app):  # the server starts
        deadline = time.monotonic() + 120
        while loads and not search.query_embedder_loaded and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        assert search.query_embedder_loaded is loads  # the hash embedder has nothing to load


def test_the_query_embedder_loads_after_the_warm_ups_members_pages_need_first(fresh_engine, tmp_path):
    """Its load holds the GIL for seconds: For you's first candidates, built beside it,
    took 2.6 s instead of 1.8 s (bench/startup.py)."""
    get_embedder("minilm")  # in this process already: the load, when it comes, takes no time
    first_round = threading.Event()

    def a_slow_warm_up(app):
        app.state.warm_ups.append(first_round)
        return lambda: None

    app = build_app((Feature("slow warm-up", on_start=a_slow_warm_up),),
                    Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="minilm"), fresh_engine)
    with TestClient(app):  # the server starts
        time.sleep(0.5)
        assert not app.state.search.query_embedder_loaded
        # a search meanwhile answers by its words, not by loading the model itself
        assert app.state.search.query_embedder_loading
        first_round.set()
        deadline = time.monotonic() + 60
        while not app.state.search.query_embedder_loaded and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.search.query_embedder_loaded


@pytest.mark.slow
def test_a_search_while_the_server_loads_its_query_model_answers_by_words_and_says_so(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path)  # the default embedder: minilm
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False, embedder=get_embedder("minilm"))  # as above
    svc = SearchService(settings, fresh_engine)
    with fresh_engine.connect() as conn:
        every_paper = list(conn.scalars(select(Paper.id)))
    by_meaning = "picking up objects with a mechanical arm"  # no word of 2406.00005's
    # Every model load goes through the process's model cache: holding its lock holds the
    # load, as the seconds of importing torch and reading the weights do on a starting server.
    with embedder._cache_lock:
        warming = threading.Thread(target=svc.warm)
        warming.start()
        deadline = time.monotonic() + 30
        while not svc.query_embedder_loading and time.monotonic() < deadline:
            time.sleep(0.01)
        assert svc.query_embedder_loading
        loading_stamp = svc.index_stamp()
        # On another thread, so that a search that waited for the model would fail here
        # (the wait ends when the lock is let go) rather than hang.
        pool = ThreadPoolExecutor(1)
        try:
            during = pool.submit(svc.search, by_meaning).result(timeout=30)
            mine = pool.submit(svc.within, by_meaning, every_paper).result(timeout=30)
        finally:
            pool.shutdown(wait=False)
        assert during.mode == "keyword" and MODEL_LOADING in during.messages
        assert "2406.00005" not in ids(during)
        assert MODEL_LOADING in mine.messages and mine.related == 0
    warming.join(120)
    assert svc.query_embedder_loaded and not svc.query_embedder_loading
    # The page cache keeps the index stamp in a page's version: the page is answered again.
    assert svc.index_stamp() != loading_stamp
    after = svc.search(by_meaning)
    assert after.mode == "hybrid" and ids(after)[0] == "2406.00005" and MODEL_LOADING not in after.messages
    assert MODEL_LOADING not in svc.within(by_meaning, every_paper).messages


def test_loading_the_model_prints_no_progress_bar_of_its_own(tmp_path):
    """An operator's console: `paperboy serve` as it starts, `paperboy index build` under
    its own progress bars."""
    loads = subprocess.run([sys.executable, "-c", "from paperboy.index.embedder import get_embedder\n"
                            "print(get_embedder('minilm').embed_query('hello').shape)"],
                           capture_output=True, text=True, timeout=300, cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert loads.returncode == 0, loads.stderr[-2000:]
    assert loads.stdout.strip() == "(384,)"
    assert "Loading weights" not in loads.stderr and "it/s" not in loads.stderr, loads.stderr[-2000:]


# Imported in a fresh interpreter: a finder placed first on the import path notes, as
# torch's import starts, which of the libraries that look at sys.modules["torch"] while
# they import were already imported in full.
_WATCH_TORCH = """
import importlib.abc, json, sys

before_torch = []

class NoteWhatIsImported(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and not before_torch:
            before_torch.append({m: m in sys.modules and not getattr(sys.modules[m].__spec__, "_initializing", False)
                                 for m in ("scipy.stats", "sklearn")})
        return None

sys.meta_path.insert(0, NoteWhatIsImported())
from paperboy.index.embedder import get_embedder
get_embedder("minilm")
print(json.dumps(before_torch))
"""


def test_torch_is_imported_after_the_libraries_that_break_if_they_see_it_half_imported():
    # scipy.stats asks whether values are torch tensors as it imports: beside a thread
    # half-way through importing torch (the search's query embedder, as a server starts)
    # For you's warm-up failed with "partially initialized module 'torch'"
    # ('AttributeError ... has no attribute Tensor'). They are finished before torch starts.
    out = subprocess.run([sys.executable, "-c", _WATCH_TORCH], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [{"scipy.stats": True, "sklearn": True}]
