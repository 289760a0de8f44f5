"""A member's "For you" picks from what is stored: their signals, the papers' vectors and
words, scored by ``rank.personal``.

    picks = recommend(conn, settings, user_id, window, model=...)   # (ids, scores) + why lines

The signals (``load_signals``):
* positive: their votes, saves (papers in any of their collections) and seed papers;
  for a collection's own feed, that collection's papers only;
* negative: papers marked "not interested" (also never recommended);
* follows: authors (matched by identity) and categories; a member with follows and no
  liked papers still gets picks (the cold start);
* votes and saves before the member's last reset, and those marked ``ignored``, are
  not learned from, but are still never recommended (already seen).

The candidates of a window (a day or a week of papers) and the vocabulary are built once
and kept (``Pools``): the window's rows, their stored vectors and tf-idf rows, rebuilt
in the background after ``POOL_TTL`` seconds while the kept ones go on serving. A
member's fitted model is kept with the space it was fitted in (``Space.fitted``, the
``MEMBER_MODELS`` most recent), keyed by everything it is made from (their liked papers
in order, dismissed papers, follows): a new vote, save, seed, follow or mark is a new
key, so only a member whose signals changed is refitted, and a repeated request reads
their signals and scores the window without re-reading and re-transforming the liked
papers' text. The vocabulary and idf come from the ``BACKGROUND`` most recent papers up
to the window's end, which also serve as the linear part's negatives
(``personal.Background``). When stored vectors cover too little of the window (no
embedder, or the indexer still running), the content space is a 128-d LSA of the tf-idf
instead, so the feed works from the first minute and never mixes models.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import warnings
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import sparse
from sqlalchemy import and_, desc, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from threadpoolctl import ThreadpoolController

from paperboy.config import Settings
from paperboy.papers.authors import author_identity
from paperboy.papers.queries import estimated_days, in_period, latest_day
from paperboy.papers.visibility import visible
from paperboy.rank import personal
from paperboy.store.models import (
    PAPER_EMBEDDINGS,
    Collection,
    CollectionItem,
    Follow,
    ForYouPrefs,
    InterestSignal,
    Paper,
    Vote,
)

log = logging.getLogger(__name__)

SIGNAL_KINDS = ("seed", "not_interested", "ignored")
BACKGROUND = 3000  # recent papers that give the idf and the linear part's negatives
MAX_LIKED = 300  # the most recent positive signals learned from (older ones add little)
MIN_VECTOR_COVERAGE = 0.9  # of the window's papers with a stored vector, to use vectors
LSA_DIM = 128
POOL_TTL = 300.0  # seconds before a window's candidates are rebuilt (in the background)
# A window built from words alone while a model is set (a fresh instance whose papers are
# still being embedded) is looked at again sooner, so the first members' picks do not stay
# word-based for POOL_TTL once the vectors are there; doubling while they are not.
VECTORLESS_POOL_TTL = 30.0
SPACE_TTL = POOL_TTL * 12  # the same for the vocabulary of the recent papers (a second or so to build)
MAX_POOLS = 16  # windows kept per process: today and week, per feed mode, a digest's past periods
MAX_SPACES = 4  # vocabularies kept (one per newest day; ~20 MB each with the sample's 3,000 papers)
WHY_WORDS = 3
# Words shown (why lines, "What it learned") must tell a researcher something: a term in
# more than GENERIC_SHARE of the recent papers ("performance" 42 %, "data" 33 %, "tasks"
# 27 %, "novel" 24 % of the sample's ML papers; "diffusion" 9 %, "humanoid" 0.1 %) says
# nothing about a topic, nor does the vocabulary every abstract writes in. Display only:
# the ranker's scores use every term. Shares are read from GENERIC_MIN_PAPERS or more.
CLOSE_MIN_PAPERS = 50  # a window's papers needed to tell how alike papers are by chance
CLOSE_PAIRS = 4000  # random pairs of them read for it, once per window
GENERIC_SHARE = 0.15
GENERIC_MIN_PAPERS = 200
ACADEMIC_WORDS = frozenset("""
    accepted achieve achieves achieving address addresses approach approaches art available baseline baselines
    based benchmark benchmarks challenge challenges challenging code comprehensive conference demonstrate
    demonstrates different effective existing experiment experiments experimental extensive figures framework
    frameworks github high improve improved improvement improvements improves introduce introduces key large
    leverage leverages low method methods model models multiple new novel online outperform outperforms pages
    paper performance problem problems propose proposed proposes provide provides recent result results show
    shows significant significantly small state step steps study submitted superior task tasks use used using
    various work""".split())
PAPER_ROWS = 20_000  # liked papers' tf-idf rows kept per vocabulary (~1 KB each): a refit transforms only new ones
MEMBER_MODELS = 2048  # fitted member models kept per content space (least recently used go)


# --- signals ------------------------------------------------------------------------

@dataclass
class Signals:
    user_id: int
    liked: dict[int, str] = field(default_factory=dict)  # paper id -> 'vote' | 'save' | 'seed'
    liked_at: dict[int, dt.datetime | None] = field(default_factory=dict)  # when that signal was given
    dismissed: set[int] = field(default_factory=set)
    seen: set[int] = field(default_factory=set)  # never recommended: voted, saved, seeded, dismissed
    authors: dict[str, str] = field(default_factory=dict)  # followed author identity -> name as followed
    categories: set[str] = field(default_factory=set)
    paused: bool = False
    reset_at: dt.datetime | None = None
    feed_on: bool = False  # the member's private feed of the picks, and its address version
    feed_version: int = 0  # (read here with the rest of the row: the page shows the address)

    @property
    def empty(self) -> bool:
        """Nothing to learn from yet (the page then says how to start)."""
        return not (self.liked or self.authors or self.categories)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.UTC) if value is not None and value.tzinfo is None else value


def load_signals(conn: Connection, user_id: int, *, collection_id: int | None = None) -> Signals:
    """Everything the member told the feed (see the module docstring)."""
    return load_signals_many(conn, [user_id], collection_id=collection_id)[user_id]


def load_signals_many(conn: Connection, user_ids, *, collection_id: int | None = None,
                      chunk: int = 500) -> dict[int, Signals]:
    """``load_signals`` for many members in a few queries per ``chunk`` of them (a digest
    pass composes for every member at once)."""
    out = {uid: Signals(uid) for uid in user_ids}
    found: dict[int, list[tuple[dt.datetime | None, int, str]]] = {uid: [] for uid in out}
    explicit: dict[int, dict[int, str]] = {uid: {} for uid in out}
    ids = sorted(out)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        for uid, paused, reset_at, feed_on, feed_version in conn.execute(
                select(ForYouPrefs.user_id, ForYouPrefs.paused, ForYouPrefs.reset_at, ForYouPrefs.feed_on,
                       ForYouPrefs.feed_version).where(ForYouPrefs.user_id.in_(part))):
            sig = out[uid]
            sig.paused, sig.reset_at = bool(paused), _aware(reset_at)
            sig.feed_on, sig.feed_version = bool(feed_on), int(feed_version or 0)
        for uid, pid, kind, at in conn.execute(select(InterestSignal.user_id, InterestSignal.paper_id,
                                                      InterestSignal.kind, InterestSignal.created_at)
                                               .where(InterestSignal.user_id.in_(part))):
            explicit[uid][pid] = kind
            if kind == "seed" and collection_id is None:
                found[uid].append((_aware(at), pid, "seed"))
        saves = (select(Collection.user_id, CollectionItem.paper_id, CollectionItem.added_at)
                 .join(Collection, Collection.id == CollectionItem.collection_id).where(Collection.user_id.in_(part)))
        if collection_id is not None:
            saves = saves.where(Collection.id == collection_id)
        for uid, pid, at in conn.execute(saves):
            found[uid].append((_aware(at), pid, "save"))
        if collection_id is not None:
            continue
        for uid, pid, at in conn.execute(select(Vote.user_id, Vote.paper_id, Vote.created_at)
                                         .where(Vote.user_id.in_(part))):
            found[uid].append((_aware(at), pid, "vote"))
        for uid, kind, target in conn.execute(select(Follow.user_id, Follow.kind, Follow.target)
                                              .where(Follow.user_id.in_(part))):
            if kind == "author":
                out[uid].authors.setdefault(author_identity(target), target)
            elif kind == "category":
                out[uid].categories.add(target)
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    for uid, sig in out.items():
        mine, marks = found[uid], explicit[uid]
        sig.dismissed = {pid for pid, kind in marks.items() if kind == "not_interested"}
        sig.seen = {pid for _, pid, _ in mine} | set(marks)
        mine.sort(key=lambda f: f[0] or oldest, reverse=True)
        for at, pid, source in mine:
            if pid in marks and marks[pid] != "seed":
                continue  # ignored, or marked not interested after liking it
            if source != "seed" and sig.reset_at is not None and at is not None and at < sig.reset_at:
                continue
            if pid not in sig.liked:
                sig.liked[pid] = source
                sig.liked_at[pid] = at
            if len(sig.liked) >= MAX_LIKED:
                break
    return out


# --- the words and vectors of papers ------------------------------------------------

def _text(title: str, abstract: str | None, comment: str | None = None) -> str:
    return personal.term_text(title, abstract, comment)


def _body(abstract: str | None, comment: str | None) -> str:
    """What ``personal.Written`` reads a paper's words in: the abstract, then the comment as
    a paragraph of its own."""
    return f"{abstract or ''}\n\n{comment or ''}"


def _recent(entries: OrderedDict, key):
    """``entries[key]``, marked the most recently used; None when not kept (the caller
    holds the lock that guards ``entries``)."""
    hit = entries.get(key)
    if hit is not None:
        entries.move_to_end(key)
    return hit


def _dense(centroid: tuple[int, np.ndarray, np.ndarray]) -> np.ndarray:
    """A word centroid kept sparse by ``Space.keep`` (size, nonzero columns, values), dense."""
    size, nz, values = centroid
    dense = np.zeros(size, dtype=values.dtype)
    dense[nz] = values
    return dense


def _keep_recent(entries: OrderedDict, key, value, most: int) -> None:
    """``entries[key] = value`` as the most recently used, the least recently used going
    past ``most`` (the caller holds the lock that guards ``entries``)."""
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > most:
        entries.popitem(last=False)


@dataclass
class Space:
    """The vocabulary (from recent papers) and, when vectors are too few, the LSA."""

    vectorizer: object | None
    vocabulary: list[str]
    background_vectors: np.ndarray | None  # stored vectors of the recent papers (model space)
    matrix: sparse.csr_matrix | None = None  # the recent papers' tf-idf, for the LSA
    background: personal.Background | None = None
    generic: np.ndarray | None = None  # by column: a term too common to show (``GENERIC_SHARE``)
    _lsa: object | None = None
    _lsa_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lsa(self):
        """The LSA of the recent papers' tf-idf, fitted the first time a window needs it
        (only while stored vectors are too few: seconds, once)."""
        if self._lsa is None and self.matrix is not None:
            from sklearn.decomposition import TruncatedSVD

            with self._lsa_lock:
                dim = min(LSA_DIM, self.matrix.shape[1] - 1, self.matrix.shape[0] - 1)
                if self._lsa is None and dim >= 2:
                    self._lsa = TruncatedSVD(dim, n_iter=3, random_state=0).fit(self.matrix)
        return self._lsa

    _fitted: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _fitted_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _learned: OrderedDict = field(default_factory=OrderedDict, repr=False)  # ``learned_words``' answers
    _rows: OrderedDict = field(default_factory=OrderedDict, repr=False)  # paper id -> its tf-idf (indices, values)
    _rows_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # paper id -> (arxiv id, title, categories, stored vector or None), beside ``_rows``
    _papers: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def fitted(self, key: tuple) -> tuple[personal.Model, dict[int, str]] | None:
        """A member's model fitted in this space from exactly the signals ``key`` names, and
        the arXiv ids of their liked papers; None when not kept. Each caller gets its own
        copy (``personal.score`` writes the parts it computed onto the model)."""
        with self._fitted_lock:
            hit = _recent(self._fitted, key)
        if hit is None:
            return None
        model, centroid, arxiv = hit
        if centroid is not None:
            model = replace(model, term_centroid=_dense(centroid))
        return replace(model), arxiv

    def keep(self, key: tuple, model: personal.Model, arxiv: dict[int, str]) -> None:
        """Keep a fitted model (its word centroid, a vocabulary-long vector, kept sparse)."""
        centroid = None
        if model.term_centroid is not None:
            nz = np.flatnonzero(model.term_centroid)
            centroid = (len(model.term_centroid), nz, model.term_centroid[nz])
        with self._fitted_lock:
            _keep_recent(self._fitted, key, (replace(model, term_centroid=None, parts={}), centroid, arxiv),
                         MEMBER_MODELS)

    def centroid_of(self, liked: tuple) -> np.ndarray | None:
        """The word centroid of a kept model fitted from exactly the liked papers ``liked``
        (``Signals.liked``'s items), whatever else it learned from; None when none is kept."""
        with self._fitted_lock:
            hit = next((v for k, v in reversed(self._fitted.items()) if k[1] == liked), None)
        return None if hit is None or hit[1] is None else _dense(hit[1])

    def learned(self, key: tuple, make) -> list[str]:
        """What the feed learned (``learned_words``) for ``key``: kept, else ``make()``."""
        with self._fitted_lock:
            hit = _recent(self._learned, key)
        if hit is not None:
            return hit
        words = make()
        with self._fitted_lock:
            _keep_recent(self._learned, key, words, MEMBER_MODELS)
        return words

    def terms(self, texts: list[str]) -> sparse.csr_matrix | None:
        if self.vectorizer is None or not texts:
            return None
        return self.vectorizer.transform(texts).tocsr().astype(np.float32)

    def paper_terms(self, rows) -> sparse.csr_matrix | None:
        """The tf-idf of papers (rows with ``id``, ``title``, ``abstract``, ``comment``), in
        order; each paper is transformed once per vocabulary and kept (``PAPER_ROWS``), so
        a member's refit after a vote transforms the one new paper, not all 300 liked
        (the transform was ~40 of a refit's ~45 ms). A paper's new version is read when
        the vocabulary is rebuilt (``SPACE_TTL``)."""
        if self.vectorizer is None or not rows:
            return None
        with self._rows_lock:
            kept = {r.id: row for r in rows if (row := _recent(self._rows, r.id)) is not None}
        todo = [r for r in rows if r.id not in kept]
        if todo:
            new = self.terms([_text(r.title, r.abstract, r.comment) for r in todo])
            ends = new.indptr
            made = {r.id: (new.indices[ends[k]:ends[k + 1]].copy(), new.data[ends[k]:ends[k + 1]].copy())
                    for k, r in enumerate(todo)}
            kept.update(made)
            with self._rows_lock:
                for pid, row in made.items():
                    _keep_recent(self._rows, pid, row, PAPER_ROWS)
        return self.term_rows([kept[r.id] for r in rows])

    def term_rows(self, parts: list[tuple[np.ndarray, np.ndarray]]) -> sparse.csr_matrix:
        """Kept tf-idf rows ((indices, values) each) as one matrix, in order."""
        indptr = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([len(i) for i, _ in parts], out=indptr[1:])
        indices = np.concatenate([i for i, _ in parts]) if parts else np.zeros(0, dtype=np.int32)
        data = np.concatenate([d for _, d in parts]).astype(np.float32, copy=False) if parts else np.zeros(0, np.float32)
        return sparse.csr_matrix((data, indices, indptr), shape=(len(parts), len(self.vocabulary)))

    def kept_papers(self, ids: list[int]) -> dict[int, tuple[tuple, tuple | None]]:
        """What ``PaperFeatures`` read of these papers before, with their kept tf-idf rows
        (None without a vocabulary), for those it has both of: a member's refit after a vote
        reads the one new paper, not all 300 liked (the two reads were ~15 of a refit's ~50
        ms on PostgreSQL). Like the words, a paper's new title or vector is read when the
        vocabulary is rebuilt (``SPACE_TTL``)."""
        out = {}
        with self._rows_lock:
            for pid in ids:
                facts = _recent(self._papers, pid)
                if facts is None:
                    continue
                row = None if self.vectorizer is None else _recent(self._rows, pid)
                if row is not None or self.vectorizer is None:
                    out[pid] = (facts, row)
        return out

    def keep_papers(self, facts: dict[int, tuple]) -> None:
        with self._rows_lock:
            for pid, f in facts.items():
                _keep_recent(self._papers, pid, f, PAPER_ROWS)

    def lsa_vectors(self, terms: sparse.csr_matrix | None, n: int) -> np.ndarray:
        if self.lsa is None or terms is None:
            return np.zeros((n, 1), dtype=np.float32)
        v = np.asarray(self.lsa.transform(terms), dtype=np.float32)
        norms = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norms > 0, norms, 1.0)


