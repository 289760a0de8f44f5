"""Parts tried for the "For you" ranker and dropped: each scored on the tune split of
``bench/recommend.py``'s protocol (content only, every later day of every user).

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python bench/recommend_parts.py

Each candidate part is added to the shipped ranker's parts (``personal.Weights()``),
standardised like them, at the weight of a small grid that scores best on the tune
split (so the figure flatters the candidate a little); a row that replaces a shipped
part says so. A part is worth shipping only if it lifts the tune split clearly; the best
of them is then scored once on the test split. LambdaMART (lightgbm's ``lambdarank``,
when lightgbm is installed; it is not a dependency) learns the combination of the
shipped parts instead of the weighted sum, scored by 2-fold cross-validation over the
tune split's users. Uses ``bench/recommend.py``'s cached embeddings (128 word pieces).
``--embedder FOLDER`` tries another sentence-transformers model's vectors instead: its
vector parts beside MiniLM's, then in their place.
Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import recommend as R  # noqa: E402
from paperboy.rank import personal as pr  # noqa: E402

SHIPPED = {k: v for k, v in asdict(pr.Weights()).items() if k in pr.PARTS and k != "negative"}
GRID = (-1.0, -0.5, -0.25, -0.1, -0.05, 0.05, 0.1, 0.25, 0.5, 1.0)


def std(x: np.ndarray) -> np.ndarray:
    s = x.std()
    return (x - x.mean()) / s if s > 1e-12 else np.zeros_like(x)


def ndcg(scores: np.ndarray, hits: np.ndarray, at: int = 10) -> float:
    top = hits[np.argsort(-scores, kind="stable")[:at]].astype(float)
    ideal = (1 / np.log2(np.arange(2, min(int(hits.sum()), at) + 2))).sum()
    return float((top / np.log2(np.arange(2, len(top) + 2))).sum() / ideal)


class Split:
    """One split's events with every part computed once; weights are then cheap to try."""

    def __init__(self, f: R.Features, events: list[R.Event]) -> None:
        self.events = events
        self.raw = [R.ranker_parts(f, e, False, pr.Weights()) for e in events]
        self.hits = [np.array([c in e.targets for c in e.cands]) for e in events]
        self.jitter = [R.jitter(e) for e in events]

    def add(self, name: str, fn) -> None:
        for e, raw in zip(self.events, self.raw, strict=True):
            raw[name] = fn(e)

    def score(self, weights: dict[str, float]) -> float:
        users: dict[str, list[float]] = {}
        for e, raw, hits, jit in zip(self.events, self.raw, self.hits, self.jitter, strict=True):
            s = sum(w * std(raw[n].astype(np.float64)) for n, w in weights.items() if w and n in raw)
            users.setdefault(e.user, []).append(ndcg(s + jit, hits))
        return float(np.mean([np.mean(v) for v in users.values()]))


NAMED = re.compile(r"[A-Za-z0-9]+(?:[-.][A-Za-z0-9]+)*")


def named_things(text: str) -> list[str]:
    """Tokens as written that name something: an inner capital or a digit beside letters."""
    out = []
    for t in (m.strip(".-") for m in NAMED.findall(text)):
        if len(t) > 1 and (any(c.isupper() for c in t[1:])
                           or (any(c.isdigit() for c in t) and any(c.isalpha() for c in t))):
            out.append(t)
    return out


