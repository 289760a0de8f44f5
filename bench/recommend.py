"""Recommendation benchmark (issue 14): a "For you" ranker against arxiv-sanity-lite's SVM.

    PYTHONPATH=. .venv/bin/python bench/recommend.py            # everything (see docs/recommend.md)
    PYTHONPATH=. .venv/bin/python bench/recommend.py --embed-only

Protocol, results and what was tried: docs/recommend.md. Expensive intermediate results
(embeddings, tf-idf, per-event results) are cached under ~/.cache/paperboy-bench/.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import re
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "arxiv" / "daily"
CACHE = Path(os.environ.get("PAPERBOY_BENCH_CACHE", Path.home() / ".cache" / "paperboy-bench"))

# arXiv category codes look like "cs.CV", "math.OC", "hep-th", "astro-ph.GA"; the listing
# mixes in MSC ("68T50") and ACM ("I.2.7") class codes, which are not categories.
_CATEGORY = re.compile(r"^[a-z][a-z-]*(\.[A-Za-z-]+)?$")


@dataclass
class Paper:
    idx: int
    arxiv_id: str
    day: str  # first listing (announce) day it appears on
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    keys: list[str] = field(default_factory=list)  # normalised author names
    comment: str = ""  # arXiv comment ("Accepted at ...", "12 pages"); the ranker's words use it


def norm_name(name: str) -> str:
    """Author identity: NFKC, accents stripped, case and spacing folded."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return re.sub(r"\s+", " ", s).strip().lower()


def clean(text: str) -> str:
    return " ".join((text or "").split())


def load_papers(data: Path = DATA) -> list[Paper]:
    """Every paper once, on the first day it is listed (a replacement or cross-list on a
    later day is not new on that day). Ordered by (day, arXiv id)."""
    seen: dict[str, Paper] = {}
    for path in sorted(glob.glob(str(data / "*.jsonl"))):
        day = os.path.basename(path)[:10]
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                if r["id"] in seen:
                    continue
                cats = [c for c in r.get("categories") or [] if _CATEGORY.match(c)]
                seen[r["id"]] = Paper(-1, r["id"], day, clean(r.get("title")), clean(r.get("summary")),
                                      list(r.get("authors") or []), cats, comment=clean(r.get("comment")))
    papers = sorted(seen.values(), key=lambda p: (p.day, p.arxiv_id))
    for i, p in enumerate(papers):
        p.idx = i
        p.keys = sorted({norm_name(a) for a in p.authors if norm_name(a)})
    return papers


def corpus_digest(papers: list[Paper]) -> str:
    h = hashlib.sha1()
    for p in papers:
        h.update(f"{p.arxiv_id}\x00{p.title}\x00{p.abstract}\n".encode())
    return h.hexdigest()[:16]


