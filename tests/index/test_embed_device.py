"""Where a worker's model runs: CUDA with large forward passes when there is a GPU, else
CPU; asking for CUDA without one is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from paperboy.config import Settings
from paperboy.index import batches
from paperboy.index.embedder import SentenceTransformerEmbedder, get_embedder, minilm_path
from tests.index.conftest import CORPUS, add_papers
from tests.index.test_embed_workers import ROOT

CUDA = torch.cuda.is_available()


@pytest.mark.skipif(CUDA, reason="checks the error when there is no CUDA device")
def test_asking_for_cuda_without_a_gpu_is_a_one_line_error(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATA_DIR": str(tmp_path), "PAPERBOY_EMBED_DEVICE": "cuda", "PYTHONPATH": str(ROOT)})
    r = subprocess.run([sys.executable, "-c", "from paperboy.cli import app; app(['worker', '--embed-only'])"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "PAPERBOY_EMBED_DEVICE=cuda, but torch sees no CUDA device" in r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(RuntimeError, match="no CUDA device"):
        SentenceTransformerEmbedder(minilm_path(), device_setting="cuda")


def test_an_unknown_device_setting_is_refused():
    from paperboy.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="PAPERBOY_EMBED_DEVICE"):
        load_settings(embed_device="tpu")


@pytest.mark.cuda
@pytest.mark.skipif(not CUDA, reason="needs a CUDA device")
def test_a_worker_embeds_on_cuda_in_large_passes(fresh_engine, tmp_path):
    settings = Settings(data_dir=tmp_path, embedder="minilm", embed_device="auto")
    add_papers(fresh_engine, CORPUS)
    runner = batches.worker_runner(settings, fresh_engine)
    assert runner.run_one() == len(CORPUS)
    emb = runner.embedder
    assert emb.device == "cuda" and runner.encode_batch_size == 0  # 0: 256 texts a pass on CUDA
    cpu = get_embedder("minilm", device_setting="cpu")
    from sqlalchemy import select

    from paperboy.index.embedder import paper_text
    from paperboy.index.models import PaperEmbedding
    from paperboy.store.models import Paper

    with fresh_engine.connect() as conn:
        rows = conn.execute(select(Paper.title, Paper.abstract, PaperEmbedding.vector)
                            .join(PaperEmbedding, PaperEmbedding.paper_id == Paper.id)).all()
    want = cpu.embed([paper_text(t, a) for t, a, _ in rows])
    got = np.stack([np.frombuffer(v, dtype="<f4") for _, _, v in rows])
    assert np.min(np.sum(want * got, axis=1)) > 0.999  # the same vectors as on CPU
    runner.close()