def _vectors(conn: Connection, ids: list[int], model: str | None) -> dict[int, np.ndarray]:
    if not ids or not model or model == "null":
        return {}
    out: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        for pid, blob in conn.execute(select(PAPER_EMBEDDINGS.c.paper_id, PAPER_EMBEDDINGS.c.vector).where(
                PAPER_EMBEDDINGS.c.model == model, PAPER_EMBEDDINGS.c.paper_id.in_(chunk))):
            out[pid] = np.frombuffer(blob, dtype="<f4")
    return out


def _generic_terms(vocabulary: list[str], matrix: sparse.csr_matrix | None) -> np.ndarray:
    """By column: whether a term is too common to tell a reader anything (``GENERIC_SHARE``
    of the recent papers, or only the words every abstract writes in)."""
    generic = np.array([all(w in ACADEMIC_WORDS for w in term.split()) for term in vocabulary], dtype=bool)
    if matrix is not None and matrix.shape[0] >= GENERIC_MIN_PAPERS:
        share = np.bincount(matrix.indices, minlength=matrix.shape[1]) / matrix.shape[0]
        generic |= share > GENERIC_SHARE
    return generic


def _build_space(conn: Connection, model: str | None, newest: dt.date) -> Space:
    # the recent papers as of the window (an old digest period is ranked with its own time's words)
    rows = conn.execute(select(Paper.id, Paper.title, Paper.abstract, Paper.comment).where(visible(), Paper.announced_on <= newest)
                        .order_by(desc(Paper.announced_on), desc(Paper.id)).limit(BACKGROUND)).all()
    texts = [_text(r.title, r.abstract, r.comment) for r in rows]
    vectorizer, vocabulary, matrix = None, [], None
    if texts:
        vectorizer = personal.term_vectorizer(len(texts))
        try:
            matrix = vectorizer.fit_transform(texts).tocsr()
            vocabulary = personal.term_names(vectorizer)
        except ValueError:  # no word left (a handful of tiny papers)
            vectorizer = None
    stored = _vectors(conn, [r.id for r in rows], model)
    background_vectors = np.stack([stored[r.id] for r in rows if r.id in stored]) if stored else None
    space = Space(vectorizer, vocabulary, background_vectors, matrix, generic=_generic_terms(vocabulary, matrix))
    if background_vectors is not None and len(background_vectors) >= 50:
        space.background = personal.Background.fit(background_vectors)
    return space


