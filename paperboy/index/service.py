"""Search service (owned by index): hybrid keyword + semantic search and similar papers.

Contract used by the web, digest and CLI:
    service.search(query: str, *, limit=20, offset=0, category=None, date_from=None,
                   date_to=None, author=None, sort="relevance") -> SearchResults
    service.similar(arxiv_id: str, *, limit=10) -> list[Hit]
    service.alert_search(query: str, *, date_from=None, date_to=None, limit=50,
                         min_similarity=0.5) -> SearchResults   (a digest's saved search)

One service object per (index dir, database) is shared by all threads of a process.
It re-opens the index files when another process (the worker) has changed them, and
never raises for a query: problems come back as ``messages`` / ``error``.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import bindparam, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from paperboy.config import Settings
from paperboy.index import fusion, jobs
from paperboy.index.embedder import (
    Embedder,
    configured_embedder,
    embedder_name,
    get_embedder,
    needs_no_model,
    setting_for,
)
from paperboy.index.exact import ExactStore, ServedVectors, stored_count, stored_vectors
from paperboy.index.keyword import KeywordIndex, searchable_query, stem
from paperboy.index.models import PaperEmbedding
from paperboy.index.query import ParsedQuery, match_arxiv_id, parse_date_range, parse_query
from paperboy.index.snippets import WINDOW_CHARS, highlight, query_terms
from paperboy.index.trends import TrendCounter
from paperboy.index.vectors import VectorSearcher, vector_file
from paperboy.papers.textclean import clean_tex
from paperboy.papers.visibility import visible
from paperboy.store.models import Paper

log = logging.getLogger(__name__)

SORTS = ("relevance", "date", "votes")
MODES = ("hybrid", "keyword", "semantic")
MAX_LIMIT = 1000
MAX_OFFSET = 10_000
CANDIDATES = 100  # per ranker, before fusion
TITLES_PER_QUERY = 100  # BibTeX titles looked up among the stored papers in one keyword query
TITLE_CANDIDATES = 5  # papers kept per title (same-titled papers, titles that hold it)
SYNC_BUILD_MAX = 50_000  # a fresh instance indexes this many papers inline on first use
# Semantic matches below this cosine are noise (all-MiniLM-L6-v2: the median of a SciFact
# claim's top-100 is 0.38; cutting at 0.25 changes no SciFact figure). Without it every
# query, even gibberish, would "match" its nearest papers.
MIN_SIMILARITY = 0.25
# Similar papers come from vectors only once the paper has one and this share of the
# corpus does; before that (the first hour after an import) from a keyword
# more-like-this: the nearest vectors of a partly embedded corpus all come from the part
# embedded so far (seen: every neighbour of the newest papers came from one year).
SIMILAR_MIN_COVERAGE = 0.9
# ... where a paper's keyword neighbours, when too few share a fifth of its distinctive
# terms, may share as few as this many.
SIMILAR_MIN_SHARED = 2
# The stored vectors are searched exactly from memory (``exact.py``) while the ANN file
# holds fewer than this share of them (or of PAPERBOY_EXACT_VECTORS_MAX).
EXACT_BELOW = 0.9
# An alert scores every paper of its period by meaning (exact cosine) when the period
# holds at most this many papers passing its filters; past that, the nearest
# ALERT_NEAREST of the whole corpus are checked instead.
ALERT_SCAN_MAX = 50_000
# A member's own papers found by meaning alone must be this close to the query's words
# (as an alert's default: docs/search.md); their words match whatever the cosine.
LIBRARY_MIN_SIMILARITY = 0.5
ALERT_NEAREST = 5_000
LIKE_MARKED = 10  # "papers like this text": its most distinctive terms marked in snippets
QUERY_CACHE = 2048  # query vectors kept (384 float32 each: 3 MB)
MODEL_LOADING = ("Matching by words only for a few seconds more: this server has just started and is still "
                 "loading the model that matches by meaning.")
_ROWS_SQL = (
    select(Paper.id, Paper.arxiv_id, Paper.title, Paper.abstract)
    .where(visible(), Paper.id.in_(bindparam("ids", expanding=True)))
)


@dataclass
class Hit:
    paper_id: int
    arxiv_id: str
    score: float
    snippet: str = ""  # HTML-safe snippet with <mark> around matched terms
    title_html: str = ""  # HTML-safe title with <mark> around matched terms


@dataclass
class SearchResults:
    hits: list[Hit]
    total: int
    query: str
    semantic_coverage: float = 0.0  # share of the corpus with vectors
    messages: list[str] = field(default_factory=list)
    redirect_arxiv_id: str | None = None  # the query was an arXiv id/URL of a stored paper
    error: str | None = None  # the query could not run at all (messages say why)
    mode: str = "hybrid"  # what actually ran: hybrid, keyword, semantic
    related: int = 0  # of ``total``, the papers found by meaning only (without the words)
    # The query held nothing to search for (empty, only common words): the page offers
    # no "Alert me" and no other mode for it.
    unsearchable: bool = False
    # The hits are in relevance's order and their scores are relevance: not so for a query
    # of filters only (author:, cat:, a year) or a sort by date or votes, whose scores are
    # the sort key (a day as a number).
    ranked: bool = True


@dataclass
class Within:
    """A search of a member's own papers (``SearchService.within``): ``(ids, scores)``,
    best first, like every ranker; ``related`` of them found by meaning only."""
    ids: list[int]
    scores: list[float]
    messages: list[str] = field(default_factory=list)
    error: str | None = None
    related: int = 0


def _stamp(path) -> tuple | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _surface_forms(text: str, terms: list[str]) -> list[str]:
    """Each index term (a stem: "hemodynam") as the text first spells it ("hemodynamic")."""
    wanted, seen = set(terms), {}
    for m in re.finditer(r"[^\W_]+", text):
        for term in stem(m.group(0)[:40]):
            if term in wanted and term not in seen:
                seen[term] = m.group(0).lower()
    return [seen.get(t, t) for t in terms]


def _narrow_dates(q: ParsedQuery, date_from, date_to, messages: list[str]) -> None:
    """The query's own date range, narrowed by the ``date_from``/``date_to`` filters."""
    lo = _as_date(date_from, "date_from", messages, end=False)
    hi = _as_date(date_to, "date_to", messages, end=True)
    if lo and (q.date_from is None or lo > q.date_from):
        q.date_from = lo
    if hi and (q.date_to is None or hi < q.date_to):
        q.date_to = hi