def embeddings(papers: list[Paper], max_seq_length: int, model: str = "minilm") -> np.ndarray:
    """Vectors of title + abstract (all-MiniLM-L6-v2 unless ``model`` names another
    sentence-transformers model folder), through the project's embedder, computed once
    and cached (keyed by the model, the length and the corpus' text); chunks are cached
    as they are done, so an interrupted run resumes where it stopped."""
    from paperboy.index.embedder import paper_text

    slug = "minilm" if model == "minilm" else re.sub(r"[^A-Za-z0-9.-]+", "_", Path(model).name)
    key = f"{slug}-{max_seq_length}-{corpus_digest(papers)}"
    path = CACHE / f"{key}.npy"
    if path.exists():
        vecs = np.load(path)
        if vecs.shape[0] == len(papers):
            return vecs
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from paperboy.index.embedder import get_embedder

    emb = get_embedder(model, max_seq_length=max_seq_length)
    texts = [paper_text(p.title, p.abstract) for p in papers]
    t0 = time.perf_counter()
    parts = []
    step = 512
    CACHE.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(texts), step):
        part_path = CACHE / f"{key}.part{start}.npy"
        if part_path.exists():
            parts.append(np.load(part_path))
            continue
        parts.append(emb.embed(texts[start:start + step], batch_size=32))
        np.save(part_path, parts[-1])
        print(f"embedded {start + len(parts[-1]):,}/{len(texts):,} in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)
    vecs = np.concatenate(parts).astype(np.float32)
    np.save(path, vecs)
    for part in CACHE.glob(f"{key}.part*.npy"):
        part.unlink()
    return vecs



# --------------------------------------------------------------------------- protocol

@dataclass
class Event:
    """One user on one later day: rank that day's papers, find their own."""

    user: str
    day: str
    profile: list[int]  # their papers on earlier days, oldest first
    targets: set[int]  # their papers on this day
    cands: np.ndarray  # every paper first listed on this day


def is_tune(user: str) -> bool:
    """Stable split: sha1 of the normalised name, even -> tune, odd -> test."""
    return int(hashlib.sha1(user.encode()).hexdigest(), 16) % 2 == 0


def build_events(papers: list[Paper], min_days: int = 4) -> dict[str, list[Event]]:
    by_day: dict[str, list[int]] = {}
    for p in papers:
        by_day.setdefault(p.day, []).append(p.idx)
    cands = {d: np.array(ix) for d, ix in by_day.items()}
    mine: dict[str, dict[str, list[int]]] = {}
    for p in papers:
        for k in p.keys:
            mine.setdefault(k, {}).setdefault(p.day, []).append(p.idx)
    events: dict[str, list[Event]] = {}
    for user, days in mine.items():
        if len(days) < min_days:
            continue
        order = sorted(days)
        events[user] = [Event(user, d, [i for e in order[:j] for i in days[e]], set(days[d]), cands[d])
                        for j, d in enumerate(order) if j > 0]
    return events


def with_profile_size(events: list[Event], k: int | None) -> list[Event]:
    """Cold start: the k most recent profile papers; events with fewer are left out."""
    if k is None:
        return events
    return [Event(e.user, e.day, e.profile[-k:], e.targets, e.cands) for e in events if len(e.profile) >= k]


def ndcg_recall(scores: np.ndarray, cands: np.ndarray, targets: set[int], at: int = 10) -> tuple[float, float]:
    top = cands[np.argsort(-scores, kind="stable")[:at]]
    hits = np.array([c in targets for c in top], dtype=float)
    dcg = float((hits / np.log2(np.arange(2, len(hits) + 2))).sum())
    ideal = float((1 / np.log2(np.arange(2, min(len(targets), at) + 2))).sum())
    return dcg / ideal, hits.sum() / len(targets)


def macro(per_event: list[tuple[str, float, float]]) -> tuple[float, float, int]:
    """(nDCG, recall, users): mean over a user's days, then over users."""
    users: dict[str, list[tuple[float, float]]] = {}
    for user, n, r in per_event:
        users.setdefault(user, []).append((n, r))
    means = np.array([np.mean(v, axis=0) for v in users.values()]) if users else np.zeros((0, 2))
    return (float(means[:, 0].mean()), float(means[:, 1].mean()), len(users)) if len(users) else (0.0, 0.0, 0)


def jitter(e: Event) -> np.ndarray:
    """A tiny per-event random tie-break, the same for every method."""
    seed = int(hashlib.sha1(f"{e.user}|{e.day}".encode()).hexdigest()[:8], 16)
    return np.random.default_rng(seed).random(len(e.cands)) * 1e-9


# --------------------------------------------------------------------------- features

class Features:
    def __init__(self, papers: list[Paper], vecs: np.ndarray, svm_negatives: int) -> None:
        from scipy import sparse

        self.papers = papers
        self.vecs = vecs
        self.svm_negatives = svm_negatives
        self.terms, self.vocab = self._tfidf()
        self.rterms = self._ranker_terms()
        keys = sorted({k for p in papers for k in p.keys})
        self.key_col = {k: j for j, k in enumerate(keys)}
        rows, cols = [], []
        for p in papers:
            for k in p.keys:
                rows.append(p.idx)
                cols.append(self.key_col[k])
        a = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(papers), len(keys)))
        df = np.asarray(a.sum(axis=0)).ravel()
        a = a @ sparse.diags((np.log((1 + len(papers)) / (1 + df)) + 1).astype(np.float32))
        norms = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel())
        self.authors = sparse.diags(1 / np.maximum(norms, 1e-9)).astype(np.float32) @ a
        self.authors = self.authors.tocsr()
        self.day_index = {}
        for p in papers:
            self.day_index.setdefault(p.day, p.idx)  # first idx of each day (papers are sorted by day)
        self._backgrounds: dict[str, object] = {}

    def _tfidf(self):
        """arxiv-sanity-lite's tf-idf settings over title and abstract (no authors):
        unigrams and bigrams, English stop words, sublinear tf, max_df 0.1, min_df 5,
        20,000 features. Fitted once on the whole sample (unsupervised) and cached."""
        from scipy import sparse
        from sklearn.feature_extraction.text import TfidfVectorizer

        key = corpus_digest(self.papers)
        path, vpath = CACHE / f"tfidf-{key}.npz", CACHE / f"tfidf-{key}.vocab.json"
        if path.exists() and vpath.exists():
            return sparse.load_npz(path).tocsr(), json.loads(vpath.read_text())
        vec = TfidfVectorizer(strip_accents="unicode", lowercase=True, analyzer="word", stop_words="english",
                              token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                              max_features=20000, norm="l2", use_idf=True, smooth_idf=True,
                              sublinear_tf=True, max_df=0.1, min_df=5, dtype=np.float32)
        x = vec.fit_transform([f"{p.title} | {p.abstract}" for p in self.papers]).tocsr()
        CACHE.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(path, x)
        vocab = [str(t) for t in vec.get_feature_names_out()]
        vpath.write_text(json.dumps(vocab))
        return x, vocab

    def _ranker_terms(self):
        """The ranker's own term space (``personal.term_vectorizer`` over
        ``personal.term_text``, as the service builds it), fitted on the whole sample like
        the SVM's tf-idf, and cached (keyed by the texts it was fitted on)."""
        from scipy import sparse

        from paperboy.rank.personal import term_text, term_vectorizer

        texts = [term_text(p.title, p.abstract, p.comment) for p in self.papers]
        key = hashlib.sha1("\x00".join(texts).encode()).hexdigest()[:16]
        path = CACHE / f"ranker-terms-{key}.npz"
        if path.exists():
            return sparse.load_npz(path).tocsr()
        x = term_vectorizer(len(self.papers)).fit_transform(texts).tocsr().astype(np.float32)
        CACHE.mkdir(parents=True, exist_ok=True)
        sparse.save_npz(path, x)
        return x

    def history(self, day: str) -> np.ndarray:
        return np.arange(self.day_index[day])

    def negatives(self, day: str, profile: list[int]) -> np.ndarray:
        """SVM negatives: papers listed before the day (all of them, or a fixed random
        sample of ``svm_negatives`` per day), minus the profile."""
        hist = self.history(day)
        if self.svm_negatives and len(hist) > self.svm_negatives:
            rng = np.random.default_rng(int(hashlib.sha1(day.encode()).hexdigest()[:8], 16))
            hist = np.sort(rng.choice(hist, self.svm_negatives, replace=False))
        return np.setdiff1d(hist, profile)

    def background(self, day: str):
        from paperboy.rank.personal import Background

        if day not in self._backgrounds:
            hist = self.history(day)
            self._backgrounds[day] = Background.fit(self.vecs[hist[-3000:]])  # the most recent papers
        return self._backgrounds[day]

    def follows(self, e: Event) -> frozenset[str]:
        """With author follows: the user follows their co-authors (everyone on their
        profile papers but themselves; following oneself would make it trivial)."""
        return frozenset(k for i in e.profile for k in self.papers[i].keys if k != e.user)