@dataclass
class Pool:
    """A window's candidates, in one content space (stored vectors or LSA)."""

    ids: list[int]
    titles: list[str]
    vectors: np.ndarray
    terms: sparse.csr_matrix | None
    categories: list[list[str]]
    authors: list[frozenset[str]]  # identities
    names: list[dict[str, str]]  # identity -> name as written
    uses_vectors: bool
    space: Space
    bodies: list[str] = field(default_factory=list)  # abstract and comment: why words as written
    made: float = field(default_factory=time.monotonic)
    position: dict[int, int] = field(default_factory=dict)  # paper id -> row
    _candidates: personal.Candidates | None = None
    _topics: dict[int, list[tuple[float, list[int]]]] = field(default_factory=dict, repr=False)
    _written: dict[int, personal.Written] = field(default_factory=dict, repr=False)
    _close_floor: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.position = {pid: i for i, pid in enumerate(self.ids)}

    @property
    def close_floor(self) -> float:
        """How similar a paper must be to a liked one for a why line to call it close: more
        than nine in ten pairs of this window's papers are. In MiniLM's space papers of one
        field are all somewhat alike (half the sample's random pairs are above 0.29), so
        "close to" anything above 0 named papers no closer than chance. Too few papers to
        tell (under ``CLOSE_MIN_PAPERS``): any similarity above 0, as before."""
        if self._close_floor is None:
            n = len(self.vectors)
            floor = 0.0
            if n >= CLOSE_MIN_PAPERS and self.vectors.shape[1] > 1:
                rng = np.random.default_rng(0)
                a, b = rng.integers(0, n, CLOSE_PAIRS), rng.integers(0, n, CLOSE_PAIRS)
                keep = a != b
                sims = np.einsum("ij,ij->i", self.vectors[a[keep]], self.vectors[b[keep]])
                floor = max(0.0, float(np.percentile(sims, 90)))
            self._close_floor = floor
        return self._close_floor

    def written(self, i: int) -> personal.Written:
        """How paper ``i`` writes its words, read once per pool (papers are shown to many)."""
        hit = self._written.get(i)
        if hit is None:
            hit = self._written[i] = personal.Written(self.bodies[i] if self.bodies else "", self.titles[i])
        return hit

    def topics(self, n: int) -> list[tuple[float, list[int]]]:
        """The window's papers in at most ``n`` topics, worked out once per pool (``starters``)."""
        hit = self._topics.get(n)
        if hit is None:
            hit = self._topics[n] = topics_of(self.vectors, n)
        return hit

    @property
    def candidates(self) -> personal.Candidates:
        """All the window's papers, built once: what a member has seen is left out when
        scoring (``personal.score(exclude=...)``), not by copying the arrays per request."""
        if self._candidates is None:
            index: dict[str, list[int]] = {}
            for i, cats in enumerate(self.categories):
                for c in cats:
                    index.setdefault(c, []).append(i)
            self._candidates = personal.Candidates(
                ids=self.ids, vectors=self.vectors, terms=self.terms, categories=self.categories,
                authors=self.authors, category_index={c: np.array(at) for c, at in index.items()})
        return self._candidates


