"""A changed PAPERBOY_EMBEDDER: the new model is embedded in the background into a file of
its own while the old model's vectors keep serving; searches switch once the new one
covers as many papers. Two models never share one vector index."""

from __future__ import annotations

import threading

from paperboy.config import Settings
from paperboy.index import jobs
from paperboy.index.embedder import HashEmbedder, get_embedder
from paperboy.index.service import SearchService
from paperboy.index.vectors import load_hnsw, vector_file
from tests.index.conftest import CORPUS, add_papers, ids

OLD, NEW = HashEmbedder(256).name, HashEmbedder(64).name


def test_old_model_serves_until_the_new_one_covers_the_corpus(fresh_engine, tmp_path):
    old = Settings(data_dir=tmp_path, embedder="hash")
    add_papers(fresh_engine, CORPUS)
    assert jobs.refresh_index(old, fresh_engine, progress=False)["serving"] == OLD
    new = Settings(data_dir=tmp_path, embedder="hash-64")  # the operator changes the model
    svc = SearchService(new, fresh_engine)

    # The new model's batches run in the background; after one batch of three ...
    stop = threading.Event()
    assert jobs.embed_missing(fresh_engine, get_embedder("hash-64"), batch_size=3, on_batch=stop.set, stop=stop) == 3
    stats = jobs.refresh_index(new, fresh_engine, progress=False, embed=False, plan=True)
    assert stats["vectors_total"] == 3 and stats["serving"] == OLD
    # ... searches still use the old model's vectors, whole, and embed queries with it.
    res = svc.search("message passing on molecular graphs", mode="semantic")
    assert res.mode == "semantic" and res.semantic_coverage == 1.0
    assert ids(res)[0] in ("2401.00001", "2502.00008")
    assert svc._vec.model == OLD
    assert svc.similar("2401.00001")

    # Once the new model covers as many papers, searches switch to it.
    assert jobs.refresh_index(new, fresh_engine, progress=False)["serving"] == NEW
    res = svc.search("message passing on molecular graphs", mode="semantic")
    assert svc._vec.model == NEW and res.semantic_coverage == 1.0
    assert ids(res)[0] in ("2401.00001", "2502.00008")
    # each file holds one model's vectors: its own dimension, every paper once
    for model, dim in ((OLD, 256), (NEW, 64)):
        index = load_hnsw(vector_file(new.resolved_index_dir, model))
        assert index.ndim == dim and len(index) == len(CORPUS)


def test_a_new_instance_serves_its_configured_model(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="hash-64")
    add_papers(fresh_engine, CORPUS)
    svc = SearchService(settings, fresh_engine)
    assert jobs.refresh_index(settings, fresh_engine, progress=False)["serving"] == NEW
    assert svc.search("robot grasping", mode="semantic").hits
    assert svc._vec.model == NEW
