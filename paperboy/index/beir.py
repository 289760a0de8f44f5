"""BEIR collections (corpus.jsonl, queries.jsonl, qrels/SPLIT.tsv) for `paperboy eval beir`."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from paperboy.index.embedder import Embedder, paper_text


@dataclass
class Collection:
    path: Path
    corpus: list[dict]  # {"_id", "title", "text"}
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> relevance


def load_beir(path: Path, split: str = "test") -> Collection:
    path = Path(path)
    corpus_file, queries_file, qrels_file = path / "corpus.jsonl", path / "queries.jsonl", path / "qrels" / f"{split}.tsv"
    for f in (corpus_file, queries_file, qrels_file):
        if not f.exists():
            raise FileNotFoundError(f"{f} not found (expected a BEIR folder: corpus.jsonl, queries.jsonl, qrels/{split}.tsv)")
    corpus = [orjson.loads(line) for line in corpus_file.read_bytes().splitlines() if line.strip()]
    queries = {}
    for line in queries_file.read_bytes().splitlines():
        if line.strip():
            q = orjson.loads(line)
            queries[str(q["_id"])] = q["text"]
    qrels: dict[str, dict[str, int]] = {}
    for i, line in enumerate(qrels_file.read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if i == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue  # header
        if len(parts) >= 3:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[-1])
    return Collection(path, corpus, queries, qrels)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@-]+", "_", name)[:80]


def corpus_vectors(col: Collection, embedder: Embedder, cache_dir: Path, progress=None) -> np.ndarray:
    """Embeddings of the corpus in its order, cached in ``cache_dir`` (keyed by content and model)."""
    digest = hashlib.sha1()
    for doc in col.corpus:
        digest.update(f"{doc['_id']}\x00{doc.get('title', '')}\x00{doc.get('text', '')}\x01".encode())
    cache = Path(cache_dir) / f"{col.path.name}-{digest.hexdigest()[:12]}-{_safe(embedder.name)}.npy"
    if cache.exists():
        return np.load(cache)
    texts = [paper_text(d.get("title", ""), d.get("text", "")) for d in col.corpus]
    chunk = 256
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(embedder.embed(texts[start:start + chunk]))
        if progress:
            progress(min(start + chunk, len(texts)), len(texts))
    vecs = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, vecs)
    tmp.replace(cache)
    return vecs


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** rels.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum((2 ** r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0