@dataclass(frozen=True)
class Window:
    """The announce days whose papers are candidates."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def window(conn: Connection, settings: Settings, span: str = "today") -> Window | None:
    """'today': the newest day with papers; 'week': the seven days that end on it."""
    with Session(bind=conn) as db:
        last = latest_day(db, settings)
    if last is None:
        return None
    return Window(last - dt.timedelta(days=6) if span == "week" else last, last)


class Pools:
    """Windows' candidates and the shared vocabulary ("space"), built on first use and kept
    for the process (``MAX_POOLS`` windows, ``MAX_SPACES`` vocabularies: least recently
    used go, so a process that runs for months holds days, not months, of them).

    Once built, a window's pool is never rebuilt on a member's request: after
    ``POOL_TTL`` seconds (the vocabulary after ``SPACE_TTL``) the next request still gets
    the kept one and a background thread builds its successor from its own connection,
    so no member waits the second or so a vocabulary takes (``bench/foryou_pools.py``).
    Only a window nobody asked for yet (the first request of a process, a new day) is
    built in the request, once: requests for the same window wait for that one build,
    requests for other windows do not."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: OrderedDict[tuple, Pool] = OrderedDict()
        self._space: OrderedDict[tuple, tuple[float, Space]] = OrderedDict()
        self._building: dict[tuple, threading.Lock] = {}
        self._refreshing: dict[tuple, Future] = {}
        self._vectorless: dict[tuple, int] = {}  # window -> builds in a row without vectors
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="for-you-pools")

    def clear(self) -> None:
        with self._lock:
            self._pools.clear()
            self._space.clear()
            self._vectorless.clear()

    def wait(self, timeout: float | None = None) -> None:
        """Return when the rebuilds under way have finished (or ``timeout`` seconds passed)."""
        with self._lock:
            pending = list(self._refreshing.values())
        futures_wait(pending, timeout=timeout)

    @staticmethod
    def _key(conn: Connection, settings: Settings, win: Window, model: str | None) -> tuple:
        return str(conn.engine.url), model, win, settings.feed_mode

    def kept(self, conn: Connection, settings: Settings, win: Window, model: str | None) -> bool:
        """Whether the window's candidates are built (a request for them will not build them)."""
        with self._lock:
            return self._key(conn, settings, win, model) in self._pools

    def pool(self, conn: Connection, settings: Settings, win: Window, model: str | None) -> Pool:
        key = self._key(conn, settings, win, model)
        with self._lock:
            pool = _recent(self._pools, key)
            if pool is not None:
                if time.monotonic() - pool.made >= self._ttl(key, pool, model) and key not in self._refreshing:
                    self._refreshing[key] = self._refresher.submit(self._refresh, conn.engine, settings, win, model, key)
                return pool
            building = self._building.setdefault(key, threading.Lock())
        with building:  # one build of a window at a time; the others wait for it, then reuse it
            with self._lock:
                pool = self._pools.get(key)
            if pool is None:
                pool = self._build(conn, settings, win, model, key)
            with self._lock:
                self._building.pop(key, None)
            return pool

    def _ttl(self, key: tuple, pool: Pool, model: str | None) -> float:
        if pool.uses_vectors or not model or model == "null" or not pool.ids:
            return POOL_TTL
        return min(POOL_TTL, VECTORLESS_POOL_TTL * 2 ** self._vectorless.get(key, 0))

    def _refresh(self, engine, settings: Settings, win: Window, model: str | None, key: tuple) -> None:
        try:
            with engine.connect() as conn:
                self._build(conn, settings, win, model, key, fresh_space=True)
        except Exception:  # the kept pool goes on serving; the next request past the TTL tries again
            log.exception("rebuilding the For you candidates of %s failed", win)
        finally:
            with self._lock:
                self._refreshing.pop(key, None)

    def _build(self, conn: Connection, settings: Settings, win: Window, model: str | None, key: tuple,
               fresh_space: bool = False) -> Pool:
        pool = _build_pool(conn, settings, win, model, self._space_for(conn, model, win.end, fresh_space))
        with self._lock:
            _keep_recent(self._pools, key, pool, MAX_POOLS)
            if pool.uses_vectors:
                self._vectorless.pop(key, None)
            else:
                self._vectorless[key] = min(self._vectorless.get(key, -1) + 1, 8)
        return pool

    def _space_for(self, conn: Connection, model: str | None, newest: dt.date, fresh: bool) -> Space:
        """The vocabulary of the recent papers up to ``newest``: the kept one, unless a
        background rebuild (``fresh``) finds it older than ``SPACE_TTL``."""
        key = (str(conn.engine.url), model, newest)
        with self._lock:
            hit = _recent(self._space, key)
        if hit is None or (fresh and time.monotonic() - hit[0] >= SPACE_TTL):
            hit = (time.monotonic(), _build_space(conn, model, newest))
            with self._lock:
                _keep_recent(self._space, key, hit, MAX_SPACES)
        return hit[1]


