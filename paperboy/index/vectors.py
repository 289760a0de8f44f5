"""The vector index: usearch HNSW (cosine), exact numpy search below ``BRUTE_FORCE_MAX``.

The file ``vectors-<model>.usearch`` under the index dir is a cache of the
``paper_embeddings`` table: it can always be rebuilt from there without re-embedding.
Keys are ``papers.id``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

from paperboy.config import Settings

# Below this many vectors an exact numpy scan is faster than HNSW (measured on the shared
# 2-core box, 384 dims: 5k 0.19 vs 0.85 ms, 10k 1.4 vs 1.1 ms p50). The scan goes in
# 1024-row slices: one big product hands it to BLAS threads, which on a busy machine
# made 2k rows take 19 ms instead of 0.08 ms.
BRUTE_FORCE_MAX = 10_000
SCAN_ROWS = 1024
CONNECTIVITY = 16
EXPANSION_ADD = 64
# The candidates kept while searching (ef); a search for k > ef keeps k (usearch). The
# ``vector_ef_search`` setting, or when it is 0, chosen from the index's size: the recall
# of a fixed ef falls as the graph grows. (size, ef) where ``bench/hnsw_recall.py`` measured
# recall@10 of about 0.95 for typed queries on real-like vectors (docs/scale.md): strict
# recall at 100k and 300k; at 2.6M, where each real paper stands ~265 times among the
# synthetic vectors and the true top 10 lies among near-ties, ann-benchmarks' epsilon
# recall (strict recall there: 0.87 at 1,536, 0.94 at 3,072).
EF_BY_SIZE = ((100_000, 256), (300_000, 384), (2_600_000, 1536))
EF_MAX: int = next(m.le for m in Settings.model_fields["vector_ef_search"].metadata if hasattr(m, "le"))
# One byte a dimension. The graph is built and searched over i8 copies of the vectors:
# 300k real-like vectors (bench/hnsw_recall.py --sizes 300000, then --dtype f16) built in
# 52.4 s instead of f16's 80.2 s and took 152 MB instead of 262 MB (f16 had halved f32's
# memory and built ~3x faster). i8 cosines alone find only ~85 % of the true top 10, so a
# searcher given the stored vectors (``StoredVectors``: paper_embeddings' f32 rows)
# re-ranks the best ``RERANK_MIN`` candidates by their exact cosine, which keeps f16's
# recall (typed queries 0.960 against 0.964 at ef 512, 0.985 against 0.983 at ef 1024,
# docs/scale.md). Files built as f16 are still read (and not re-ranked).
DTYPE = "i8"
RERANK_MIN = 40

# Stored f32 vectors for some paper ids: (the ids found, their rows), in any order.
StoredVectors = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def ef_for(size: int) -> int:
    """The ef for an index of ``size`` vectors: ``EF_BY_SIZE``'s value up to its first size,
    log-log interpolated between its points, and past the last one extended along the last
    segment (not measured), rounded up to a multiple of 32."""
    sizes = np.log([s for s, _ in EF_BY_SIZE])
    efs = np.log([e for _, e in EF_BY_SIZE])
    x = np.log(max(size, EF_BY_SIZE[0][0]))
    if x <= sizes[-1]:
        ef = float(np.exp(np.interp(x, sizes, efs)))
    else:
        slope = (efs[-1] - efs[-2]) / (sizes[-1] - sizes[-2])
        ef = float(np.exp(efs[-1] + slope * (x - sizes[-1])))
    return min(EF_MAX, int(-(-round(ef) // 32) * 32))


def vector_file(index_dir: Path, model: str) -> Path:
    return Path(index_dir) / f"vectors-{re.sub(r'[^A-Za-z0-9_.@-]+', '_', model)[:100]}.usearch"


def new_hnsw(dim: int):
    from usearch.index import Index

    return Index(ndim=dim, metric="cos", dtype=DTYPE, connectivity=CONNECTIVITY,
                 expansion_add=EXPANSION_ADD, expansion_search=ef_for(0))


def load_hnsw(path: Path, *, view: bool = False, ef_search: int = 0):
    """The index in ``path`` (None if there is none), searched with ``ef_search`` or, when
    that is 0, with ``ef_for`` its size."""
    from usearch.index import Index

    if not path.exists():
        return None
    index = Index.restore(str(path), view=view)
    if index is not None:  # the file keeps the ef it was built with; the reader's counts
        index.expansion_search = ef_search or ef_for(len(index))
    return index


def save_hnsw(index, path: Path) -> None:
    """Atomic: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    index.save(str(tmp))
    os.replace(tmp, path)


def upsert(index, ids: np.ndarray, vectors: np.ndarray) -> None:
    if len(ids) == 0:
        return
    ids = np.asarray(ids, dtype=np.uint64)
    present = np.asarray(index.contains(ids), dtype=bool).reshape(-1)
    if present.any():
        index.remove(ids[present])
    index.add(ids, np.ascontiguousarray(vectors, dtype=np.float32))


def _positions(keys: np.ndarray, wanted) -> list[int]:
    """Where each of ``wanted`` (some of ``keys``) sits in ``keys``."""
    where = {int(k): i for i, k in enumerate(keys)}
    return [where[int(k)] for k in wanted]