# --------------------------------------------------------------------------- methods

def m_random(f: Features, e: Event, authors: bool) -> np.ndarray:
    return np.zeros(len(e.cands))


def m_newest(f: Features, e: Event, authors: bool) -> np.ndarray:
    return e.cands.astype(float)  # within a day, papers are ordered by arXiv id


def m_categories(f: Features, e: Event, authors: bool) -> np.ndarray:
    share: dict[str, float] = {}
    for i in e.profile:
        for c in set(f.papers[i].categories):
            share[c] = share.get(c, 0) + 1
    primary = [f.papers[c].categories[0] if f.papers[c].categories else "" for c in e.cands]
    anyc = [max((share.get(c, 0) for c in f.papers[i].categories), default=0) for i in e.cands]
    # the share of the paper's best category, a little more for its primary one
    return np.array(anyc, float) + 0.5 * np.array([share.get(p, 0) for p in primary], float)


def m_centroid(f: Features, e: Event, authors: bool) -> np.ndarray:
    c = f.vecs[e.profile].mean(axis=0)
    return f.vecs[e.cands] @ c


def m_follows(f: Features, e: Event, authors: bool) -> np.ndarray:
    follows = f.follows(e)
    return np.array([len(follows.intersection(f.papers[i].keys)) for i in e.cands], float)


