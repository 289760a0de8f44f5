"""Incremental, resumable indexing; the background indexer; other processes' changes."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time

from sqlalchemy import select

from paperboy.config import Settings
from paperboy.index import jobs
from paperboy.index.embedder import HashEmbedder, get_embedder
from paperboy.index.jobs import refresh_index
from paperboy.index.models import PaperEmbedding
from paperboy.index.service import SearchService
from paperboy.index.vectors import vector_file
from tests.index.conftest import CORPUS, add_papers, ids, set_paper

NEW = ("2510.00010", "Quantum error correction codes", "Surface codes protect logical qubits from noise.",
       ["Zoe King"], ["quant-ph"], dt.date(2025, 10, 1))


def embedded_at(engine) -> dict[int, dt.datetime]:
    with engine.connect() as conn:
        return dict(conn.execute(select(PaperEmbedding.paper_id, PaperEmbedding.embedded_at)).all())


def test_new_paper_is_found_after_refresh(service, corpus, settings):
    assert ids(service.search("qubits")) == []
    add_papers(corpus, [NEW])
    stats = refresh_index(settings, corpus, progress=False)
    assert stats["keyword_indexed"] >= 1 and stats["embedded"] == 1
    assert ids(service.search("qubits", mode="keyword")) == ["2510.00010"]
    assert ids(service.search("surface codes qubits", mode="semantic"))[0] == "2510.00010"


def test_only_changed_papers_are_embedded_again(corpus, settings):
    before = embedded_at(corpus)
    assert len(before) == len(CORPUS)
    assert refresh_index(settings, corpus, progress=False)["embedded"] == 0
    # a vote changes the row but not its content: no re-embedding
    set_paper(corpus, "2401.00002", upvotes=5)
    assert refresh_index(settings, corpus, progress=False)["embedded"] == 0
    add_papers(corpus, [("2401.00001", "Graph neural networks for molecules and crystals",
                         CORPUS[0][2], CORPUS[0][3], CORPUS[0][4], CORPUS[0][5])], version=2)
    stats = refresh_index(settings, corpus, progress=False)
    assert stats["embedded"] == 1
    after = embedded_at(corpus)
    changed = [pid for pid in after if after[pid] != before[pid]]
    assert len(changed) == 1
    svc = SearchService(settings, corpus)
    assert ids(svc.search("crystals", mode="keyword")) == ["2401.00001"]


def test_keyword_results_at_once_vectors_later(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    svc = SearchService(settings, fresh_engine)
    # a fresh instance indexes keywords inline on first use (small corpus), no vectors yet
    res = svc.search("graph networks")
    assert res.hits and res.mode == "keyword" and res.semantic_coverage == 0.0
    assert any("not ready" in m for m in res.messages)
    refresh_index(settings, fresh_engine, progress=False)
    res = svc.search("graph networks")
    assert res.mode == "hybrid" and res.semantic_coverage == 1.0


def test_embedding_resumes_where_it_stopped(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    emb = get_embedder("hash")
    stop = threading.Event()
    # killed after the first batch of 3: those 3 are committed, nothing else
    done = jobs.embed_missing(fresh_engine, emb, batch_size=3, on_batch=stop.set, stop=stop)
    assert done == 3 and len(embedded_at(fresh_engine)) == 3
    stats = refresh_index(settings, fresh_engine, progress=False)
    assert stats["embedded"] == len(CORPUS) - 3
    assert stats["vectors_total"] == len(CORPUS)


def test_ann_file_is_rebuilt_from_stored_vectors(corpus, settings):
    path = vector_file(settings.resolved_index_dir, get_embedder("hash").name)
    path.unlink()
    (settings.resolved_index_dir / "vectors-state.json").unlink()
    stats = refresh_index(settings, corpus, progress=False)
    assert stats["embedded"] == 0 and stats["vectors_total"] == len(CORPUS)
    assert SearchService(settings, corpus).search("robot", mode="semantic").hits


def test_one_refresher_at_a_time(corpus, settings):
    with jobs.refresh_lock(settings) as mine:
        assert mine
        assert "skipped" in refresh_index(settings, corpus, progress=False)


def test_changes_made_by_another_process_are_seen(fresh_url, tmp_path):
    from paperboy.store.db import make_engine

    settings = Settings(data_dir=tmp_path, database_url=fresh_url, embedder="hash")
    engine = make_engine(fresh_url)
    add_papers(engine, CORPUS)
    refresh_index(settings, engine, progress=False)
    svc = SearchService(settings, engine)
    assert ids(svc.search("qubits")) == []
    add_papers(engine, [NEW])
    code = (
        "from paperboy.config import Settings; from paperboy.store.db import make_engine; "
        "from paperboy.index.jobs import refresh_index; import sys; "
        f"s = Settings(data_dir={str(tmp_path)!r}, database_url={fresh_url!r}, embedder='hash'); "
        "print(refresh_index(s, make_engine(s.resolved_database_url), progress=False))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert ids(svc.search("qubits", mode="keyword")) == ["2510.00010"]
    assert ids(svc.search("surface codes protect qubits", mode="semantic"))[0] == "2510.00010"
    engine.dispose()


def test_background_indexer(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    thread = jobs.start_background_indexer(settings, fresh_engine, interval=0.2)
    try:
        assert thread.daemon
        svc = SearchService(settings, fresh_engine)
        deadline = time.monotonic() + 60
        while svc.search("graph").semantic_coverage < 1.0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert svc.search("graph").semantic_coverage == 1.0
        add_papers(fresh_engine, [NEW])
        while not svc.search("qubits", mode="keyword").hits and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ids(svc.search("qubits", mode="keyword")) == ["2510.00010"]
    finally:
        thread.stop.set()
        thread.join(30)
    assert not thread.is_alive()


class RecordingEmbedder(HashEmbedder):
    """The configured test embedder (hash), noting the titles of each batch it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str], *, batch_size: int = 32):
        self.batches.append([t.split(". ")[0] for t in texts])
        return super().embed(texts, batch_size=batch_size)


def test_vectors_are_computed_newest_first(fresh_engine, settings):
    # Inserted in an order unlike their dates, so the row id order is not the date order.
    for i in (3, 0, 7, 5, 1, 6, 2, 4):
        add_papers(fresh_engine, [CORPUS[i]])
    same_day = ("2502.00009", "Crystal graphs", "Crystals as graphs.", ["Ann Lee"], ["cs.LG"], CORPUS[7][5])
    undated = ("2409.00011", "An undated paper", "It has no announce date.", ["Al Bo"], ["cs.LG"], None)
    add_papers(fresh_engine, [undated, same_day])
    assert settings.embedder == "hash"
    emb = RecordingEmbedder()
    assert emb.name == get_embedder(settings.embedder).name

    added = []

    def after_batch() -> None:
        # a paper announced later than all others arrives during the run: it comes next
        if not added:
            add_papers(fresh_engine, [NEW])
            added.append(NEW)

    done = jobs.embed_missing(fresh_engine, emb, batch_size=3, on_batch=after_batch)
    assert done == len(CORPUS) + 3
    by_date = [row[1] for row in sorted(CORPUS, key=lambda r: r[5], reverse=True)]
    # same day: the later row (higher id) first; undated papers last
    expected = ["Crystal graphs"] + by_date
    assert emb.batches[0] == expected[:3]
    assert emb.batches[1][0] == NEW[1]
    assert [t for b in emb.batches[1:] for t in b] == [NEW[1]] + expected[3:] + ["An undated paper"]
    assert jobs.count_missing(fresh_engine, emb.name) == 0