def _build_pool(conn: Connection, settings: Settings, win: Window, model: str | None, space: Space) -> Pool:
    with Session(bind=conn) as db:
        estimated = estimated_days(db, settings)
    rows = conn.execute(select(Paper.id, Paper.title, Paper.abstract, Paper.comment, Paper.categories, Paper.authors_text)
                        .where(and_(visible(), in_period(settings, win.start, win.end, estimated)))
                        .order_by(Paper.arxiv_id)).all()
    ids = [r.id for r in rows]
    terms = space.terms([_text(r.title, r.abstract, r.comment) for r in rows])
    stored = _vectors(conn, ids, model)
    uses_vectors = bool(ids) and len(stored) >= MIN_VECTOR_COVERAGE * len(ids)
    if uses_vectors:
        dim = len(next(iter(stored.values())))
        zero = np.zeros(dim, dtype=np.float32)
        vectors = np.stack([stored.get(i, zero) for i in ids]).astype(np.float32)
    else:
        vectors = space.lsa_vectors(terms, len(ids))
    names = [{author_identity(n): n.strip() for n in (r.authors_text or "").split(",") if n.strip()} for r in rows]
    return Pool(ids, [r.title for r in rows], vectors, terms, [(r.categories or "").split() for r in rows],
                [frozenset(n) for n in names], names, uses_vectors, space,
                bodies=[_body(r.abstract, r.comment) for r in rows])


POOLS = Pools()


