"""Exact search over the stored vectors while this node's ANN file is still being built.

A fresh node with millions of stored vectors needs minutes to build its HNSW file (2.6M
vectors: 450.8 s on 2 quiet cores, 1M: 1,512 s on a loaded machine); until then ``ExactStore`` answers semantic queries by
brute force over the ``paper_embeddings`` rows, read in chunks in a background thread
(searchable as each chunk lands) into one f16 matrix: 768 B per 384-d vector plus 8 B
for its id. It holds at most ``exact_vectors_max`` vectors, the newest papers first, so
memory is bounded. ``ServedVectors`` answers from whichever covers more, the ANN file
or the exact store; the service drops the store once the file holds every stored vector.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine

from paperboy.index.models import PaperEmbedding
from paperboy.index.vectors import VectorSearcher

log = logging.getLogger(__name__)

emb_t = PaperEmbedding.__table__
CHUNK = 20_000
DTYPE = np.float16
BYTES_PER_DIM = 2


FETCH_IDS = 500  # ids per statement when re-ranking from the stored vectors


def of_model(engine: Engine, model: str):
    """``paper_embeddings.model = model``, written so that reads by paper id use the primary
    key (paper_id, model). SQLite picks the (model, embedded_at) index for ``model = ?``
    and walks or sorts every vector of the model (``ExactStore.load``: 1M vectors at
    4,800/s instead of 174,000/s): ``model || ''`` hides it. PostgreSQL walks the key for
    the plain equality, and would scan and sort for the concatenation (EXPLAIN, 200k rows)."""
    return emb_t.c.model.concat("") == model if engine.dialect.name == "sqlite" else emb_t.c.model == model


def stored_vectors(engine: Engine, model: str) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A reader of ``model``'s stored f32 vectors by paper id (``vectors.StoredVectors``):
    what an i8 ANN file's candidates are re-ranked with. Read by primary key, a few hundred
    rows a search."""

    def fetch(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found: list[int] = []
        blobs: list[bytes] = []
        dim = 0
        by_model = of_model(engine, model)
        with engine.connect() as conn:
            for lo in range(0, len(ids), FETCH_IDS):
                part = [int(i) for i in ids[lo:lo + FETCH_IDS]]
                for row in conn.execute(select(emb_t.c.paper_id, emb_t.c.dim, emb_t.c.vector)
                                        .where(emb_t.c.paper_id.in_(part), by_model)):
                    found.append(row.paper_id)
                    blobs.append(row.vector)
                    dim = int(row.dim)
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
        return (np.asarray(found, dtype=np.int64),
                np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(found), dim))

    return fetch


def stored_count(engine: Engine, model: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(emb_t).where(emb_t.c.model == model)).scalar_one()