def _as_date(value, name: str, messages: list[str], *, end: bool) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        lo, hi = parse_date_range(str(value).strip())
        return hi if end else lo
    except ValueError:
        messages.append(f"{name} '{str(value)[:40]}' is not a date (YYYY-MM-DD); ignored.")
        return None


class SearchService:
    # Hybrid queries run tantivy on a small thread pool while the query is embedded and the
    # vectors searched; False runs everything in the calling thread (same results).
    concurrent = True
    # Called with the rows loaded after each chunk of the exact store (tests hold it here).
    exact_chunk_hook = None

    def __init__(self, settings: Settings, engine: Engine, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self._embedder = embedder
        self.model = embedder.name if embedder else embedder_name(configured_embedder(settings))
        self.semantic_enabled = self.model != "null"
        self._lock = threading.RLock()
        self._warming = False  # ``warm`` is loading the query embedder (a server starting)
        self._reload_lock = threading.Lock()  # one thread re-opens changed index files
        self._kw: KeywordIndex | None = None
        self._kw_stamp: float | None = None
        # The vectors searched: the configured model's, or while a new model is being
        # embedded the previous one's (jobs.update_serving); the query is embedded with
        # the model of the file it is searched in (``vec.model``).
        self._serving_stamp = None
        self._exact: ExactStore | None = None  # while the ANN file covers less than is stored
        self._vec = self._open_vectors(self._serving()) if self.semantic_enabled else None
        self._visible_docs = 0
        self._hidden: frozenset[int] = frozenset()  # hidden in the keyword index (read at reload)
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pool: ThreadPoolExecutor | None = None
        self.trends = TrendCounter(self.keyword_reader)  # topics counted per week or month

    # --- readers --------------------------------------------------------------------
    def _serving(self) -> str:
        """The model whose vectors are searched (an embedder handed in serves itself)."""
        if self.model != embedder_name(configured_embedder(self.settings)):
            return self.model
        return jobs.serving_model(self.settings)

    def _open_vectors(self, model: str) -> VectorSearcher | ServedVectors:
        self._serving_stamp = self._serving_state_stamp()
        vec = VectorSearcher(vector_file(self.settings.resolved_index_dir, model),
                             ef_search=self.settings.vector_ef_search, stored=stored_vectors(self.engine, model))
        vec.model = model  # type: ignore[attr-defined]
        return self._with_exact(vec, model)

    def _with_exact(self, ann: VectorSearcher, model: str) -> VectorSearcher | ServedVectors:
        """While the ANN file holds fewer vectors than are stored (a fresh node builds it
        for minutes: 7.5 at 2.6M vectors), the stored vectors are searched exactly from memory
        (``exact.ExactStore``, loading in the background); the store is released once the
        file has caught up."""
        exact = self._exact
        if exact is not None and exact.model != model:
            exact.close()
            exact = self._exact = None
        cap = self.settings.exact_vectors_max
        if exact is not None and (cap <= 0 or ann.size >= exact.target):
            exact.close()
            self._exact = None
            log.info("the ANN file of %s holds as many vectors as the exact store: store released", model)
            return ann
        # A node whose file lags by a few batches (the indexer adds them within a minute)
        # keeps it: the store is for a file far behind, as on a fresh node.
        # (A file of EXACT_BELOW x the cap is enough whatever is stored: no count needed.)
        if cap <= 0 or (exact is None and (ann.size >= EXACT_BELOW * cap or ann.size >= EXACT_BELOW * min(
                stored_count(self.engine, model), cap))):
            return ann
        if exact is None:
            exact = self._exact = ExactStore(self.engine, model, max_vectors=cap,
                                             on_chunk=self.exact_chunk_hook).start()
        return ServedVectors(ann, exact)

    def _keyword_stamp(self):
        return _stamp(self.settings.resolved_index_dir / "keyword-state.json")

    def _serving_state_stamp(self):
        return _stamp(self.settings.resolved_index_dir / "serving-state.json")

    def _ensure_keyword_index(self) -> None:
        """A fresh small instance builds its keyword index inline (seconds); bigger ones wait for the indexer."""
        if self._keyword_stamp() is not None:
            return
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(Paper)).scalar_one()
        if n <= SYNC_BUILD_MAX:
            # Blocks only if another thread or process holds the lock (it is building it).
            for _ in range(600):
                done = jobs.refresh_index(self.settings, self.engine, progress=False, embed=False)
                if "skipped" not in done or self._keyword_stamp() is not None:
                    return
                time.sleep(0.1)

    def _refresh_readers(self) -> None:
        """Re-open what another process (or thread) changed: a few stat() calls when nothing did.

        One thread re-opens; the others meanwhile search the readers they have (the
        indexer's previous refresh, a consistent snapshot) instead of waiting for it. Only
        a service with no keyword reader yet waits: it has nothing to search."""
        stamp, *vector_stamps = self.index_stamp()
        if self._kw is not None and stamp == self._kw_stamp and (
                self._vec is None or vector_stamps == [self._vec.stamp, self._serving_stamp]):
            return
        if not self._reload_lock.acquire(blocking=self._kw is None):
            return
        try:
            if stamp is None:
                self._ensure_keyword_index()
                stamp = self._keyword_stamp()
            if self._kw is None and stamp is not None:
                self._kw = KeywordIndex(jobs.keyword_dir(self.settings))
                self._kw_stamp = None
            if self._kw is not None and stamp != self._kw_stamp:
                self._kw.reload()
                q = self._kw.build(ParsedQuery(raw=""))
                self._visible_docs = self._kw.search(q, limit=0).total
                self._hidden = self._kw.hidden_ids()
                self._kw_stamp = stamp
            if self._vec is not None:
                serving = self._serving()
                if serving != self._vec.model or _stamp(self._vec.path) != self._vec.stamp:
                    self._vec = self._open_vectors(serving)  # built, then swapped in whole
        finally:
            self._reload_lock.release()

    def index_stamp(self) -> tuple:
        """What the search answers of this node are made from, as cheap stamps of its index
        files (three stat() calls, nothing re-opened): it changes when an index refresh
        commits here. The page cache keeps it in a page's version, so a search page or a
        paper's similar papers rendered before a refresh are rendered again after it, not
        served stale until they expire."""
        if self._vec is None:
            return (self._keyword_stamp(),)
        # and whether the query embedder is loaded: a page answered by words alone while
        # it loaded is answered again once it has
        return (self._keyword_stamp(), _stamp(self._vec.path), self._serving_state_stamp(),
                self._embedder is not None)

    def titled(self, titles: list[tuple[str, str]], *, per_query: int = TITLES_PER_QUERY) -> list[int]:
        """Ids of the shown papers whose title holds one of ``titles`` (title, first
        author's surname or "") as a phrase, by that author, a few per title (a superset:
        the caller compares titles and authors); none without a keyword index yet. One
        query per ``per_query`` titles: 2,000 titles are 20."""
        try:
            self._refresh_readers()
            kw = self._kw
            if kw is None:
                return []
            out: list[int] = []
            for start in range(0, len(titles), per_query):
                query = kw.title_phrases(titles[start:start + per_query])
                if query is not None:
                    out += kw.search(query, limit=TITLE_CANDIDATES * per_query, count=False).ids
        except Exception:  # the entries are looked up on arXiv instead: an import does not fail for it
            log.exception("looking %d titles up in the keyword index failed", len(titles))
            return []
        hidden = self._hidden
        return [i for i in dict.fromkeys(out) if i not in hidden]

    def keyword_reader(self) -> tuple[KeywordIndex | None, object]:
        """The current keyword reader and its stamp (re-opened if the indexer committed)."""
        self._refresh_readers()
        return self._kw, self._kw_stamp

    def semantic_coverage(self) -> float:
        if self._vec is None or self._visible_docs == 0:
            return 0.0
        return round(min(1.0, self._vec.size / self._visible_docs), 4)

    def _cached_query_vector(self, key: tuple[str, str]) -> np.ndarray | None:
        with self._lock:
            vec = self._qcache.get(key)
            if vec is not None:
                self._qcache.move_to_end(key)
            return vec

    def _query_embedder(self, model: str) -> Embedder:
        with self._lock:
            if model != self.model:  # a previous model, serving until the new one catches up
                setting, length = setting_for(model)
                return get_embedder(setting, max_seq_length=length)
            if self._embedder is None:
                self._embedder = get_embedder(configured_embedder(self.settings))
            return self._embedder

    @property
    def query_embedder_loaded(self) -> bool:
        """Whether the served model's query embedder is loaded (by ``warm`` or a search)."""
        return self._embedder is not None

    @property
    def query_embedder_loading(self) -> bool:
        """Whether ``warm`` is loading the served model's query embedder right now."""
        return self._query_model_loading(self.model)

    def _needs_model(self) -> bool:
        return self.semantic_enabled and not needs_no_model(configured_embedder(self.settings))

    def will_warm(self) -> None:
        """``warm`` is on its way (a server starting: it first waits for other warm-ups):
        from now until it has loaded the query embedder, a search answers by its words.
        Without this a search in those first seconds loaded the model itself (5.1 s)."""
        self._warming = self._needs_model()

    def warm(self) -> None:
        """Load the query embedder, and let it pick its precision, before the first search
        asks: a web process's first search waited ~4 s for it (torch, the weights, the
        bf16 probe). Nothing to do for the null and hash embedders. Called on a thread of
        its own as the server starts (``web.app``)."""
        if not self._needs_model():
            return
        self._warming = True
        try:
            self._embed_query("warming up the query embedder")
        except Exception:  # the first search will try again, and say what is wrong
            log.exception("loading the query embedder ahead of the first search failed")
        finally:
            self._warming = False

    def _query_model_loading(self, model: str) -> bool:
        """Whether ``warm`` is still loading the served model's query embedder, as a server
        starts. A search then answers by its words alone, and says so, rather than wait
        for it: ~5 s on this 2-core machine (importing torch and sentence-transformers, the
        weights), 3.6 s for the first search of a member who opened the site as it started
        (``bench/startup.py``). A search that asks for meaning only still waits."""
        return self._warming and self._embedder is None and model == self.model

    def _embed_query(self, text: str, model: str | None = None) -> np.ndarray:
        """The query's vector by ``model`` (default: the one served), from an LRU cache of
        the last ``QUERY_CACHE`` query texts (repeated queries, the next page, a changed
        filter or sort do not embed again)."""
        model = model or (self._vec.model if self._vec is not None else self.model)
        key = (model, text)
        vec = self._cached_query_vector(key)
        if vec is not None:
            return vec
        vec = self._query_embedder(model).embed_query(text)
        vec.setflags(write=False)  # shared by every request that asks for this text
        with self._lock:
            self._qcache[key] = vec
            while len(self._qcache) > QUERY_CACHE:
                self._qcache.popitem(last=False)
        return vec

    def clear_query_cache(self) -> None:
        with self._lock:
            self._qcache.clear()

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="paperboy-search")
        return self._pool

    # --- search ---------------------------------------------------------------------
    def search(self, query: str, *, limit: int = 20, offset: int = 0, category: str | None = None,
               date_from=None, date_to=None, author: str | None = None, sort: str = "relevance",
               mode: str = "hybrid", reader: Engine | None = None) -> SearchResults:
        """``reader``: the engine the hits are joined to paper rows on (a web request's
        read replica); its database errors are raised, for the caller to read again
        elsewhere. Default: the service's engine."""
        text = query if isinstance(query, str) else ("" if query is None else str(query))
        try:
            return self._search(text, limit=limit, offset=offset, category=category, date_from=date_from,
                                date_to=date_to, author=author, sort=sort, mode=mode, reader=reader)
        except DBAPIError:
            if reader is not None:
                raise
            log.exception("search failed for %r", text[:200])
            return SearchResults([], 0, text, self.semantic_coverage(),
                                 ["Search failed; the error was logged."], error="Search failed.")
        except Exception:
            log.exception("search failed for %r", text[:200])
            return SearchResults([], 0, text, self.semantic_coverage(),
                                 ["Search failed; the error was logged."], error="Search failed.")

    def _search(self, text: str, *, limit, offset, category, date_from, date_to, author, sort, mode,
                reader: Engine | None = None) -> SearchResults:
        q = searchable_query(text)
        messages = list(q.messages)
        try:
            limit = max(1, min(int(limit), MAX_LIMIT))
            offset = max(0, min(int(offset), MAX_OFFSET))
        except (TypeError, ValueError):
            limit, offset = 20, 0
        if sort not in SORTS:
            messages.append(f"Unknown sort '{str(sort)[:20]}'; sorted by relevance.")
            sort = "relevance"
        if mode not in MODES:
            mode = "hybrid"
        if q.arxiv_id:
            self._refresh_readers()
            return self._redirect(q, text, messages, reader)
        extra = parse_query(" ".join(
            ([f'cat:{c}' for c in str(category).split()] if category else [])
            + ([f'author:"{str(author).replace(chr(34), " ")}"'] if author else [])
        ))
        q.categories += extra.categories
        q.authors += extra.authors
        messages += extra.messages
        _narrow_dates(q, date_from, date_to, messages)

        self._refresh_readers()
        coverage = self.semantic_coverage()
        if q.is_empty:
            return SearchResults([], 0, text, coverage, messages or ["Type something to search for."],
                                 error="Empty query.", mode=mode, unsearchable=True)
        if q.only_stop_words:
            words = ", ".join(f"“{w}”" for w in dict.fromkeys(w.lower() for w in q.stop_words))
            messages.append(f"{words}: words nearly every paper uses are not searched for. Add a more "
                            "specific word, or put the words in quotes to search for that exact phrase.")
            return SearchResults([], 0, text, coverage, messages, error="Only common words.", mode=mode,
                                 unsearchable=True)
        kwi = self._kw
        if kwi is None:
            messages.append("The search index is being built; try again in a moment.")
            return SearchResults([], 0, text, coverage, messages, mode=mode)
        if q.like_text:
            q.like_terms = kwi.distinctive_terms(q.like_text)
            by_meaning = self._vec is not None and self._vec.size > 0
            if q.like_terms:
                shown = ", ".join(_surface_forms(q.like_text, q.like_terms[:8]))
                messages.append(f"Papers like this text: by its most distinctive words ({shown}…)"
                                + (" and by meaning." if by_meaning else "."))
            else:
                messages.append("Papers like this text: none of its words is used by enough papers here to "
                                "compare by words" + ("; by meaning only." if by_meaning else "."))
        elif q.stop_words and q.content_words:
            words = ", ".join(dict.fromkeys(w.lower() for w in q.stop_words))
            messages.append(f"Common words not searched for: {words}.")

        ranking_text = q.text
        if sort != "relevance" or not ranking_text:
            order_by = "votes" if sort == "votes" else "day"
            res = kwi.search(kwi.build(q), limit=limit, offset=offset, order_by=order_by)
            hits = self._hits(res.ids, [float(s) for s in res.scores], q, reader)
            return SearchResults(hits, res.total, text, coverage, messages, mode="keyword", ranked=False)

        # Keyword mode shows the keyword ranking itself: the page is all it needs. Fusion
        # needs each ranker's top CANDIDATES.
        k = offset + limit if mode == "keyword" else max(CANDIDATES, offset + limit)
        keyword = ([], [])
        total_kw = 0
        vec = self._vec
        has_vectors = vec is not None and vec.size > 0
        loading = mode == "hybrid" and has_vectors and self._query_model_loading(vec.model)
        semantic_ready = mode != "keyword" and has_vectors and not loading
        pending = None
        if mode != "semantic":
            kwq = kwi.build(q, none_hidden=not self._hidden)
            if semantic_ready and self.concurrent:
                # tantivy releases the GIL: it searches on the pool while this thread embeds
                # the query (torch releases it too) and searches the vectors.
                pending = self._executor().submit(kwi.search, kwq, limit=k)
            else:
                res = kwi.search(kwq, limit=k)
                keyword, total_kw = (res.ids, res.scores), res.total
        semantic: tuple[list[int], list[float]] = ([], [])
        if mode != "keyword":
            if vec is None:
                if mode == "semantic":
                    messages.append("Semantic search is switched off on this instance (embedder 'null').")
            elif vec.size == 0:
                messages.append("Semantic search is not ready yet: paper vectors are still being computed.")
            elif loading:
                messages.append(MODEL_LOADING)
            else:
                try:
                    qv = self._embed_query(ranking_text, vec.model)
                    filtered = bool(q.has_filters or q.phrases or q.excluded)
                    want = k * (4 if filtered else 1) + 10
                    ids, scores = vec.search(qv, want)
                finally:
                    if pending is not None:
                        res = pending.result()
                        keyword, total_kw = (res.ids, res.scores), res.total
                if filtered:
                    allowed = kwi.restrict(q, ids)
                    pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i in allowed and s >= MIN_SIMILARITY]
                else:
                    # Nothing to check in tantivy but "hidden": the reader's set of hidden ids
                    # answers that (a term-set query cost ~1 ms per search).
                    hidden = self._hidden
                    pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i not in hidden and s >= MIN_SIMILARITY]
                pairs = pairs[:k]
                semantic = ([i for i, _ in pairs], [s for _, s in pairs])
                if coverage < 0.99:
                    messages.append(f"Semantic matches cover {coverage:.0%} of the papers so far; the rest are being embedded.")
        if mode == "keyword" or not semantic[0]:
            ranked, ran = keyword, ("keyword" if mode != "semantic" else "semantic")
        elif mode == "semantic":
            ranked, ran = semantic, "semantic"
        else:
            ranked, ran = fusion.fuse(keyword, semantic), "hybrid"
        # The total is what can be paged through: every paper with the words (tantivy's
        # count), plus, in hybrid mode, the semantic candidates without them ("related").
        kw_set = set(keyword[0])
        related = 0 if ran == "keyword" else sum(1 for i in semantic[0] if i not in kw_set)
        total = total_kw + related
        if ran == "semantic":
            total, related = len(semantic[0]), 0
        page_ids = ranked[0][offset:offset + limit]
        page_scores = ranked[1][offset:offset + limit]
        hits = self._hits(page_ids, page_scores, q, reader)
        return SearchResults(hits, total, text, coverage, messages, mode=ran, related=related)

    # --- alerts -----------------------------------------------------------------------
    def alert_search(self, query: str, *, date_from=None, date_to=None, limit: int = 50,
                     min_similarity: float = 0.5) -> SearchResults:
        """A saved search, run for a digest: stricter than ``search``. Every paper holds
        every free word of the query (common words aside) in its title or abstract, or is
        close to it in meaning (cosine at least ``min_similarity``; ``related`` counts
        these); either way it passes the query's phrases, exclusions and author:, cat:,
        year: and date: filters. Best first, as hybrid search ranks them; ``total`` counts
        every match in the dates given."""
        text = query if isinstance(query, str) else ("" if query is None else str(query))
        try:
            return self._alert_search(text, date_from=date_from, date_to=date_to, limit=limit,
                                      min_similarity=float(min_similarity))
        except Exception:
            log.exception("alert search failed for %r", text[:200])
            return SearchResults([], 0, text, self.semantic_coverage(),
                                 ["Search failed; the error was logged."], error="Search failed.")

    def _alert_search(self, text: str, *, date_from, date_to, limit: int, min_similarity: float) -> SearchResults:
        q = searchable_query(text)
        messages = list(q.messages)
        limit = max(1, min(int(limit), MAX_LIMIT))
        _narrow_dates(q, date_from, date_to, messages)
        self._refresh_readers()
        coverage = self.semantic_coverage()
        if q.arxiv_id or q.like_text:
            return SearchResults([], 0, text, coverage, messages + ["An alert is a search, not a paper or a passage."],
                                 error="Not a search.", mode="alert")
        if q.is_empty or q.only_stop_words:
            return SearchResults([], 0, text, coverage, messages + ["Nothing to search for."],
                                 error="Empty query.", mode="alert")
        kwi = self._kw
        if kwi is None:
            messages.append("The search index is being built; try again in a moment.")
            return SearchResults([], 0, text, coverage, messages, mode="alert")
        k = max(CANDIDATES, limit)
        ranking_text = q.text
        if not ranking_text:  # filters only (author:, cat:): the newest first
            res = kwi.search(kwi.build(q), limit=limit, order_by="day")
            return SearchResults(self._hits(res.ids, [float(s) for s in res.scores], q), res.total, text,
                                 coverage, messages, mode="keyword")
        res = kwi.search(kwi.build(q, all_words=True), limit=k)
        keyword = (res.ids, res.scores)
        semantic: tuple[list[int], list[float]] = ([], [])
        vec = self._vec
        if vec is not None and vec.size > 0:
            qv = self._embed_query(ranking_text, vec.model)
            # The papers of the period that pass the filters, each scored exactly: the
            # period's papers are rarely among the corpus's nearest few hundred.
            window = kwi.search(kwi.build(q, with_words=False), limit=ALERT_SCAN_MAX)
            if window.total <= ALERT_SCAN_MAX:
                ids, scores = vec.similarities(qv, window.ids)
            else:
                ids, scores = vec.search(qv, ALERT_NEAREST)
                allowed = kwi.restrict(q, ids)
                ids, scores = [i for i in ids if i in allowed], [s for i, s in zip(ids, scores, strict=True) if i in allowed]
            pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if s >= min_similarity]
            semantic = ([i for i, _ in pairs], [s for _, s in pairs])
        matched = set(keyword[0]) if res.total <= k else kwi.restrict(q, semantic[0], all_words=True)
        related = sum(1 for i in semantic[0] if i not in matched)
        ranked = fusion.fuse(keyword, (semantic[0][:k], semantic[1][:k]))
        hits = self._hits(ranked[0][:limit], ranked[1][:limit], q)
        return SearchResults(hits, res.total + related, text, coverage, messages,
                             mode="hybrid" if semantic[0] else "keyword", related=related)

    def within(self, query: str, ids: list[int], *, min_similarity: float = LIBRARY_MIN_SIMILARITY,
               reader: Engine | None = None) -> Within:
        """Search a member's own papers (``ids``, a library or a collection, in the order
        it shows them): the search box's query language, meant as an alert means it.
        Every free word must be in a paper's title or abstract (common words aside), or
        the paper must be close to the words in meaning (cosine at least
        ``min_similarity``); phrases, exclusions and author:, cat:, year: and date: filter.
        Best first by the fused ranking; with filters only, in the order given. An arXiv id
        finds that paper if it is among them."""
        text = query if isinstance(query, str) else ("" if query is None else str(query))
        try:
            return self._within(text, list(dict.fromkeys(ids)), min_similarity, reader)
        except DBAPIError:
            if reader is not None:
                raise
            log.exception("library search failed for %r", text[:200])
            return Within([], [], ["Search failed; the error was logged."], error="Search failed.")
        except Exception:
            log.exception("library search failed for %r", text[:200])
            return Within([], [], ["Search failed; the error was logged."], error="Search failed.")

    def _within(self, text: str, ids: list[int], min_similarity: float, reader: Engine | None) -> Within:
        q = searchable_query(text)
        messages = list(q.messages)
        if q.arxiv_id:
            with (reader or self.engine).connect() as conn:
                pid = conn.scalar(select(Paper.id).where(Paper.arxiv_id == q.arxiv_id))
            if pid in ids:
                return Within([pid], [1.0], messages)
            return Within([], [], messages + [f"arXiv:{q.arxiv_id} is not among these papers."])
        if q.is_empty or q.only_stop_words:
            return Within([], [], messages + ["Nothing to search for."], error="Empty query.")
        self._refresh_readers()
        kwi = self._kw
        if kwi is None:
            return Within([], [], messages + ["The search index is being built; try again in a moment."])
        if not ids:
            return Within([], [], messages)
        if q.like_text:
            q.like_terms = kwi.distinctive_terms(q.like_text)
        if not q.text:  # filters only: the papers that pass them, in the order given
            passed = set(kwi.rank_within(q, ids, words=False)[0])
            kept = [i for i in ids if i in passed]
            return Within(kept, [0.0] * len(kept), messages)
        keyword = kwi.rank_within(q, ids)
        semantic: tuple[list[int], list[float]] = ([], [])
        vec = self._vec
        if vec is not None and vec.size > 0:
            if self._query_model_loading(vec.model):
                messages.append(MODEL_LOADING)
            else:
                filtered = kwi.rank_within(q, ids, words=False)[0]
                found, scores = vec.similarities(self._embed_query(q.text, vec.model), filtered)
                pairs = [(i, s) for i, s in zip(found, scores, strict=True) if s >= min_similarity]
                semantic = ([i for i, _ in pairs], [s for _, s in pairs])
        if not semantic[0]:
            return Within(keyword[0], keyword[1], messages)
        related = len(set(semantic[0]) - set(keyword[0]))
        ranked = fusion.fuse(keyword, semantic)
        return Within(ranked[0], ranked[1], messages, related=related)

    def _redirect(self, q: ParsedQuery, text: str, messages: list[str], reader: Engine | None = None) -> SearchResults:
        with (reader or self.engine).connect() as conn:
            row = conn.execute(
                select(Paper.id, Paper.arxiv_id, Paper.title, Paper.abstract).where(
                    Paper.arxiv_id == q.arxiv_id, visible())
            ).first()
        coverage = self.semantic_coverage()
        if row is None:
            messages.append(f"arXiv:{q.arxiv_id} is not in this instance (yet).")
            return SearchResults([], 0, text, coverage, messages, mode="id")
        messages.append(f"Going straight to arXiv:{row.arxiv_id}.")
        hit = Hit(row.id, row.arxiv_id, 1.0, highlight(clean_tex(row.abstract), set(), window=WINDOW_CHARS),
                  html.escape(clean_tex(row.title)))
        return SearchResults([hit], 1, text, coverage, messages, redirect_arxiv_id=row.arxiv_id, mode="id")

    def _rows(self, ids: list[int], reader: Engine | None = None) -> dict[int, tuple]:
        """id -> (id, arxiv_id, title, abstract) of the visible papers among ``ids``: one
        textual statement, plain tuples (select() + row objects cost ~0.2 ms more here)."""
        with (reader or self.engine).connect() as conn:
            return {r[0]: tuple(r) for r in conn.execute(_ROWS_SQL, {"ids": [int(i) for i in ids]})}

    def _hits(self, ids: list[int], scores: list[float], q: ParsedQuery | None,
              reader: Engine | None = None) -> list[Hit]:
        if not ids:
            return []
        rows = self._rows(ids, reader)
        if q is None:
            terms: set[str] = set()
        elif q.like_text:
            terms = set(q.like_terms[:LIKE_MARKED])
        else:
            terms = query_terms(q.content_words + q.phrases)
        hits = []
        for pid, score in zip(ids, scores, strict=True):
            row = rows.get(pid)
            if row is None:
                continue  # deleted or hidden since the index was written
            _, arxiv_id, title, abstract = row
            # Snippets show the text as cards do: TeX markup outside math cleaned first.
            hits.append(Hit(pid, arxiv_id, float(score), highlight(clean_tex(abstract), terms, window=WINDOW_CHARS),
                            highlight(clean_tex(title), terms)))
        return hits

    # --- similar --------------------------------------------------------------------
    def similar(self, arxiv_id: str, *, limit: int = 10, fill_to: int | None = None,
                reader: Engine | None = None) -> list[Hit]:
        """``reader`` as for ``search``. Without vectors, papers that share only a few of
        the paper's words are taken only up to ``fill_to`` (default ``limit``): a "newest
        first" list asks for 50 similar papers to show 6, and those weak ones, dated
        recently, came first (an airline-load forecast among video diffusion papers)."""
        try:
            return self._similar(arxiv_id, limit=limit, fill_to=limit if fill_to is None else fill_to, reader=reader)
        except DBAPIError:
            if reader is not None:
                raise
            log.exception("similar failed for %r", str(arxiv_id)[:100])
            return []
        except Exception:
            log.exception("similar failed for %r", str(arxiv_id)[:100])
            return []

    def _similar(self, arxiv_id: str, *, limit: int, fill_to: int, reader: Engine | None = None) -> list[Hit]:

        ident = match_arxiv_id(str(arxiv_id or "")) or str(arxiv_id or "").strip()
        limit = max(1, min(int(limit), 100))
        self._refresh_readers()
        kwi, vec = self._kw, self._vec
        with (reader or self.engine).connect() as conn:
            row = conn.execute(
                select(Paper.id, Paper.title, Paper.abstract).where(Paper.arxiv_id == ident, visible())
            ).first()
            if row is None:
                return []
            stored = None
            if vec is not None:  # the served model's (a paper the ANN file does not hold yet)
                stored = conn.execute(select(PaperEmbedding.vector).where(
                    PaperEmbedding.paper_id == row.id, PaperEmbedding.model == vec.model)).scalar()
        if kwi is None:
            return []
        v = None
        if vec is not None and self.semantic_coverage() >= SIMILAR_MIN_COVERAGE:
            v = vec.vector(row.id)
            if v is None and stored is not None:
                v = np.frombuffer(stored, dtype="<f4")
        if v is not None:
            ids, scores = vec.search(v, limit * 2 + 10)
            pairs = [(i, s) for i, s in zip(ids, scores, strict=True) if i != row.id]
            allowed = kwi.restrict(ParsedQuery(raw=""), [i for i, _ in pairs])
            pairs = [(i, s) for i, s in pairs if i in allowed][:limit]
        else:
            # More-like-this while vectors cover only part of the corpus (nearest vectors
            # would all come from that part): the paper's distinctive words, as for a pasted text.
            terms = kwi.distinctive_terms(f"{row.title}\n{row.abstract or ''}")
            res = kwi.papers_like(terms, limit=limit + 1)
            pairs = [(i, s) for i, s in zip(res.ids, res.scores, strict=True) if i != row.id]
            if len(pairs) < min(limit, fill_to):
                # A paper few others share a fifth of its terms with (about 2 in 100 of the
                # real sample's) still has neighbours: those sharing fewer come after.
                seen = {row.id} | {i for i, _ in pairs}
                more = kwi.papers_like(terms, limit=limit + len(seen), needed=SIMILAR_MIN_SHARED)
                pairs += [(i, s) for i, s in zip(more.ids, more.scores, strict=True) if i not in seen]
                pairs = pairs[:max(len(seen) - 1, min(limit, fill_to))]
            pairs = pairs[:limit]
        return self._hits([i for i, _ in pairs], [s for _, s in pairs], None, reader)


_services: dict[tuple, SearchService] = {}
_services_lock = threading.Lock()


def get_search_service(settings: Settings, engine: Engine) -> SearchService:
    """The process-wide service for these settings and this engine (thread-safe)."""
    key = (str(settings.resolved_index_dir.resolve()), configured_embedder(settings), id(engine))
    with _services_lock:
        svc = _services.get(key)
        if svc is None or svc.engine is not engine:
            svc = _services[key] = SearchService(settings, engine)
        return svc
