"""A search never waits for the indexer: not for the model it embeds papers with, not for
its process, not for a reload of the index files it wrote."""

from __future__ import annotations

import os
import threading

import numpy as np

from paperboy.config import Settings
from paperboy.index import jobs
from paperboy.index import service as service_module
from paperboy.index.embedder import HashEmbedder, get_embedder
from paperboy.index.embedproc import NICE, ProcessEmbedder
from paperboy.index.service import SearchService
from paperboy.index.vectors import VectorSearcher
from tests.index.conftest import add_papers, ids

NEW = [("2510.00010", "Quantum error correction codes", "Surface codes protect logical qubits from noise.",
        ["Zoe King"], ["quant-ph"], None),
       ("2510.00011", "Graph codes for qubits", "Graph states and codes on qubits.", ["Zoe King"], ["quant-ph"], None)]


def run_in_thread(fn) -> tuple[threading.Thread, list]:
    out: list = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # pragma: no cover - reported by the test
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_a_search_completes_while_an_indexing_batch_of_the_same_model_is_in_progress(corpus, tmp_path, monkeypatch):
    """One process, one real model shared by the indexer and the searches (as when a caller
    hands ``refresh_index`` the service's embedder): the indexer's batch is held inside the
    model, and a search still embeds its query and answers."""
    settings = Settings(data_dir=tmp_path / "minilm", embedder="minilm")
    emb = get_embedder("minilm")
    jobs.refresh_index(settings, corpus, progress=False, embedder=emb)
    svc = SearchService(settings, corpus, embedder=emb)
    assert svc.search("graph networks").mode == "hybrid"

    inside, release = threading.Event(), threading.Event()
    encode = emb.model.encode

    def held_encode(*args, **kwargs):
        inside.set()
        release.wait(120)
        return encode(*args, **kwargs)

    monkeypatch.setattr(emb.model, "encode", held_encode)
    add_papers(corpus, NEW)
    indexer, stats = run_in_thread(lambda: jobs.refresh_index(settings, corpus, progress=False, embedder=emb))
    try:
        assert inside.wait(60), "the indexer never reached the model"
        search, res = run_in_thread(lambda: svc.search("molecules and message passing"))
        search.join(60)
        assert not search.is_alive(), "the search waited for the indexer's batch"
        assert res[0].mode == "hybrid" and ids(res[0])[0] in ("2502.00008", "2401.00001")
        assert indexer.is_alive()  # the batch was still held all along
    finally:
        release.set()
        indexer.join(120)
    assert stats[0]["embedded"] == len(NEW)


def test_process_embedder_embeds_in_a_niced_child_process():
    emb = ProcessEmbedder("hash")
    try:
        assert emb.pid is None and emb.name == HashEmbedder().name  # nothing started yet
        texts = ["Graph neural networks for molecules.", "Robot grasping in clutter.", ""]
        got = emb.embed(texts)
        assert emb.pid is not None and emb.pid != os.getpid() and emb.dim == HashEmbedder().dim
        assert np.array_equal(got, HashEmbedder().embed(texts))
        assert np.array_equal(emb.embed_query("robot"), HashEmbedder().embed_query("robot"))
        assert os.getpriority(os.PRIO_PROCESS, emb.pid) == os.getpriority(os.PRIO_PROCESS, 0) + NICE
        pid = emb.pid
    finally:
        emb.close()
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_a_servers_embedding_child_leaves_the_groups_signals_to_its_parent():
    """Ctrl-C and a SIGTERM to the process group reach the child too: a server's child
    goes on (its batch finishes) until the server stops it."""
    import signal
    import time

    emb = ProcessEmbedder("hash", ignore_ctrl_c=True)
    try:
        emb.embed(["warm up"])
        for sig in (signal.SIGINT, signal.SIGTERM):
            os.kill(emb.pid, sig)
        time.sleep(0.2)
        assert np.array_equal(emb.embed(["still here"]), HashEmbedder().embed(["still here"]))
        pid = emb.pid
    finally:
        emb.close()
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_the_indexer_embeds_with_a_model_in_a_child_process_only():
    lazy = jobs.indexing_embedder(Settings(embedder="minilm"))
    assert isinstance(lazy, ProcessEmbedder) and lazy.pid is None  # started by the first batch
    assert lazy.name == "all-MiniLM-L6-v2@256"
    assert isinstance(jobs.indexing_embedder(Settings(embedder="hash")), HashEmbedder)  # instant: no process
    assert jobs.indexing_embedder(Settings(embedder="null")).dim == 0


def test_a_search_uses_the_current_readers_while_another_thread_reopens_them(corpus, settings, monkeypatch):
    svc = SearchService(settings, corpus)
    assert ids(svc.search("qubits", mode="keyword")) == []
    add_papers(corpus, NEW)
    jobs.refresh_index(settings, corpus, progress=False)  # a new keyword commit and ANN file

    inside, release = threading.Event(), threading.Event()

    class SlowToOpen(VectorSearcher):
        def __init__(self, *args, **kwargs) -> None:
            inside.set()
            release.wait(120)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(service_module, "VectorSearcher", SlowToOpen)
    opener, first = run_in_thread(lambda: svc.search("qubits"))
    try:
        assert inside.wait(60)
        other, second = run_in_thread(lambda: svc.search("graph networks"))
        other.join(60)
        assert not other.is_alive(), "the search waited for another thread to re-open the index files"
        assert second[0].mode == "hybrid" and second[0].hits  # the previous vectors, still searchable
        assert opener.is_alive()
    finally:
        release.set()
        opener.join(60)
    assert set(ids(first[0])) == {"2510.00010", "2510.00011"}
    assert svc.search("qubits").semantic_coverage == 1.0
