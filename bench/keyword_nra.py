"""Could a query of common words skip tantivy's walk over every match? (issue 16: keyword
p95 <= 5 ms at 2.6M papers)

    PYTHONPATH=. .venv/bin/python bench/keyword_nra.py DATA_DIR [QUERIES] [--depth 2000,8000,32000]

DATA_DIR is a node's data dir whose keyword index is built (``bench/scale.py --steps
ingest,index --keep``'s ``data-postgresql``). The queries are ``bench/scale.py``'s kind
(distinct 2-4 words of the sample's titles).

tantivy 0.27 scores every paper that matches a conjunction, ~40 ns each, and "language
models" matches 1.4M of the 2.6M generated papers. The idea measured here is Fagin's
"no random access" algorithm (NRA) over impact-ordered lists:

* for each word, its **champion list**: the papers with the highest score for that word
  alone (the service's own one-word query, so the score is tantivy's, title bonus and
  author clause included), best first, to a depth D. Every paper outside the list scores
  at most the list's last score for that word (its *bound*);
* a paper in every word's list has its exact score (the query's score is the sum of its
  words' scores: ``KeywordIndex._at_least``); a paper in some lists has an upper bound
  (what it is known to score plus the bounds of the lists it is not in); a paper in none
  scores at most the sum of the bounds;
* if the k-th best exact score is at least every upper bound, those k are the exact top k.
  If not, the lists are read deeper (the next depth), and past the last depth the query
  runs in tantivy as now.

Only queries whose matches could be many (every way to satisfy the query leads through a
word on more than ``--hot`` papers) take this path; the rest run in tantivy as now, which
costs ~40 ns a match. A word's list is built once per index generation with one tantivy
search (its time is printed: a node pays it once per word after each reload).

The count of matches is the other cost: tantivy counts by walking every match too. Printed
for the common-word queries: how often a lower bound from the words' document frequencies
alone (|A ∩ B| >= |A| + |B| - N) already exceeds 10,000 (shown "10,000+", as
Elasticsearch shows a total past its tracking limit), so that nothing need be counted.

Per query it checks that the top k equals tantivy's (ids, or scores equal to 5 digits
where papers tie). Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import queries  # noqa: E402  (the same kind of queries as the scale bench)

from paperboy.config import Settings  # noqa: E402
from paperboy.index.jobs import keyword_dir  # noqa: E402
from paperboy.index.keyword import (  # noqa: E402
    AUTHORS_BOOST,
    BODY_BOOST,
    TITLE_BOOST,
    KeywordIndex,
    name_terms,
    required_matches,
    text_terms,
)
from paperboy.index.query import parse_query  # noqa: E402
from paperboy.index.stopwords import stop_terms  # noqa: E402

COUNT_EXACT_UP_TO = 10_000


def word_groups(words: list[str]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """The query's words as ``words_query`` groups them: (body terms, author-name terms)."""
    stops, out = stop_terms(), {}
    for word in words:
        terms = tuple(t for t in dict.fromkeys(text_terms(word)) if t not in stops)
        if terms and terms not in out:
            out[terms] = tuple(name_terms(word))
    return list(out.items())


class ChampionLists:
    """Per word, its best papers for that word alone, to the deepest depth asked for."""

    def __init__(self, kw: KeywordIndex, depth: int) -> None:
        self.kw, self.depth = kw, depth
        self.lists: dict[tuple, tuple[np.ndarray, np.ndarray, bool]] = {}
        self.build_s: list[float] = []

    def word_query(self, group) -> tantivy.Query:
        terms, names = group
        return self.kw._at_least([self.kw._word_parts(terms, names, TITLE_BOOST, BODY_BOOST, AUTHORS_BOOST)], 1)

    def get(self, group) -> tuple[np.ndarray, np.ndarray, bool]:
        """The word's list: ids, scores, and whether it holds every paper the word matches."""
        if group not in self.lists:
            t = time.perf_counter()
            res = self.kw.search(self.word_query(group), limit=self.depth, count=False)
            self.lists[group] = (np.asarray(res.ids, dtype=np.int64), np.asarray(res.scores, dtype=np.float64),
                                 len(res.ids) < self.depth)
            self.build_s.append(time.perf_counter() - t)
        return self.lists[group]

    def matches(self, group) -> int:
        """How many papers the word matches (its terms in the body, or it as an author name)."""
        return self.kw.search(self.word_query(group), limit=0).total