class Warmer:
    """Builds today's and this week's candidates before a member asks for them: when the
    server starts and when a new day's papers come in (looked for every ``every``
    seconds), so that no member's For you waits the second or so of the build (two,
    with the LSA, on a new instance whose papers are still being embedded). Built even
    before any member has told the feed anything: that member's first For you is the
    one that matters most."""

    def __init__(self, engine, settings: Settings, model: str | None, every: float) -> None:
        self.engine, self.settings, self.model, self.every = engine, settings, model, every
        self._stop = threading.Event()
        self.first_round = threading.Event()  # set when the first tick has ended, built or not
        self._thread: threading.Thread | None = None

    def tick(self) -> list[Window]:
        """Build the windows not yet built; the ones built now are returned."""
        built = []
        with self.engine.connect() as conn:
            for span in ("today", "week"):
                win = window(conn, self.settings, span)
                if win is not None and not POOLS.kept(conn, self.settings, win, self.model):
                    POOLS.pool(conn, self.settings, win, self.model)
                    built.append(win)
        return built

    def start(self) -> Warmer:
        self._thread = threading.Thread(target=self._run, name="for-you-warmer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database away for a moment: members' requests build as before
                log.exception("building the For you candidates ahead of members failed")
            self.first_round.set()
            self._stop.wait(self.every)


_CONTROLLER: list[ThreadpoolController] = []


def _blas() -> ThreadpoolController:
    """The process's thread pools, found once (looking them up takes milliseconds)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


# --- picks ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Why:
    """Why one paper was picked, from the parts that scored it."""

    author: str | None = None  # a followed author on the paper
    liked_id: int | None = None  # the liked paper it is nearest to
    liked_title: str = ""
    liked_arxiv: str = ""
    similarity: float = 0.0
    words: tuple[str, ...] = ()  # the shared words that weighed most
    category: str | None = None  # a followed category it is in
    liked_in_collection: bool = False  # a collection's feed: what it learned from was saved there

    @property
    def text(self) -> str:
        bits = []
        if self.author:
            bits.append(f"by {self.author}, whom you follow")
        if self.liked_id is not None:
            bits.append(f"close to \u201c{self.liked_title}\u201d")
        if self.words:
            # The words weigh most against everything liked, not against the paper named
            # before them: said so, or they read as that paper's.
            whose = "papers saved in this collection" if self.liked_in_collection else "papers you liked"
            bits.append("mentions " + ", ".join(f"\u201c{w}\u201d" for w in self.words) + f", as {whose} do")
        if self.category:
            bits.append(f"{'in' if bits else 'new in'} {self.category}, which you follow")
        return "; ".join(bits) or "new in your categories"

    def as_dict(self) -> dict:
        return {"text": self.text, "followed_author": self.author, "nearest_liked_paper_id": self.liked_id,
                "nearest_liked_title": self.liked_title or None, "similarity": round(self.similarity, 3),
                "words": list(self.words), "followed_category": self.category}


@dataclass
class Picks:
    ids: list[int]
    scores: list[float]
    why: dict[int, Why]
    signals: Signals
    total: int  # candidates ranked (the window's papers not already seen)
    uses_vectors: bool = False


class PaperFeatures:
    """What the model needs of liked and dismissed papers (title, categories, tf-idf row,
    vector in the pool's space), read and computed once for a request or a whole digest
    pass: members like many of the same papers."""

    def __init__(self, conn: Connection, pool: Pool, model: str | None) -> None:
        self.conn, self.pool, self.model = conn, pool, model
        self.rows: dict[int, tuple[str, list[str], int]] = {}  # id -> (title, categories, term row index)
        self.arxiv_ids: dict[int, str] = {}
        self.vectors: dict[int, np.ndarray] = {}
        self.terms: list[sparse.csr_matrix] = []
        self._offset = 0

    def load(self, ids) -> None:
        kept = self.rows  # look up each id (a set minus ``kept.keys()`` walks every row kept)
        missing = sorted({i for i in map(int, ids) if i not in kept})
        space = self.pool.space
        known = space.kept_papers(missing)
        if known:
            order = list(known)
            terms = space.term_rows([known[p][1] for p in order]) if space.vectorizer is not None else None
            facts = [known[p][0] for p in order]
            stored = {p: f[3] for p, f in zip(order, facts, strict=True) if f[3] is not None}
            if self.pool.uses_vectors and len(stored) < len(order):  # kept by a window in the LSA space
                stored.update(_vectors(self.conn, [p for p in order if p not in stored], self.model))
            self._add(order, facts, terms, stored)
        todo = [pid for pid in missing if pid not in known]
        for start in range(0, len(todo), 900):
            chunk = todo[start:start + 900]
            rows = self.conn.execute(select(Paper.id, Paper.arxiv_id, Paper.title, Paper.abstract, Paper.comment, Paper.categories)
                                     .where(Paper.id.in_(chunk))).all()
            if not rows:
                continue
            terms = space.paper_terms(rows)
            stored = _vectors(self.conn, [r.id for r in rows], self.model) if self.pool.uses_vectors else {}
            facts = [(r.arxiv_id, r.title, (r.categories or "").split(), stored.get(r.id)) for r in rows]
            space.keep_papers({r.id: f for r, f in zip(rows, facts, strict=True)})
            self._add([r.id for r in rows], facts, terms, stored)
        if len(self.terms) > 1:
            self.terms = [sparse.vstack(self.terms).tocsr()]

    def _add(self, ids: list[int], facts: list[tuple], terms: sparse.csr_matrix | None,
             stored: dict[int, np.ndarray]) -> None:
        """Papers read (or kept), in order: their rows of ``terms`` follow those added before."""
        if terms is not None:
            self.terms.append(terms)
        for k, (pid, (arxiv_id, title, categories, _)) in enumerate(zip(ids, facts, strict=True)):
            self.arxiv_ids[pid] = arxiv_id
            self.rows[pid] = (title, categories, self._offset + k if terms is not None else -1)
        if self.pool.uses_vectors:
            self.vectors.update((pid, stored[pid]) for pid in ids if pid in stored)
        elif terms is not None:
            for pid, v in zip(ids, self.pool.space.lsa_vectors(terms, len(ids)), strict=True):
                self.vectors[pid] = v
        self._offset += len(ids)

    def profile(self, sig: Signals) -> personal.Profile:
        self.load(list(sig.liked) + sorted(sig.dismissed))
        liked = [pid for pid in sig.liked if pid in self.rows]
        with_vec = [pid for pid in liked if pid in self.vectors]
        dim = self.pool.vectors.shape[1]
        positives = (np.stack([self.vectors[p] for p in with_vec]).astype(np.float32) if with_vec
                     else np.zeros((0, dim), dtype=np.float32))
        rows = [self.rows[p][2] for p in liked]
        terms = self.terms[0][rows] if self.terms and liked and min(rows) >= 0 else None
        neg = [self.vectors[p] for p in sig.dismissed if p in self.vectors]
        return personal.Profile(
            positives=positives, positive_ids=with_vec, positive_titles=[self.rows[p][0] for p in with_vec],
            positive_terms=terms, positive_categories=[self.rows[p][1] for p in liked],
            negatives=np.stack(neg).astype(np.float32) if neg else None, follows=frozenset(sig.authors),
            followed_categories=frozenset(sig.categories))


def _why(model: personal.Model, cands: personal.Candidates, i: int, pool: Pool, sig: Signals,
         pid: int) -> Why:
    centroid = model.term_centroid
    return _why_of(model.follows, model.positives, model.positive_ids, model.positive_titles,
                   None if centroid is None else centroid.__getitem__, cands, i, pool, sig, pid)


def _why_of(follows: frozenset[str], positives: np.ndarray, positive_ids, positive_titles,
            centroid_at, cands: personal.Candidates, i: int, pool: Pool, sig: Signals, pid: int) -> Why:
    """The why line of candidate ``i`` from the member's fitted parts; ``centroid_at``
    gives the (unit) word centroid at the given term indices, or is None without words."""
    author = None
    if follows and cands.authors:
        matched = sorted(follows.intersection(cands.authors[i]))
        if matched:
            names = pool.names[pool.position[pid]]
            author = names.get(matched[0]) or sig.authors.get(matched[0])
    liked_id, liked_title, similarity = None, "", 0.0
    if len(positives) and pool.vectors.shape[1] > 1:
        sims = positives @ np.asarray(cands.vectors[i], dtype=np.float32)
        j = int(np.argmax(sims))
        if sims[j] > pool.close_floor:
            liked_id, liked_title, similarity = positive_ids[j], positive_titles[j], float(sims[j])
    words: tuple[str, ...] = ()
    if centroid_at is not None and cands.terms is not None:
        start, end = cands.terms.indptr[i], cands.terms.indptr[i + 1]  # row i, without a sparse copy
        indices = cands.terms.indices[start:end]
        weight = cands.terms.data[start:end] * centroid_at(indices)
        order = np.argsort(-weight)[:8 * WHY_WORDS]  # room for generic words and phrases' words left out
        written = pool.written(i)
        generic = pool.space.generic
        words = tuple(written.form(term) for term in personal.distinct_terms(
            (pool.space.vocabulary[indices[k]] for k in order
             if weight[k] > 0 and (generic is None or not generic[indices[k]])), WHY_WORDS))
    category = next((c for c in cands.categories[i] if c in sig.categories), None)
    return Why(author=author, liked_id=liked_id, liked_title=liked_title, similarity=similarity, words=words,
               category=category)


def recommend(conn: Connection, settings: Settings, user_id: int, win: Window, *, model: str | None,
              collection_id: int | None = None, limit: int = 30, offset: int = 0,
              exclude: set[int] | frozenset[int] = frozenset(), signals: Signals | None = None,
              weights: personal.Weights = personal.Weights(), features: PaperFeatures | None = None) -> Picks:
    """The member's best papers of the window, best first, each with its why line. Nothing
    already voted, saved, seeded, dismissed or in ``exclude`` is picked."""
    sig = signals or load_signals(conn, user_id, collection_id=collection_id)
    if sig.empty or sig.paused:  # nothing to rank with: the window's candidates are not needed
        return Picks([], [], {}, sig, 0, True)
    pool = POOLS.pool(conn, settings, win, model)
    if not pool.ids:
        return Picks([], [], {}, sig, 0, pool.uses_vectors)
    cands = pool.candidates
    skip = sig.seen | set(exclude)
    if all(pid in skip for pid in cands.ids):
        return Picks([], [], {}, sig, 0, pool.uses_vectors)
    if features is None or features.pool is not pool:
        features = PaperFeatures(conn, pool, model)
    key = (pool.uses_vectors, tuple(sig.liked.items()), tuple(sorted(sig.dismissed)), tuple(sorted(sig.authors)),
           tuple(sorted(sig.categories)), weights)
    # Small matrices: BLAS threads cost more to wake than the products take (4.7 ms
    # against 0.2 ms for a day's candidates, measured), and requests run side by side.
    with _blas().limit(limits=1, user_api="blas"):
        fitted = pool.space.fitted(key)
        if fitted is None:
            model_ = personal.fit(features.profile(sig), pool.space.background if pool.uses_vectors else None, weights)
            arxiv = {pid: features.arxiv_ids[pid] for pid in model_.positive_ids}
            pool.space.keep(key, model_, arxiv)
        else:
            model_, arxiv = fitted
        ids, scores = personal.score(model_, cands, weights, exclude=skip)
        page = ids[offset:offset + limit]
        why = {pid: _why(model_, cands, pool.position[pid], pool, sig, pid) for pid in page}
    why = {pid: replace(w, liked_arxiv=arxiv.get(w.liked_id, "")) if w.liked_id is not None else w
           for pid, w in why.items()}
    if collection_id is not None:  # a collection's feed learns from what was saved in it
        why = {pid: replace(w, liked_in_collection=True) for pid, w in why.items()}
    return Picks(page, [float(s) for s in scores[offset:offset + limit]], why, sig, len(ids), pool.uses_vectors)


# --- the cold start: papers to begin with -------------------------------------------------

STARTERS = 12  # papers offered to a member with nothing to learn from


def topics_of(vectors: np.ndarray, n: int) -> list[tuple[float, list[int]]]:
    """The rows of ``vectors`` in at most ``n`` topics by k-means over the unit vectors
    (their dot products are cosines), largest topic first: its share of the rows and its
    rows, the nearest its centre first. Seeded, so every process finds the same topics.
    A week of papers (7,000 MiniLM vectors) takes 0.13-0.19 s here, once per window."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    x = np.asarray(vectors, dtype=np.float32)
    k = min(n, len(x))
    if k == 0:
        return []
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    with warnings.catch_warnings(), _blas().limit(limits=1, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # near-duplicates: fewer distinct topics than k
        km = KMeans(n_clusters=k, n_init=1, random_state=0).fit(x)
    found = []
    for c in range(k):
        rows = np.flatnonzero(km.labels_ == c)
        if len(rows):
            nearest = rows[np.argsort(-(x[rows] @ km.cluster_centers_[c]), kind="stable")]
            found.append((len(rows) / len(x), [int(r) for r in nearest]))
    return sorted(found, key=lambda t: (-t[0], t[1][0]))


def starters(conn: Connection, settings: Settings, win: Window, *, model: str | None, n: int = STARTERS,
             exclude: set[int] | frozenset[int] = frozenset()) -> tuple[list[int], list[float]]:
    """For a member with nothing to learn from: one paper from each of the window's ``n``
    largest topics, the one nearest the topic's centre, so that a few votes among them
    tell the feed what the member works on (Scholar Inbox asks a new reader to rate such
    a spread). ``(ids, scores)``, the score being the topic's share of the window; a
    paper in ``exclude`` (marked not interested) gives way to the next of its topic."""
    pool = POOLS.pool(conn, settings, win, model)
    ids: list[int] = []
    scores: list[float] = []
    for share, rows in pool.topics(n):
        pid = next((pool.ids[r] for r in rows if pool.ids[r] not in exclude), None)
        if pid is not None:
            ids.append(pid)
            scores.append(share)
    return ids, scores


def learned_words(conn: Connection, settings: Settings, sig: Signals, win: Window, *, model: str | None,
                  n: int = 12) -> list[str]:
    """The words that weigh most in what the member liked (shown on "what the feed learned"):
    the largest of their liked papers' mean tf-idf, which is the word centroid For you
    fits, so a model For you keeps gives it without reading the papers' words again. Kept
    per liked papers until the vocabulary is rebuilt."""
    if not sig.liked:
        return []
    pool = POOLS.pool(conn, settings, win, model)
    liked = tuple(sig.liked.items())
    return pool.space.learned((liked, n), lambda: _learned_words(conn, pool.space, liked, n))


def _learned_words(conn: Connection, space: Space, liked: tuple, n: int) -> list[str]:
    ids = [pid for pid, _source in liked]
    found = {r.id: r for r in conn.execute(select(Paper.id, Paper.title, Paper.abstract, Paper.comment)
                                           .where(Paper.id.in_(ids)))}
    rows = [found[pid] for pid in ids if pid in found]  # the latest liked first
    weight = space.centroid_of(liked)
    if weight is None:
        terms = space.paper_terms(rows)
        if terms is None or not terms.shape[0]:
            return []
        weight = np.asarray(terms.mean(axis=0)).ravel()
    vocab = space.vocabulary
    generic = space.generic
    chosen = personal.distinct_terms((vocab[k] for k in np.argsort(-weight)
                                      if weight[k] > 0 and (generic is None or not generic[k])), n)
    written = _written_of(rows, {w for term in chosen for w in term.split()})
    return [written.form(term) for term in chosen]


def _written_of(rows, words: set[str]) -> personal.Written:
    """How the liked papers write ``words`` (lower case): ``Written`` told to read only
    those (its Python loop over every word of 300 abstracts took ~130 ms a page)."""
    return personal.Written("\n\n".join(_body(r.abstract, r.comment) for r in rows),
                            "\n".join(r.title for r in rows), only=words)


# --- a whole digest pass at once ------------------------------------------------------

def _standardise_columns(x: np.ndarray) -> np.ndarray:
    """``personal._standardise`` of every column (one member's part each)."""
    x = x.astype(np.float64)
    sd = x.std(axis=0)
    ok = sd > 1e-12
    return np.where(ok, (x - x.mean(axis=0)) / np.where(ok, sd, 1.0), 0.0)


@dataclass
class _Member:
    liked: list[int]  # liked papers with features, most recent first
    with_vec: list[int]  # of those, the ones with a vector (the model's positives)
    vec_cols: list[int]  # their columns in PassScores.vectors
    term_rows: list[int] | None  # the liked papers' rows in PaperFeatures.terms


class PassScores:
    """"For you" for every member of a digest pass, scored in bulk: the same parts, weights
    and picks as ``recommend`` (one member at a time), as matrix products.

    Every (candidate, liked paper) cosine and tf-idf product is computed once for the pass
    (``sims_t``, ``words_t``: members like many of the same papers); a member's parts are then
    column gathers of those (kNN: the max; centroid and words: the mean, which
    standardises to the same values as the cosine to the normalised centroid) and the
    linear and category parts for a chunk of members at once. The why lines are made for
    the few papers shown only, from the same values ``personal.fit`` gives. A member this
    does not cover (papers marked "not interested", ``knn_k`` > 1, a follow weight, no
    liked paper with a vector) gets None: the caller ranks them with ``recommend``.
    """

    def __init__(self, pool: Pool, features: PaperFeatures, signals: dict[int, Signals], order: list[int],
                 weights: personal.Weights, chunk_cells: int = 4_000_000) -> None:
        self.pool, self.features, self.signals, self.weights = pool, features, signals, weights
        self.order = list(dict.fromkeys(uid for uid in order if uid in signals))
        self.at = {uid: k for k, uid in enumerate(self.order)}
        self.chunk_cells = chunk_cells
        self.rows: dict[int, np.ndarray | None] = {}
        self.members: dict[int, _Member] = {}
        cands = pool.candidates
        vec_ids = sorted(features.vectors)
        self.vec_col = {pid: k for k, pid in enumerate(vec_ids)}
        dim = pool.vectors.shape[1]
        self.vectors = (np.stack([features.vectors[p] for p in vec_ids]).astype(np.float32) if vec_ids
                        else np.zeros((0, dim), dtype=np.float32))
        with _blas().limit(limits=1, user_api="blas"):
            # (liked papers, candidates): each liked paper's cosines, then its tf-idf products
            sims = np.asarray(cands.vectors, dtype=np.float32) @ self.vectors.T
            self.sims_t = np.ascontiguousarray(sims.T)
            self.terms = features.terms[0] if features.terms else None
            self.words_t = None
            if self.terms is not None and cands.terms is not None and (weights.words or weights.words_knn):
                self.words_t = np.ascontiguousarray((cands.terms @ self.terms.T).toarray().T)
            self._ends = self.terms.indptr.tolist() if self.terms is not None else []
        self.background = pool.space.background if pool.uses_vectors else None
        self.categories = sorted(cands.category_index or {})
        self.category_col = {c: k for k, c in enumerate(self.categories)}
        self._scratch: np.ndarray | None = None

    def _member(self, sig: Signals) -> _Member | None:
        f, w = self.features, self.weights
        if w.knn_k != 1 or (w.follow and sig.authors) or any(p in f.vectors for p in sig.dismissed):
            return None
        liked = [pid for pid in sig.liked if pid in f.rows]
        with_vec = [pid for pid in liked if pid in f.vectors]
        if not with_vec:
            return None
        rows = [f.rows[p][2] for p in liked]
        term_rows = rows if self.terms is not None and min(rows) >= 0 else None
        return _Member(liked, with_vec, [self.vec_col[p] for p in with_vec], term_rows)

    def _compute(self, uids: list[int]) -> None:
        """Score a chunk of members: ``rows[uid]``, the combined score of every candidate."""
        self.rows, self.members = {}, {}
        chunk: list[tuple[int, _Member]] = []
        for uid in uids:
            self.rows[uid] = None
            m = self._member(self.signals[uid])
            if m is not None:
                chunk.append((uid, m))
                self.members[uid] = m
        if not chunk or not self.pool.ids:
            return
        w, n = self.weights, len(self.pool.ids)
        total = np.zeros((n, len(chunk)), dtype=np.float64)

        def gathered(table_t: np.ndarray, cols: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
            """(max, mean) over each member's columns of a table, given transposed (one
            contiguous row per liked paper: the gather and the sums run along rows)."""
            flat = np.fromiter((c for cs in cols for c in cs), dtype=np.intp)
            counts = np.fromiter((len(cs) for cs in cols), dtype=np.intp)
            starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
            g = table_t[flat]
            return np.maximum.reduceat(g, starts, axis=0).T, (np.add.reduceat(g, starts, axis=0) / counts[:, None]).T

        # the parts in ``personal.parts`` order (the sum is taken in the same order)
        with _blas().limit(limits=1, user_api="blas"):
            knn, mean_sim = gathered(self.sims_t, [m.vec_cols for _, m in chunk])
            for weight, part in ((w.knn, knn), (w.centroid, mean_sim)):
                if weight:
                    total += weight * _standardise_columns(part)
            if self.background is not None and w.linear:
                counts = np.array([len(m.vec_cols) for _, m in chunk])
                means = np.stack([self.vectors[m.vec_cols].mean(axis=0) for _, m in chunk])
                directions = (means - self.background.mean) @ self.background.precision.T
                lin = np.asarray(self.pool.vectors, dtype=np.float32) @ directions.T
                lin[:, counts < w.linear_min_positives] = 0.0  # no linear part for them
                total += w.linear * _standardise_columns(lin)
            if self.words_t is not None:
                have = [j for j, (_, m) in enumerate(chunk) if m.term_rows]
                if have:
                    wknn, wmean = gathered(self.words_t, [chunk[j][1].term_rows for j in have])
                    for weight, part in ((w.words, wmean), (w.words_knn, wknn)):
                        if weight:
                            full = np.zeros((n, len(chunk)), dtype=np.float32)
                            full[:, have] = part
                            total += weight * _standardise_columns(full)
            if w.category and self.categories:
                share = np.zeros((len(chunk), len(self.categories)), dtype=np.float64)
                for j, (uid, m) in enumerate(chunk):
                    for pid in m.liked:
                        for c in set(self.features.rows[pid][1]):
                            k = self.category_col.get(c)
                            if k is not None:
                                share[j, k] += 1
                    share[j] /= max(len(m.liked), 1)
                    for c in self.signals[uid].categories:
                        k = self.category_col.get(c)
                        if k is not None:
                            share[j, k] = 1.0
                share32 = share.astype(np.float32)
                part = np.zeros((n, len(chunk)), dtype=np.float32)
                index = self.pool.candidates.category_index or {}
                for k, c in enumerate(self.categories):
                    at = index[c]
                    part[at] = np.maximum(part[at], share32[:, k])
                total += w.category * _standardise_columns(part)
        for j, (uid, _m) in enumerate(chunk):
            self.rows[uid] = total[:, j].copy()

    def _next_chunk(self, uid: int) -> list[int]:
        start = self.at.get(uid)
        if start is None:
            return [uid]
        size = max(16, self.chunk_cells // max(len(self.pool.ids) * 24, 1))
        return self.order[start:start + size]

    def picks(self, uid: int, exclude: set[int], limit: int, min_score: float) -> list[tuple[int, float, Why]] | None:
        """The member's best ``limit`` candidates scoring at least ``min_score``, not seen and
        not in ``exclude``, best first, with why lines; None when the member is not covered
        here (see the class docstring)."""
        if uid not in self.signals:
            return None
        if uid not in self.rows:
            self._compute(self._next_chunk(uid))
        row = self.rows.get(uid)
        if row is None:
            return None
        m, sig = self.members[uid], self.signals[uid]
        skip = sig.seen | set(exclude) | set(m.with_vec)
        ids = self.pool.ids
        chosen: list[int] = []
        for i in np.argsort(-row, kind="stable"):
            if row[i] < min_score or len(chosen) == limit:
                break
            if ids[i] not in skip:
                chosen.append(int(i))
        if not chosen:
            return []
        return [(ids[i], float(row[i]), why) for i, why in zip(chosen, self._whys(m, sig, chosen), strict=True)]

    def _whys(self, m: _Member, sig: Signals, chosen: list[int]) -> list[Why]:
        cands = self.pool.candidates
        positives = self.vectors[m.vec_cols]
        titles = [self.features.rows[p][0] for p in m.with_vec]
        centroid_at, touched = None, None
        if m.term_rows:
            # The member's word centroid exactly as ``personal.fit`` makes it (the csr mean
            # sums the liked rows in order in float32, then ``_unit``), in a dense scratch
            # vector that is cleared after: it is read at the shown papers' terms only.
            if self._scratch is None:
                self._scratch = np.zeros(self.terms.shape[1], dtype=np.float32)
            scratch, t = self._scratch, self.terms
            ends = self._ends
            spans = [(ends[r], ends[r + 1]) for r in m.term_rows]
            touched = np.concatenate([t.indices[a:b] for a, b in spans])
            # ``add.at`` adds in array order: row by row, as the csr mean does
            np.add.at(scratch, touched, np.concatenate([t.data[a:b] for a, b in spans]) * (1.0 / len(m.term_rows)))
            norm = float(np.linalg.norm(scratch))

            def centroid_at(indices: np.ndarray) -> np.ndarray:
                return scratch[indices] / norm if norm > 0 else scratch[indices]

        try:
            return [_why_of(frozenset(sig.authors), positives, m.with_vec, titles, centroid_at, cands, i, self.pool,
                            sig, self.pool.ids[i]) for i in chosen]
        finally:
            if touched is not None:
                self._scratch[touched] = 0.0