def m_svm(f: Features, e: Event, authors: bool, C: float = 0.01) -> np.ndarray:
    """arxiv-sanity-lite: a LinearSVC (class_weight='balanced') over tf-idf, the profile
    as positives and other papers as negatives, candidates ranked by decision_function.
    With authors, whole author names are extra tf-idf features (the user's own name is
    masked everywhere)."""
    from scipy import sparse
    from sklearn.svm import LinearSVC

    neg = f.negatives(e.day, e.profile)
    rows = np.concatenate([np.array(e.profile), neg])
    y = np.r_[np.ones(len(e.profile)), np.zeros(len(neg))]

    def feats(ix):
        x = f.terms[ix]
        if authors:
            a = f.authors[ix].tocsc(copy=True)
            col = f.key_col[e.user]
            a.data[a.indptr[col]:a.indptr[col + 1]] = 0
            x = sparse.hstack([x, a.tocsr()]).tocsr()
        return x

    clf = LinearSVC(class_weight="balanced", C=C, tol=1e-4, max_iter=10000)
    clf.fit(feats(rows), y)
    return clf.decision_function(feats(e.cands))


def ranker_parts(f: Features, e: Event, authors: bool, weights) -> dict[str, np.ndarray]:
    from paperboy.rank import personal as pr

    prof = pr.Profile(positives=f.vecs[e.profile], positive_ids=list(e.profile),
                      positive_terms=f.rterms[e.profile],
                      positive_categories=[f.papers[i].categories for i in e.profile],
                      follows=f.follows(e) if authors else frozenset())
    model = pr.fit(prof, f.background(e.day), weights)
    cands = pr.Candidates(ids=list(e.cands), vectors=f.vecs[e.cands], terms=f.rterms[e.cands],
                          categories=[f.papers[i].categories for i in e.cands],
                          authors=[f.papers[i].keys for i in e.cands] if authors else ())
    return pr.parts(model, cands, weights)


def sample_days(events: dict[str, list[Event]], per_user: int) -> dict[str, list[Event]]:
    """At most ``per_user`` of a user's later days (a seeded random choice; 0 = all)."""
    if not per_user:
        return events
    out = {}
    for user, evs in events.items():
        rng = np.random.default_rng(int(hashlib.sha1(user.encode()).hexdigest()[:8], 16))
        keep = sorted(rng.choice(len(evs), min(per_user, len(evs)), replace=False))
        out[user] = [evs[i] for i in keep]
    return out


def run_method(name: str, fn, f: Features, events: list[Event], authors: bool, tag: str) -> tuple[float, float, int]:
    """Scores every event (cached under CACHE/results by method, variant and event set)."""
    # the key names the events, and what the method sees: SVM negatives or the vectors
    seen = (f"neg{f.svm_negatives}" if name.startswith("svm")
            else hashlib.sha1(f.vecs[:100].tobytes() + f.rterms[:100].data.tobytes()).hexdigest())
    key = hashlib.sha1((seen + "|".join(f"{e.user}/{e.day}/{len(e.profile)}" for e in events)).encode()).hexdigest()[:12]
    path = CACHE / "results" / f"{name}-{'authors' if authors else 'content'}-{tag}-{key}.json"
    if path.exists():
        per_event = [tuple(r) for r in json.loads(path.read_text())]
    else:
        per_event = []
        for e in events:
            nd, rc = ndcg_recall(fn(f, e, authors) + jitter(e), e.cands, e.targets)
            per_event.append((e.user, nd, rc))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(per_event))
    return macro(per_event)