def nra_top_k(lists: list[tuple[np.ndarray, np.ndarray, bool]], depth: int, k: int,
              hidden: frozenset[int]) -> tuple[list[int], list[float]] | None:
    """The exact top ``k`` of a conjunction from the first ``depth`` entries of each word's
    champion list, or None when those entries cannot prove it."""
    n = len(lists)
    bounds = np.zeros(n)
    ids_parts, score_parts, which = [], [], []
    for j, (ids, scores, whole) in enumerate(lists):
        complete = whole and len(ids) <= depth
        ids, scores = ids[:depth], scores[:depth]
        bounds[j] = 0.0 if complete or not len(scores) else float(scores[-1])
        ids_parts.append(ids)
        score_parts.append(scores)
        which.append(np.full(len(ids), 1 << j, dtype=np.int64))
    all_ids = np.concatenate(ids_parts)
    all_scores = np.concatenate(score_parts)
    all_bits = np.concatenate(which)
    uniq, inverse = np.unique(all_ids, return_inverse=True)
    known = np.zeros(len(uniq))
    np.add.at(known, inverse, all_scores)
    seen = np.zeros(len(uniq), dtype=np.int64)
    np.bitwise_or.at(seen, inverse, all_bits)
    full = seen == (1 << n) - 1
    if hidden:
        full &= ~np.isin(uniq, np.fromiter(hidden, dtype=np.int64))
    exact_ids, exact_scores = uniq[full], known[full]
    if len(exact_ids) < k:
        return None
    top = np.argpartition(-exact_scores, k - 1)[:k]
    top = top[np.argsort(-exact_scores[top], kind="stable")]
    kth = exact_scores[top[-1]]
    # Upper bounds: a partly seen paper, what it is known to score plus the bounds of the
    # lists it is not in; an unseen one, the sum of the bounds.
    partial = ~full
    missing_bound = np.zeros(len(uniq))
    for j in range(n):
        missing_bound += np.where(seen & (1 << j), 0.0, bounds[j])
    best_partial = float((known + missing_bound)[partial].max()) if partial.any() else 0.0
    if kth + 1e-6 < max(best_partial, float(bounds.sum())):
        return None
    return [int(i) for i in exact_ids[top]], [float(s) for s in exact_scores[top]]


def pct(xs: list[float]) -> str:
    a = np.array(xs) * 1000
    return " / ".join(f"{np.percentile(a, p):.2f}" for p in (50, 95, 99)) + " ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("queries", type=int, nargs="?", default=500)
    ap.add_argument("--depth", default="2000,8000,32000", help="champion list depths read in turn")
    ap.add_argument("--hot", type=int, default=50_000, help="a word on more papers than this is common")
    ap.add_argument("--k", type=int, default=20)
    args = ap.parse_args()
    depths = [int(d) for d in args.depth.split(",")]
    kw = KeywordIndex(keyword_dir(Settings(data_dir=args.data_dir, embedder="null", mail_backend="null")))
    searcher = kw.index.searcher()
    n_docs = searcher.num_docs
    hidden = kw.hidden_ids()
    champions = ChampionLists(kw, depths[-1])
    k = args.k
    served_t, nra_t, count_t = [], [], []
    plain_t, hot_served_t = [], []
    hot = fell_back = differed = bounded = 0
    at_depth = dict.fromkeys(depths, 0)
    qs = queries(args.queries)
    for text in qs:
        pq = parse_query(text)
        groups = word_groups(pq.words)
        if not groups:
            continue
        served = kw.build(pq, none_hidden=not hidden)
        t = time.perf_counter()
        want = kw.search(served, limit=k)
        served_t.append(time.perf_counter() - t)
        needed = required_matches(len(groups))
        dfs = sorted(champions.matches(g) for g in groups)
        # Every match holds one of any (n - needed + 1) of the words: the rarest such set
        # bounds the matches.
        most = sum(dfs[:len(groups) - needed + 1])
        if most <= args.hot:
            t = time.perf_counter()
            kw.search(served, limit=k)
            plain_t.append(time.perf_counter() - t)
            continue
        hot += 1
        hot_served_t.append(served_t[-1])
        lists = [champions.get(g) for g in groups]  # built once per word and generation (timed apart)
        t = time.perf_counter()
        got = None
        for depth in depths:
            got = nra_top_k(lists, depth, k, hidden)
            if got is not None:
                at_depth[depth] += 1
                break
        if got is None:
            fell_back += 1
            res = kw.search(served, limit=k, count=False)
            got = (res.ids, res.scores)
        nra_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        low = sum(dfs) - (len(groups) - 1) * n_docs if needed == len(groups) else 0
        if low > COUNT_EXACT_UP_TO:
            bounded += 1
        else:
            kw.search(served, limit=0)
        count_t.append(time.perf_counter() - t)
        if got[0] != want.ids[:k] and not np.allclose(sorted(got[1]), sorted(want.scores[:k]), rtol=1e-5):
            differed += 1
    print(f"{len(served_t)} queries, {n_docs:,} papers, load {os.getloadavg()[0]:.1f}; top {k}; "
          f"common-word queries (more than {args.hot:,} possible matches): {hot}")
    print(f"  as served now (tantivy, with its count), all queries   p50/p95/p99 {pct(served_t)}")
    print(f"  as served now, the common-word queries                 {pct(hot_served_t)}")
    print(f"  the other queries, in tantivy as now                   {pct(plain_t)}")
    print(f"  common-word queries, NRA over champion lists (top {k})  {pct(nra_t)}")
    print(f"    proved at depth {', '.join(f'{d:,}: {c}' for d, c in at_depth.items())}; "
          f"tantivy after all: {fell_back}; top {k} differed from tantivy's: {differed}")
    print(f"  their count: df lower bound > {COUNT_EXACT_UP_TO:,} in {bounded} of {hot}, "
          f"else tantivy's count       {pct(count_t)}")
    everything = plain_t + [a + b for a, b in zip(nra_t, count_t, strict=True)]
    print(f"  all queries, this way (top {k} and count)               {pct(everything)}")
    print(f"  champion lists: {len(champions.lists)} words, built in {pct(champions.build_s)} each "
          f"(depth {depths[-1]:,}), {sum(a.nbytes + b.nbytes for a, b, _ in champions.lists.values()) / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