def term_parts(f: R.Features, papers: list[R.Paper]) -> dict:
    """Candidate parts from the papers' words, as functions of an event."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    X = f.rterms
    B = X.copy()
    B.data[:] = 1
    df = np.asarray(B.sum(axis=0)).ravel()
    idf = np.log((1 + X.shape[0]) / (1 + df)) + 1
    background: dict[str, np.ndarray] = {}

    def generic(e):  # similarity to the recent papers' mean words: how generic a paper is
        if e.day not in background:
            m = np.asarray(X[f.history(e.day)[-3000:]].mean(axis=0)).ravel()
            background[e.day] = m / np.linalg.norm(m)
        return np.asarray(X[e.cands] @ background[e.day]).ravel()

    def rare(limit):  # idf-weighted count of the liked papers' words fewer than `limit` papers use
        mask = (df <= limit) * idf

        def part(e):
            mine = np.asarray(B[e.profile].max(axis=0).todense()).ravel()
            return np.asarray(B[e.cands] @ (mine * mask)).ravel()
        return part

    # BM25 of the candidate against the liked papers' words (each weighted by how many
    # liked papers use it), instead of the tf-idf cosine of ``words``
    texts = [pr.term_text(p.title, p.abstract, p.comment) for p in papers]
    C = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b", ngram_range=(1, 2),
                        strip_accents="unicode", min_df=2, max_df=0.5, dtype=np.float32).fit_transform(texts).tocsr()
    n_docs = C.shape[0]
    bdf = np.asarray((C > 0).sum(axis=0)).ravel()
    bidf = np.log(1 + (n_docs - bdf + 0.5) / (bdf + 0.5)).astype(np.float32)
    length = np.asarray(C.sum(axis=1)).ravel()
    k1, b = 1.2, 0.75
    rows = np.repeat(np.arange(n_docs), np.diff(C.indptr))
    M = C.copy()
    M.data = M.data * (k1 + 1) / (M.data + k1 * (1 - b + b * length[rows] / length.mean()))

    def bm25(e):
        q = np.asarray((C[e.profile] > 0).sum(axis=0)).ravel() * bidf
        return np.asarray(M[e.cands] @ q).ravel()

    # named things as written: tokens with an inner capital or a digit beside letters,
    # hyphens and dots kept ("LLaVA-1.5", "GPT-4o", "3D", "ResNet50"), which the words'
    # lower-case, letter-first tokens split or drop; a group reuses its own names
    ident = TfidfVectorizer(analyzer=named_things, sublinear_tf=True, min_df=2, max_df=0.2,
                            dtype=np.float32).fit_transform([f"{p.title} {p.abstract}" for p in papers]).tocsr()

    def expanded(k):  # the words of the liked papers' k nearest earlier papers (vectors)
        def part(e):
            hist = np.setdiff1d(f.history(e.day), e.profile)
            near = np.unique(hist[np.argsort(-(f.vecs[e.profile] @ f.vecs[hist].T), axis=1)[:, :k].ravel()])
            return np.asarray(X[e.cands] @ np.asarray(X[near].mean(axis=0)).ravel()).ravel()
        return part

    names = pr.term_vectorizer(len(papers)).fit(texts).get_feature_names_out()
    bigram = np.array([" " in t for t in names])

    def words_of(keep):  # the shipped ``words`` part over some of the columns only
        Xk = X.multiply(keep[None, :]).tocsr()
        return lambda e: np.asarray(Xk[e.cands] @ np.asarray(Xk[e.profile].mean(axis=0)).ravel()).ravel()

    lsa = TruncatedSVD(256, n_iter=5, random_state=0).fit_transform(X).astype(np.float32)
    lsa /= np.maximum(np.linalg.norm(lsa, axis=1, keepdims=True), 1e-9)

    def svm(e):  # arxiv-sanity-lite's LinearSVC, over the ranker's own words
        from sklearn.svm import LinearSVC

        neg = f.negatives(e.day, e.profile)
        x = X[np.concatenate([np.array(e.profile), neg])]
        y = np.r_[np.ones(len(e.profile)), np.zeros(len(neg))]
        return LinearSVC(class_weight="balanced", C=0.1, tol=1e-4, max_iter=10000).fit(x, y).decision_function(X[e.cands])

    return {
        "generic (recent papers' mean words)": generic,
        "rare words (df <= 10)": rare(10),
        "rare words (df <= 30)": rare(30),
        "rare words (df <= 100)": rare(100),
        "centroid of the 3 latest liked": lambda e: f.vecs[e.cands] @ f.vecs[e.profile[-3:]].mean(axis=0),
        "knn, k=3, beside k=1": lambda e: np.sort(f.vecs[e.cands] @ f.vecs[e.profile].T, axis=1)[:, -3:].mean(axis=1),
        "LSA (256-d of the words), centroid": lambda e: lsa[e.cands] @ lsa[e.profile].mean(axis=0),
        "BM25 of the liked papers' words, for words": bm25,
        "LinearSVC over the ranker's words (C=0.1)": svm,
        "named things as written, centroid": lambda e: np.asarray(
            ident[e.cands] @ np.asarray(ident[e.profile].mean(axis=0)).ravel()).ravel(),
        "named things as written, max": lambda e: np.asarray(
            (ident[e.cands] @ ident[e.profile].T).max(axis=1).todense()).ravel(),
        "words of the liked papers' 5 nearest earlier": expanded(5),
        "words of the liked papers' 20 nearest earlier": expanded(20),
        "unigrams only, for words": words_of(~bigram),
        "bigrams only, for words": words_of(bigram),
    }


def coauthor_parts(f: R.Features, papers: list[R.Paper]) -> dict:
    """Parts whose space is learned from co-authorship: which directions of the vectors,
    and which words, a person's papers share more than papers at large do. Each event
    learns from the papers listed before its day only (as the service would, from what it
    holds), so the day's targets teach nothing. No author name is a feature of a paper."""
    from scipy import sparse

    keys = sorted({k for p in papers for k in p.keys})
    col = {k: j for j, k in enumerate(keys)}
    pairs = [(p.idx, col[k]) for p in papers for k in p.keys]
    A = sparse.csr_matrix((np.ones(len(pairs)), ([i for i, _ in pairs], [j for _, j in pairs])),
                          shape=(len(papers), len(keys)))
    X = f.vecs.astype(np.float64)
    W = f.rterms.astype(np.float64).tocsr()
    B = W.copy()
    B.data[:] = 1
    kept: dict[tuple[str, str], object] = {}

    def groups(day: str):  # (incidence of authors with 2+ papers before the day, their sizes)
        n = f.day_index[day]
        Ah = A[:n].tocsc()
        sizes = np.asarray(Ah.sum(axis=0)).ravel()
        keep = np.flatnonzero(sizes >= 2)
        return n, Ah[:, keep], sizes[keep]

    def whitened(day: str) -> np.ndarray:
        """The vectors whitened by the within-author scatter (shrunk towards the identity
        by its mean variance), so that what varies among one person's papers counts less."""
        if (day, "v") not in kept:
            n, Ak, sizes = groups(day)
            c = np.asarray(Ak.sum(axis=1)).ravel()
            S = Ak.T @ X[:n]
            within = ((X[:n] * c[:, None]).T @ X[:n] - (S / sizes[:, None]).T @ S) / c.sum()
            w, V = np.linalg.eigh(within + np.trace(within) / len(within) * np.eye(len(within)))
            Y = (X - X[:n].mean(axis=0)) @ (V @ np.diag(w ** -0.5) @ V.T)
            kept[(day, "v")] = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-9)
        return kept[(day, "v")]

    def lifted(day: str):
        """The words, each column scaled by sqrt(log(1 + lift)), the lift being how much
        more often two papers of one author share the word than two papers at large."""
        if (day, "w") not in kept:
            n, Ak, sizes = groups(day)
            G = (Ak.T @ B[:n]).tocsr()  # per author: how many of their papers use each word
            both = np.asarray(G.multiply(G).sum(axis=0)).ravel() - np.asarray(G.sum(axis=0)).ravel()
            share = (np.asarray(B[:n].sum(axis=0)).ravel() + 1) / (n + 2)
            lift = ((both + 1) / ((sizes * (sizes - 1)).sum() + 1)) / share**2
            Z = W @ sparse.diags(np.log1p(lift) ** 0.5)
            norms = np.sqrt(np.asarray(Z.multiply(Z).sum(axis=1)).ravel())
            kept[(day, "w")] = (sparse.diags(1 / np.maximum(norms, 1e-12)) @ Z).tocsr()
        return kept[(day, "w")]

    def lifted_words(e):
        Z = lifted(e.day)
        return np.asarray(Z[e.cands] @ np.asarray(Z[e.profile].mean(axis=0)).ravel()).ravel()

    return {
        "vectors whitened within authors, centroid": lambda e: whitened(e.day)[e.cands] @ whitened(e.day)[e.profile].mean(axis=0),
        "vectors whitened within authors, knn": lambda e: (whitened(e.day)[e.cands] @ whitened(e.day)[e.profile].T).max(axis=1),
        "words weighted by co-author lift, for words": lifted_words,
    }