def tune_ranker(f: Features, events: list[Event], authors: bool, base=None):
    """Coordinate ascent over the part weights (and knn_k) on the tune split's events;
    the parts are computed once per event and knn_k, then only re-weighted."""
    from dataclasses import replace

    from paperboy.rank import personal as pr

    best_w, best = base or pr.Weights(), -1.0
    for k in (1, 3, 5):
        w0 = replace(best_w, knn_k=k, words_knn=max(best_w.words_knn, 0.25))
        raw = [ranker_parts(f, e, authors, w0) for e in events]
        jit = [jitter(e) for e in events]

        def value(w, raw=raw, jit=jit):
            res = [(e.user, *ndcg_recall(pr.combine(r, w) + j, e.cands, e.targets))
                   for e, r, j in zip(events, raw, jit, strict=True)]
            return macro(res)[0]

        w, cur = w0, value(w0)
        names = ["knn", "centroid", "linear", "words", "words_knn", "category"] + (["follow"] if authors else [])
        for _ in range(2):
            for name in names:
                for v in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0) if name != "follow" else (0.5, 1.0, 2.0, 3.0, 5.0):
                    cand = replace(w, **{name: v})
                    val = value(cand)
                    if val > cur + 1e-6:
                        w, cur = cand, val
        print(f"  tune knn_k={k}: nDCG@10={cur:.4f} {w}", file=sys.stderr, flush=True)
        if cur > best:
            best_w, best = w, cur
    return best_w, best


