"""A node whose ANN file is missing or behind answers semantic queries by exact search over
the stored vectors (``index/exact.py``), and lets that memory go once the file catches up."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from sqlalchemy import select

from paperboy.index import exact as ex
from paperboy.index import jobs
from paperboy.index import vectors as vx
from paperboy.index.exact import ServedVectors
from paperboy.index.models import PaperEmbedding
from paperboy.index.service import SearchService
from tests.index.conftest import ids

MODEL = "hash-256"
QUERY = "message passing on molecular graphs"


def brute_force(engine, query_vec: np.ndarray, *, newest: int | None = None) -> list[int]:
    """Every stored vector (or the ``newest`` papers'), scored by cosine: the reference."""
    with engine.connect() as conn:
        rows = conn.execute(select(PaperEmbedding.paper_id, PaperEmbedding.vector)
                            .where(PaperEmbedding.model == MODEL).order_by(PaperEmbedding.paper_id.desc())).all()
    rows = rows[:newest] if newest else rows
    mat = np.stack([np.frombuffer(r.vector, dtype="<f4") for r in rows])
    sims = mat @ query_vec / (np.linalg.norm(mat, axis=1) * np.linalg.norm(query_vec))
    order = np.argsort(-sims, kind="stable")
    return [rows[i].paper_id for i in order if sims[i] >= 0.25]


def semantic_ids(svc: SearchService) -> list[int]:
    res = svc.search(QUERY, mode="semantic", limit=50)
    return [h.paper_id for h in res.hits]


def drop_ann_file(settings) -> None:
    vx.vector_file(settings.resolved_index_dir, MODEL).unlink()


def test_no_ann_file_answers_from_the_stored_vectors_until_the_file_catches_up(corpus, settings, monkeypatch):
    drop_ann_file(settings)
    svc = SearchService(settings, corpus)
    assert isinstance(svc._vec, ServedVectors)
    assert svc._exact.done.wait(30)
    res = svc.search(QUERY, mode="semantic", limit=50)
    assert res.mode == "semantic" and res.semantic_coverage == 1.0
    qv = svc._embed_query(QUERY)
    assert [h.paper_id for h in res.hits] == brute_force(corpus, qv)
    assert ids(res)[0] in ("2401.00001", "2502.00008")

    # The ANN build is held at its save: the answers above came while it had not finished.
    held, release = threading.Event(), threading.Event()
    real_save = vx.save_hnsw

    def save_when_released(index, path):
        held.set()
        release.wait(30)
        real_save(index, path)

    monkeypatch.setattr(vx, "save_hnsw", save_when_released)
    build = threading.Thread(target=jobs.refresh_vectors, args=(settings, corpus, MODEL))
    build.start()
    assert held.wait(30)
    assert semantic_ids(svc) == brute_force(corpus, qv)
    assert svc._exact is not None
    release.set()
    build.join(30)

    # The file holds every stored vector now: the next search re-opens it and drops the store.
    after = semantic_ids(svc)
    assert svc._exact is None and not isinstance(svc._vec, ServedVectors)
    assert after == brute_force(corpus, qv)
    assert svc.search(QUERY).semantic_coverage == 1.0


def test_searchable_as_chunks_arrive_with_coverage_reported(corpus, settings, monkeypatch):
    drop_ann_file(settings)
    monkeypatch.setattr(ex, "CHUNK", 3)
    first, go_on = threading.Event(), threading.Event()

    def hold_after_first_chunk(loaded: int) -> None:
        first.set()
        go_on.wait(30)

    monkeypatch.setattr(SearchService, "exact_chunk_hook", staticmethod(hold_after_first_chunk))
    svc = SearchService(settings, corpus)
    assert first.wait(30)
    res = svc.search(QUERY, mode="semantic", limit=50)
    assert res.semantic_coverage == pytest.approx(3 / 8, abs=1e-3)
    assert any("cover 38%" in m for m in res.messages)
    qv = svc._embed_query(QUERY)
    assert [h.paper_id for h in res.hits] == brute_force(corpus, qv, newest=3)
    go_on.set()
    assert svc._exact.done.wait(30)
    assert svc.search(QUERY).semantic_coverage == 1.0
    assert semantic_ids(svc) == brute_force(corpus, qv)


def test_the_cap_bounds_the_store_and_zero_waits_for_the_file(corpus, settings):
    drop_ann_file(settings)
    capped = SearchService(settings.model_copy(update={"exact_vectors_max": 5}), corpus)
    assert capped._exact.done.wait(30)
    assert capped._exact.size == 5 and capped._exact.matrix.dtype == np.float16
    assert capped.search(QUERY).semantic_coverage == pytest.approx(5 / 8, abs=1e-3)
    off = SearchService(settings.model_copy(update={"exact_vectors_max": 0}), corpus)
    assert off._exact is None and off.search(QUERY).semantic_coverage == 0.0


def test_a_file_lagging_by_a_few_vectors_keeps_serving_alone(corpus, settings, monkeypatch):
    from paperboy.index import service as service_mod
    from tests.index.conftest import add_papers

    add_papers(corpus, [("2503.00009", "Message passing for crystals", "Graph networks on crystal lattices.",
                         ["Ann Lee"], ["cond-mat"], None)])
    monkeypatch.setattr(jobs, "refresh_vectors", lambda *a, **k: {})  # stored, not yet in the file
    jobs.refresh_index(settings, corpus, progress=False)
    assert ex.stored_count(corpus, MODEL) == 9
    monkeypatch.setattr(service_mod, "EXACT_BELOW", 0.85)  # 8 of 9 in the file: above the share
    svc = SearchService(settings, corpus)
    assert svc._exact is None and svc._vec.size == 8
    monkeypatch.setattr(service_mod, "EXACT_BELOW", 0.95)  # below it: the store serves all 9
    far = SearchService(settings, corpus)
    assert far._exact is not None and far._exact.done.wait(30)
    assert far.search(QUERY).semantic_coverage == 1.0


def test_an_i8_file_is_re_ranked_by_the_stored_vectors_read_by_primary_key(corpus, settings):
    """The ANN file's i8 candidates are ordered by the vectors stored in the database: the
    searcher's top 5 and its cosines are brute force's over ``paper_embeddings``; ids with
    no stored vector are left out of the read; SQLite reads them by primary key."""
    fetch = ex.stored_vectors(corpus, MODEL)
    with corpus.connect() as conn:
        rows = conn.execute(select(PaperEmbedding.paper_id, PaperEmbedding.vector)
                            .where(PaperEmbedding.model == MODEL)).all()
    stored = {r.paper_id: np.frombuffer(r.vector, dtype="<f4") for r in rows}
    some = sorted(stored)[:3]
    found, matrix = fetch(np.asarray([*some, 10**9], dtype=np.int64))
    assert sorted(found.tolist()) == some
    for pid, row in zip(found.tolist(), matrix, strict=True):
        assert np.array_equal(row, stored[pid])

    ann = vx.VectorSearcher(vx.vector_file(settings.resolved_index_dir, MODEL), brute_force_max=0, stored=fetch)
    assert ann.hnsw is not None and ann.stored is not None  # the service's files are i8
    svc = SearchService(settings, corpus)
    qv = svc._embed_query(QUERY)
    got, cosines = ann.search(qv, 5)
    mat = np.stack([stored[p] for p in got])
    assert np.allclose(cosines, mat @ qv / (np.linalg.norm(mat, axis=1) * np.linalg.norm(qv)), atol=1e-5)
    ref = sorted(stored, key=lambda p: -float(stored[p] @ qv / np.linalg.norm(stored[p])))
    assert got == ref[:5]

    if corpus.dialect.name == "sqlite":
        from sqlalchemy import event

        seen: list[tuple[str, tuple]] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            if "FROM paper_embeddings" in statement:
                seen.append((statement, parameters))

        event.listen(corpus, "before_cursor_execute", record)
        try:
            fetch(np.asarray(some, dtype=np.int64))
        finally:
            event.remove(corpus, "before_cursor_execute", record)
        assert len(seen) == 1, seen
        with corpus.connect() as conn:
            plan = " ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + seen[0][0], seen[0][1]))
        assert "sqlite_autoindex_paper_embeddings_1" in plan and "ix_paper_embeddings_model" not in plan, plan