VECTOR_PARTS = ("knn", "centroid", "linear")


def model_parts(f: R.Features, vecs: np.ndarray, label: str) -> dict:
    """The shipped vector parts (knn, centroid, linear) over another model's vectors of
    the same papers, each a candidate part beside MiniLM's."""
    g = copy.copy(f)
    g.vecs, g._backgrounds = vecs, {}
    done: dict[int, dict] = {}

    def of(e):
        if id(e) not in done:
            done[id(e)] = R.ranker_parts(g, e, False, pr.Weights())
        return done[id(e)]

    return {f"{label} {p}": (lambda e, p=p: of(e).get(p, np.zeros(len(e.cands)))) for p in VECTOR_PARTS}


def prf(split: Split, f: R.Features, weights: dict[str, float], m: int, lam: float) -> float:
    """Pseudo-relevance feedback: the day's top ``m`` by the shipped score, their mean
    words' similarity added at ``lam``."""
    users: dict[str, list[float]] = {}
    for e, raw, hits, jit in zip(split.events, split.raw, split.hits, split.jitter, strict=True):
        s = sum(w * std(raw[n].astype(np.float64)) for n, w in weights.items() if w and n in raw)
        terms = f.rterms[e.cands]
        top = np.asarray(terms[np.argsort(-s)[:m]].mean(axis=0)).ravel()
        s = s + lam * std(np.asarray(terms @ top).ravel().astype(np.float64))
        users.setdefault(e.user, []).append(ndcg(s + jit, hits))
    return float(np.mean([np.mean(v) for v in users.values()]))