def speed(members: int, new: int, pool: int, liked: int, dim: int = 384, vocab: int = 20000) -> float:
    """Seconds to refit and score ``members`` synthetic profiles against ``new`` papers."""
    from scipy import sparse

    from paperboy.rank import personal as pr

    rng = np.random.default_rng(0)

    def unit(n):
        x = rng.standard_normal((n, dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def terms(n):
        x = sparse.random(n, vocab, density=100 / vocab, format="csr", dtype=np.float32, random_state=rng)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        return (sparse.diags(1 / np.maximum(norms, 1e-9)) @ x).tocsr().astype(np.float32)

    pool_v, new_v, pool_t, new_t = unit(pool), unit(new), terms(pool), terms(new)
    cols = rng.integers(0, pool, size=members * liked)
    rows = np.repeat(np.arange(members), liked)
    marks = sparse.csr_matrix((np.ones(len(cols), np.float32), (rows, cols)), shape=(members, pool))
    marks.data[:] = 1.0
    t0 = time.perf_counter()
    bg = pr.Background.fit(pool_v[:3000])
    ids, scores = pr.bulk_scores(marks, pool_v, new_v, pool_terms=pool_t, new_terms=new_t, background=bg)
    took = time.perf_counter() - t0
    assert ids.shape == (members, 50)
    return took


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embed-only", action="store_true", help="compute (or load) the cached embeddings and stop")
    ap.add_argument("--max-seq-length", type=int, default=128,
                    help="word pieces embedded per paper (the service uses 256; 128 halves the one-off cost)")
    ap.add_argument("--embedder", default="minilm",
                    help="the model whose vectors the ranker uses: minilm (the service's) or the folder of "
                         "another sentence-transformers model")
    ap.add_argument("--svm-only", action="store_true",
                    help="only the SVM runs (cached; they need no embeddings and are the slowest part)")
    ap.add_argument("--days-per-user", type=int, default=1,
                    help="evaluate at most this many of a user's later days (0 = all)")
    ap.add_argument("--svm-negatives", type=int, default=2000,
                    help="SVM negatives: a fixed random sample of this many earlier papers per day (0 = all)")
    ap.add_argument("--svm-c", type=float, nargs="+", default=[0.01, 0.1], help="C values tried on the tune split")
    ap.add_argument("--speed-members", type=int, default=100_000)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--headline-only", action="store_true",
                    help="only the goal's rows: content only, all profile papers (no with-authors variant, no "
                         "cold start); with --days-per-user 0 this is the low-noise run of docs/recommend.md")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    papers = load_papers()
    vecs = np.zeros((len(papers), 1), np.float32) if args.svm_only else embeddings(papers, args.max_seq_length, args.embedder)
    print(f"{len(papers):,} papers, vectors {vecs.shape}", file=sys.stderr)
    if args.embed_only:
        return
    f = Features(papers, vecs, args.svm_negatives)
    all_events = sample_days(build_events(papers), args.days_per_user)
    splits = {"tune": [e for u, evs in all_events.items() if is_tune(u) for e in evs],
              "test": [e for u, evs in all_events.items() if not is_tune(u) for e in evs]}
    n_users = {s: len({e.user for e in evs}) for s, evs in splits.items()}
    print(f"users: {len(all_events):,} (tune {n_users['tune']:,}, test {n_users['test']:,}); "
          f"events: tune {len(splits['tune']):,}, test {len(splits['test']):,}", file=sys.stderr)

    # hyper-parameters, on the tune split only
    from functools import partial

    # arxiv-sanity-lite's C (0.01) and larger ones, chosen on the content-only tune split
    # and used for both variants
    res = {c: run_method(f"svm-C{c}", partial(m_svm, C=c), f, splits["tune"], False, "tune-kNone")[0]
           for c in args.svm_c}
    c_best = max(res, key=res.get)
    svm_c = {False: c_best, True: c_best}
    print(f"  svm: tune nDCG@10 by C {res} -> C={c_best}", file=sys.stderr)
    if args.svm_only:
        for split in ("test", "tune"):
            for authors, k in ((False, None), (False, 1), (False, 3), (False, 10), (True, None)):
                if split == "tune" and k is not None:
                    continue
                run_method(f"svm-C{c_best}", partial(m_svm, C=c_best), f, with_profile_size(splits[split], k),
                           authors, f"{split}-k{k}")
                print(f"  svm {split} authors={authors} k={k} done", file=sys.stderr, flush=True)
        return
    w_content, _ = tune_ranker(f, splits["tune"], False)
    w_authors = w_content if args.headline_only else tune_ranker(f, splits["tune"], True, base=w_content)[0]

    def ranker(w):
        from paperboy.rank import personal as pr

        return lambda f, e, authors: pr.combine(ranker_parts(f, e, authors, w), w)

    def methods(authors):
        base = [("random", m_random), ("newest", m_newest), ("categories", m_categories),
                ("centroid", m_centroid)]
        extra = [("follows", m_follows)] if authors else []
        return base + extra + [(f"svm(C={svm_c[authors]})", partial(m_svm, C=svm_c[authors])),
                               ("ranker", ranker(w_authors if authors else w_content))]

    print(f"\nRecommendation quality (nDCG@10 / recall@10 of a user's own papers among the day's; "
          f"macro over users; {args.days_per_user or 'all'} days per user)")
    print(f"{'split':5} {'variant':8} {'profile':7} {'method':14} {'users':>5} {'nDCG@10':>8} {'recall@10':>9}")
    headline = {}
    for split in ("test", "tune"):
        for authors in (False,) if args.headline_only else (False, True):
            for k in (None,) if args.headline_only else (None, 1, 3, 10):
                if (authors or split == "tune") and k is not None:
                    continue  # the cold start is measured on the test split, content only
                evs = with_profile_size(splits[split], k)
                for name, fn in methods(authors):
                    if authors and name in ("random", "newest", "categories", "centroid"):
                        continue  # no author features: the same as content only
                    nd, rc, nu = run_method(name.split("(")[0] + (f"-C{svm_c[authors]}" if name.startswith("svm") else "")
                                            + ("-" + hashlib.sha1(repr(w_authors if authors else w_content).encode()).hexdigest()[:8] if name == "ranker" else ""),
                                            fn, f, evs, authors, f"{split}-k{k}")
                    print(f"{split:5} {'authors' if authors else 'content':8} {k or 'all':>7} {name:14} {nu:5d} {nd:8.3f} {rc:9.3f}",
                          flush=True)
                    if split == "test" and not authors and k is None:
                        headline[name.split("(")[0]] = nd
    print(f"\ntuned ranker weights (content only): {w_content}")
    if not args.headline_only:
        print(f"tuned ranker weights (with follows): {w_authors}")
    if not args.no_speed:
        took = speed(args.speed_members, 1000, 50_000, 20)
        print(f"speed: refit + score {args.speed_members:,} members x 1,000 new papers "
              f"(20 liked each from a 50,000-paper pool): {took:.1f} s (load average {os.getloadavg()[0]:.1f})")
    gain = headline["ranker"] / headline["svm"] - 1
    print(f"ranker vs svm (content only, test): {gain:+.1%} relative nDCG@10; bench took {time.perf_counter() - t_start:.0f} s")
    print(f"content-only test: ranker nDCG@10={headline['ranker']:.3f} svm nDCG@10={headline['svm']:.3f}")


if __name__ == "__main__":
    main()
