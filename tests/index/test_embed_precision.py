"""PAPERBOY_EMBED_PRECISION: workers and the indexer embed papers with an int8-quantised
(or bf16) copy of MiniLM while queries stay fp32. Those vectors are close to fp32 but not
equal, so they are a model of their own (``+int8`` in the stored name): turning the
setting on re-embeds in the background while the fp32 vectors serve, and the two never
share one vector index."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from paperboy.config import ConfigError, Settings, load_settings
from paperboy.index import batches, jobs
from paperboy.index.embedder import (
    configured_embedder,
    embedder_name,
    get_embedder,
    paper_text,
    setting_for,
)
from paperboy.index.models import PaperEmbedding
from paperboy.index.service import SearchService
from paperboy.index.vectors import load_hnsw, vector_file
from paperboy.store.models import Paper
from tests.index.conftest import CORPUS, add_papers, ids

FP32, INT8 = "all-MiniLM-L6-v2@256", "all-MiniLM-L6-v2+int8@256"
QUERY = "message passing on molecular graphs"


def stored(engine) -> tuple[list[str], set[str], np.ndarray]:
    with engine.connect() as conn:
        rows = conn.execute(select(Paper.title, Paper.abstract, PaperEmbedding.model, PaperEmbedding.vector)
                            .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)).all()
    texts = [paper_text(t, a) for t, a, _, _ in rows]
    return texts, {m for _, _, m, _ in rows}, np.stack([np.frombuffer(v, dtype="<f4") for *_, v in rows])


def test_a_precision_other_than_fp32_names_a_model_of_its_own(tmp_path):
    assert embedder_name(configured_embedder(Settings(data_dir=tmp_path))) == FP32
    int8 = Settings(data_dir=tmp_path, embedder="minilm", embed_precision="int8")
    assert configured_embedder(int8) == "minilm+int8"
    assert embedder_name(configured_embedder(int8)) == INT8
    assert jobs.indexing_embedder(int8).name == INT8  # the indexer's child process (not started)
    assert embedder_name("minilm+bf16", max_seq_length=128) == "all-MiniLM-L6-v2+bf16@128"
    # a stored name leads back to its setting, so old vectors can still be queried
    assert setting_for(INT8) == ("minilm+int8", 256)
    assert setting_for(FP32) == ("minilm", 256)
    # the hash and null embedders have no model to quantise: the name is unchanged
    assert embedder_name(configured_embedder(Settings(data_dir=tmp_path, embedder="hash", embed_precision="int8"))) == "hash-256"
    with pytest.raises(ConfigError, match="PAPERBOY_EMBED_PRECISION"):
        load_settings(embed_precision="int4")


# Cosine of each paper's vector to the fp32 one, measured on CORPUS: per-channel int8
# 0.971-0.985 (SciFact: bench/embedfast.py, docs/search.md), bf16 0.99993-0.99996. The
# upper bound shows the setting was honoured: fp32 vectors would give 1.0.
@pytest.mark.parametrize(("precision", "low", "high"), [("int8", 0.95, 0.999), ("bf16", 0.998, 0.99999)])
def test_a_worker_embeds_papers_at_the_configured_precision(fresh_engine, tmp_path, precision, low, high):
    settings = Settings(data_dir=tmp_path, embedder="minilm", embed_precision=precision, embed_device="cpu")
    add_papers(fresh_engine, CORPUS)
    runner = batches.worker_runner(settings, fresh_engine)
    assert runner.run_one() == len(CORPUS)
    texts, models, got = stored(fresh_engine)
    assert models == {f"all-MiniLM-L6-v2+{precision}@256"}
    fp32 = get_embedder("minilm")
    cos = np.sum(fp32.embed(texts) * got, axis=1)
    assert low <= cos.min() and cos.max() < high, cos
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    # queries are the fp32 model's (or its bf16 query copy, equal to it to 0.999)
    assert float(runner.embedder.embed_query(QUERY) @ fp32.model.encode(QUERY, normalize_embeddings=True)) > 0.999
    runner.close()


def test_turning_int8_on_re_embeds_while_the_fp32_vectors_serve(fresh_engine, tmp_path):
    old = Settings(data_dir=tmp_path, embedder="minilm")
    add_papers(fresh_engine, CORPUS)
    assert jobs.refresh_index(old, fresh_engine, progress=False, embedder=get_embedder("minilm"))["serving"] == FP32

    new = Settings(data_dir=tmp_path, embedder="minilm", embed_precision="int8")  # the operator turns it on
    svc = SearchService(new, fresh_engine)
    stats = jobs.refresh_index(new, fresh_engine, progress=False, embed=False, plan=True)
    assert stats["serving"] == FP32  # nothing embedded in int8 yet: the fp32 vectors serve, whole
    res = svc.search(QUERY, mode="semantic")
    assert svc._vec.model == FP32 and res.semantic_coverage == 1.0
    assert ids(res)[0] in ("2401.00001", "2502.00008")

    assert jobs.embed_missing(fresh_engine, get_embedder("minilm+int8")) == len(CORPUS)
    assert jobs.refresh_index(new, fresh_engine, progress=False)["serving"] == INT8
    res = svc.search(QUERY, mode="semantic")  # int8 papers, fp32 query
    assert svc._vec.model == INT8 and res.semantic_coverage == 1.0
    assert ids(res)[0] in ("2401.00001", "2502.00008")
    # each model's file holds its own vectors, every paper once: never a mix
    for model in (FP32, INT8):
        assert len(load_hnsw(vector_file(new.resolved_index_dir, model))) == len(CORPUS)
    with fresh_engine.connect() as conn:
        counts = dict(conn.execute(select(PaperEmbedding.model, func.count())
                                   .group_by(PaperEmbedding.model)).all())
    assert counts == {FP32: len(CORPUS), INT8: len(CORPUS)}