def lambdamart(split: Split) -> float | None:
    try:
        import lightgbm as lgb
    except ImportError:
        return None
    names = list(SHIPPED)
    X = [np.stack([std(raw[n].astype(np.float64)) if n in raw else np.zeros(len(h)) for n in names], axis=1)
         for raw, h in zip(split.raw, split.hits, strict=True)]
    fold = [int(hashlib.sha1(("f" + e.user).encode()).hexdigest(), 16) % 2 for e in split.events]
    users: dict[str, list[float]] = {}
    for k in (0, 1):
        train = [i for i in range(len(X)) if fold[i] != k]
        model = lgb.LGBMRanker(objective="lambdarank", n_estimators=200, learning_rate=0.05, num_leaves=15,
                               min_child_samples=50, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                               random_state=0, verbose=-1)
        model.fit(np.concatenate([X[i] for i in train]), np.concatenate([split.hits[i] for i in train]).astype(int),
                  group=[len(X[i]) for i in train])
        for i in (i for i in range(len(X)) if fold[i] == k):
            users.setdefault(split.events[i].user, []).append(ndcg(model.predict(X[i]) + split.jitter[i], split.hits[i]))
    return float(np.mean([np.mean(v) for v in users.values()]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--embedder", help="also try the vector parts over this sentence-transformers model's vectors "
                                       "(a folder), beside MiniLM's and in their place")
    args = ap.parse_args()
    t0 = time.perf_counter()
    papers = R.load_papers()
    f = R.Features(papers, R.embeddings(papers, 128), 2000)
    events = R.sample_days(R.build_events(papers), 0)
    tune = Split(f, [e for u, evs in events.items() if R.is_tune(u) for e in evs])
    base = tune.score(SHIPPED)
    print(f"tune split: {len({e.user for e in tune.events})} users, {len(tune.events)} events; "
          f"shipped ranker nDCG@10 {base:.4f} ({SHIPPED})")
    print(f"{'part':48} {'alone':>7} {'best':>7} {'weight':>7} {'change':>8}")
    best: tuple[float, str, dict] = (base, "shipped", SHIPPED)
    if args.embedder:
        label = Path(args.embedder).name
        fns = model_parts(f, R.embeddings(papers, 128, args.embedder), label)
    else:
        fns = term_parts(f, papers) | coauthor_parts(f, papers)
    for name, fn in fns.items():
        tune.add(name, fn)
        replaces = "words" if name.endswith("for words") else None
        trials = [(tune.score({**SHIPPED, **({replaces: 0.0} if replaces else {}), name: w}), w) for w in GRID]
        value, w = max(trials)
        weights = {**SHIPPED, **({replaces: 0.0} if replaces else {}), name: w}
        print(f"{name:48} {tune.score({name: 1.0}):7.4f} {value:7.4f} {w:7.2f} {value - base:+8.4f}", flush=True)
        best = max(best, (value, name, weights), key=lambda b: b[0])
    if args.embedder:
        # the other model's vectors in place of MiniLM's, at the shipped weights times a factor
        for factor in (0.5, 1.0, 1.5, 2.0):
            weights = {**SHIPPED, **{p: 0.0 for p in VECTOR_PARTS},
                       **{f"{label} {p}": SHIPPED[p] * factor for p in VECTOR_PARTS}}
            value = tune.score(weights)
            name = f"{label} in place of MiniLM, weights x{factor}"
            print(f"{name:48} {'':7} {value:7.4f} {'':7} {value - base:+8.4f}", flush=True)
            if value > best[0]:
                best = (value, name, weights)
        if best[1] != "shipped":
            test = Split(f, [e for u, evs in events.items() if not R.is_tune(u) for e in evs])
            for name, fn in fns.items():
                test.add(name, fn)
            print(f"test split, once: shipped {test.score(SHIPPED):.4f}, with {best[1]!r} {test.score(best[2]):.4f}")
        print(f"took {time.perf_counter() - t0:.0f} s")
        return
    for m, lam in ((3, 0.25), (3, 0.5), (10, 0.25)):
        value = prf(tune, f, SHIPPED, m, lam)
        print(f"{f'pseudo-relevance feedback, top {m}':48} {'':7} {value:7.4f} {lam:7.2f} {value - base:+8.4f}", flush=True)
    lm = lambdamart(tune)
    print(f"{'LambdaMART over the shipped parts (2-fold)':48} {'':7} "
          + (f"{lm:7.4f} {'':7} {lm - base:+8.4f}" if lm is not None else "lightgbm not installed"))
    if best[1] != "shipped":
        test = Split(f, [e for u, evs in events.items() if not R.is_tune(u) for e in evs])
        test.add(best[1], fns[best[1]])
        print(f"test split, once: shipped {test.score(SHIPPED):.4f}, with {best[1]!r} {test.score(best[2]):.4f}")
    print(f"took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