class ExactStore:
    """The stored vectors of ``model`` (at most ``max_vectors``, newest papers first) in
    memory, searched exactly with usearch's SIMD kernels. ``size`` grows as chunks load;
    a search sees the rows loaded when it starts."""

    def __init__(self, engine: Engine, model: str, *, max_vectors: int, chunk: int | None = None,
                 on_chunk: Callable[[int], None] | None = None) -> None:
        self.engine, self.model, self.chunk = engine, model, chunk or CHUNK
        self.target = min(stored_count(engine, model), max(0, max_vectors))
        self.size = 0
        self.dim = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=DTYPE)
        self.done = threading.Event()
        self._stop = threading.Event()
        self._on_chunk = on_chunk  # a hook for tests (and logs): called after each chunk
        self._thread: threading.Thread | None = None

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.matrix.nbytes

    def start(self) -> ExactStore:
        self._thread = threading.Thread(target=self._run, name="paperboy-exact-vectors", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop loading and let the memory go (a search in flight keeps its own references)."""
        self._stop.set()
        self.size = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=DTYPE)

    def _run(self) -> None:
        try:
            self.load()
        except Exception:  # the ANN file still serves; the next reopen tries again
            log.exception("loading vectors for exact search failed")
        finally:
            self.done.set()

    def load(self) -> None:
        """Read the vectors newest paper first, by keyset on ``paper_id``: each chunk is a
        short statement, so no transaction stays open for the whole load."""
        after = None
        while self.size < self.target and not self._stop.is_set():
            # Each chunk must walk the primary key backwards (``of_model``).
            cond = of_model(self.engine, self.model)
            if after is not None:
                cond = and_(cond, emb_t.c.paper_id < after)
            want = min(self.chunk, self.target - self.size)
            with self.engine.connect() as conn:
                rows = conn.execute(select(emb_t.c.paper_id, emb_t.c.dim, emb_t.c.vector).where(cond)
                                    .order_by(emb_t.c.paper_id.desc()).limit(want)).all()
            if not rows:
                break
            if self.dim == 0:
                self.dim = int(rows[0].dim)
                matrix = self.matrix = np.zeros((self.target, self.dim), dtype=DTYPE)
                ids = self.ids = np.zeros(self.target, dtype=np.int64)
            n = len(rows)
            block = np.frombuffer(b"".join(r.vector for r in rows), dtype="<f4").reshape(n, self.dim)
            matrix[self.size:self.size + n] = block
            ids[self.size:self.size + n] = [r.paper_id for r in rows]
            after = rows[-1].paper_id
            if self._stop.is_set():
                break
            self.size += n  # after the rows are written: a search never sees a half chunk
            if self._on_chunk is not None:
                self._on_chunk(self.size)

    def _rows(self) -> tuple[np.ndarray, np.ndarray, int]:
        # The arrays first, then the count: a store closed meanwhile gives no rows, not a
        # count beyond its (emptied) arrays.
        ids, matrix = self.ids, self.matrix
        n = min(self.size, len(ids), len(matrix))
        return ids[:n], matrix[:n], n

    def search(self, vec: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        from usearch.index import MetricKind
        from usearch.index import search as exact_search

        ids, matrix, n = self._rows()
        if n == 0 or vec.size == 0 or k <= 0:
            return [], []
        m = exact_search(matrix, np.asarray(vec, dtype=DTYPE).reshape(-1), min(k, n), MetricKind.Cos,
                         exact=True, threads=1)
        rows = np.asarray(m.keys, dtype=np.int64)
        return ids[rows].tolist(), [1.0 - float(d) for d in m.distances]

    def similarities(self, vec: np.ndarray, want: list[int]) -> tuple[list[int], list[float]]:
        ids, matrix, n = self._rows()
        if n == 0 or vec.size == 0 or not want:
            return [], []
        keys = np.asarray(want, dtype=np.int64)
        order = np.argsort(ids)
        where = np.searchsorted(ids, keys, sorter=order)
        where[where >= n] = 0
        rows = order[where]
        found = ids[rows] == keys
        keys, rows = keys[found], rows[found]
        if len(keys) == 0:
            return [], []
        sub = matrix[rows].astype(np.float32)
        q = np.asarray(vec, dtype=np.float32)
        sims = (sub @ q) / np.maximum(np.linalg.norm(sub, axis=1) * np.linalg.norm(q), 1e-12)
        top = np.argsort(-sims, kind="stable")
        return keys[top].tolist(), sims[top].astype(float).tolist()

    def vector(self, paper_id: int) -> np.ndarray | None:
        ids, matrix, _ = self._rows()
        where = np.nonzero(ids == paper_id)[0]
        return matrix[where[0]].astype(np.float32) if len(where) else None


class ServedVectors:
    """The ANN file and, while it covers less, the exact store: each call is answered by
    whichever holds more vectors now, with the same ``(ids, cosines)`` as HNSW."""

    def __init__(self, ann: VectorSearcher, exact: ExactStore) -> None:
        self.ann, self.exact = ann, exact
        self.path, self.stamp = ann.path, ann.stamp
        self.model = getattr(ann, "model", exact.model)

    def _best(self):
        return self.exact if self.exact.size > self.ann.size else self.ann

    @property
    def size(self) -> int:
        return max(self.ann.size, self.exact.size)

    @property
    def answered_exactly(self) -> bool:
        return self._best() is self.exact

    def search(self, vec: np.ndarray, k: int) -> tuple[list[int], list[float]]:
        return self._best().search(vec, k)

    def similarities(self, vec: np.ndarray, ids: list[int]) -> tuple[list[int], list[float]]:
        return self._best().similarities(vec, ids)

    def vector(self, paper_id: int) -> np.ndarray | None:
        v = self.exact.vector(paper_id) if self.answered_exactly else None
        return v if v is not None else self.ann.vector(paper_id)