def _cosines(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
    return (matrix @ q) / np.where(norms > 0, norms, 1.0)


class VectorSearcher:
    """Read side: exact below ``BRUTE_FORCE_MAX`` vectors, HNSW above. An i8 file's own
    vectors are approximate: with ``stored`` (the stored f32 vectors) its candidates are
    re-ranked, and exact similarities and vectors read, from those instead."""

    def __init__(self, path: Path, *, brute_force_max: int = BRUTE_FORCE_MAX, ef_search: int = 0,
                 stored: StoredVectors | None = None) -> None:
        self.path = path
        self.hnsw = None
        self.ids: np.ndarray | None = None
        self.matrix: np.ndarray | None = None
        self.size = 0
        self.stamp = None
        self.ef_search = ef_search
        self.stored: StoredVectors | None = None
        if not path.exists():
            return
        st = path.stat()
        self.stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        index = load_hnsw(path, view=True, ef_search=ef_search)
        if index is None or len(index) == 0:
            return
        self.size = len(index)
        self.ef_search = int(index.expansion_search)  # the setting's, or chosen by the size
        if str(index.dtype).endswith("I8"):
            self.stored = stored
        if self.size <= brute_force_max:
            keys = np.asarray(index.keys, dtype=np.uint64)
            self.ids = keys.astype(np.int64)
            matrix = self._exact_rows(self.ids, np.asarray(index.get(keys, dtype=np.float32),
                                                            dtype=np.float32).reshape(len(keys), -1))
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # unit rows: a product is the cosine
            self.matrix = matrix / np.where(norms > 0, norms, 1.0)
            del index
        else:
            self.hnsw = index

    def _exact_rows(self, keys: np.ndarray, approx: np.ndarray) -> np.ndarray:
        """``approx`` (rows for ``keys``, from the file) with every row that has a stored
        vector replaced by it (a paper whose vector is gone keeps the file's)."""
        out = np.ascontiguousarray(approx, dtype=np.float32)
        if self.stored is None or len(keys) == 0:
            return out
        found, rows = self.stored(np.asarray(keys, dtype=np.int64))
        if len(found):
            out[_positions(keys, found)] = rows
        return out

    def search(self, vec: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        if self.size == 0 or vec.size == 0 or k <= 0:
            return [], []
        k = min(k, self.size)
        if self.matrix is not None:
            q = vec.astype(np.float32)
            sims = np.concatenate([self.matrix[i:i + SCAN_ROWS] @ q for i in range(0, self.size, SCAN_ROWS)])
            top = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
            top = top[np.argsort(-sims[top])]
            return self.ids[top].tolist(), sims[top].astype(float).tolist()
        if self.stored is None:
            m = self.hnsw.search(vec.astype(np.float32), k)
            return [int(x) for x in m.keys], [1.0 - float(d) for d in m.distances]
        # The file's i8 cosines pick the candidates (asking for a few more costs nothing
        # while k <= ef: a search keeps ef of them anyway); the stored vectors give the best
        # RERANK_MIN of them their exact cosines, which decide the top 10. Past those the
        # i8 cosines stand (within ~1 %): reading every candidate of a hybrid query (110)
        # would cost more than the search itself at 2.6M.
        m = self.hnsw.search(vec.astype(np.float32), max(k, RERANK_MIN))
        keys = np.asarray(m.keys, dtype=np.int64)
        if len(keys) == 0:
            return [], []
        sims = 1.0 - np.asarray(m.distances, dtype=np.float32)
        head = keys[:RERANK_MIN]
        found, rows = self.stored(head)
        if len(found):
            sims[_positions(head, found)] = _cosines(np.asarray(rows, dtype=np.float32), vec.astype(np.float32))
        top = np.argsort(-sims, kind="stable")[:k]
        return keys[top].tolist(), sims[top].astype(float).tolist()

    def similarities(self, vec: np.ndarray, ids: list[int]) -> tuple[list[int], list[float]]:
        """The exact cosine of ``vec`` with each of ``ids`` that has a vector, best first
        (alerts score every paper of their period this way, not only the nearest ones)."""
        if self.size == 0 or vec.size == 0 or not ids:
            return [], []
        keys = np.asarray(ids, dtype=np.int64)
        if self.matrix is not None:
            order = np.argsort(self.ids)
            where = np.searchsorted(self.ids, keys, sorter=order)
            where[where >= len(order)] = 0
            rows = order[where]
            found = self.ids[rows] == keys
            keys, matrix = keys[found], self.matrix[rows[found]]
        else:
            present = np.asarray(self.hnsw.contains(keys.astype(np.uint64)), dtype=bool).reshape(-1)
            keys = keys[present]
            if len(keys) == 0:
                return [], []
            matrix = self._exact_rows(keys, np.asarray(self.hnsw.get(keys.astype(np.uint64), dtype=np.float32),
                                                       dtype=np.float32).reshape(len(keys), -1))
        q = vec.astype(np.float32)
        sims = np.concatenate([_cosines(matrix[i:i + SCAN_ROWS], q) for i in range(0, len(keys), SCAN_ROWS)]) \
            if len(keys) else np.zeros(0, dtype=np.float32)
        top = np.argsort(-sims, kind="stable")
        return keys[top].tolist(), sims[top].astype(float).tolist()

    def vector(self, paper_id: int) -> np.ndarray | None:
        if self.matrix is not None:
            where = np.nonzero(self.ids == paper_id)[0]
            return self.matrix[where[0]] if len(where) else None
        if self.hnsw is not None and self.hnsw.contains(paper_id):
            v = self.hnsw.get(paper_id, dtype=np.float32)
            if v is None:
                return None
            return self._exact_rows(np.array([paper_id], dtype=np.int64),
                                    np.asarray(v, dtype=np.float32).reshape(1, -1))[0]
        return None
