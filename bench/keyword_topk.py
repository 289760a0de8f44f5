"""Could a keyword search's top-k skip most matches? (issue 16: keyword p95 <= 5 ms at 2.6M)

    PYTHONPATH=. .venv/bin/python bench/keyword_topk.py DATA_DIR [QUERIES]

DATA_DIR is a node's data dir whose keyword index is built (e.g. ``bench/scale.py
--steps ingest,index --keep``'s ``data-postgresql``). For ``bench/scale.py``'s kind of
queries (2-4 words of the sample's titles) it times, per query, in this process:

* the query as the service builds it, with its count (what a search costs now);
* the same without the count, and the count alone;
* a candidate way to the same top 20: a disjunction of every word's terms (tantivy prunes
  a disjunction of plain terms block by block when it need not count), its top K', then
  the service's query restricted to those K' papers. A paper holding every word scores
  the same sum in both queries, so if 20 of the K' pass, they are the exact top 20; if
  not, K' grows (x4) up to 5,120, then the plain query answers.

It prints p50/p95/p99 of each and how many queries' top 20 differed (scores compared, ties
allowed) or needed the plain query. Figures only; nothing asserted.
"""

from __future__ import annotations

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
    text_terms,
)
from paperboy.index.query import parse_query  # noqa: E402
from paperboy.index.stopwords import stop_terms  # noqa: E402

K = 20
Occur = tantivy.Occur


def leaves(kw: KeywordIndex, words: list[str]) -> list[tantivy.Query]:
    """Every scored term of the service's words query, with its boost, as one flat list."""
    stops, seen, out = stop_terms(), set(), []
    for word in words:
        terms = tuple(t for t in dict.fromkeys(text_terms(word)) if t not in stops)
        if not terms or terms in seen:
            continue
        seen.add(terms)
        out += [tantivy.Query.boost_query(kw._term("body", t), BODY_BOOST) for t in terms]
        out += [tantivy.Query.boost_query(kw._term("authors", n), AUTHORS_BOOST) for n in name_terms(word)]
        out += [tantivy.Query.boost_query(kw._term("title", t), TITLE_BOOST) for t in terms]
    return out


def pct(xs: list[float]) -> str:
    a = np.array(xs) * 1000
    return " ".join(f"p{p} {np.percentile(a, p):6.2f}" for p in (50, 95, 99)) + " ms"


def main() -> None:
    data = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    kw = KeywordIndex(keyword_dir(Settings(data_dir=data, embedder="null", mail_backend="null")))
    times: dict[str, list[float]] = {k: [] for k in ("as served", "without count", "count alone",
                                                     "disjunction top-K'", "restricted check", "both")}
    differed = plain = 0
    for q in queries(n):
        pq = parse_query(q)
        served = kw.build(pq, none_hidden=True)
        if not pq.words or not (lv := leaves(kw, pq.words)):
            continue
        t = time.perf_counter()
        want = kw.search(served, limit=K)
        times["as served"].append(time.perf_counter() - t)
        t = time.perf_counter()
        kw.search(served, limit=K, count=False)
        times["without count"].append(time.perf_counter() - t)
        t = time.perf_counter()
        kw.search(served, limit=0)
        times["count alone"].append(time.perf_counter() - t)
        t0 = time.perf_counter()
        size = 4 * K
        while True:
            top = kw.search(tantivy.Query.boolean_query([(Occur.Should, leaf) for leaf in lv]), limit=size, count=False)
            t1 = time.perf_counter()
            ids = tantivy.Query.boolean_query([(Occur.Should, kw._term("id", int(i))) for i in top.ids])
            got = kw.search(tantivy.Query.boolean_query([(Occur.Must, served), (Occur.Must, ids)]), limit=size,
                            count=False)
            if len(got.ids) >= K or len(top.ids) < size:
                break
            size *= 4
            if size > 5120:
                plain += 1
                got = kw.search(served, limit=K, count=False)
                break
        t2 = time.perf_counter()
        times["disjunction top-K'"].append(t1 - t0)
        times["restricted check"].append(t2 - t1)
        times["both"].append(t2 - t0)
        if got.ids[:K] != want.ids[:K] and not np.allclose(sorted(got.scores[:K]), sorted(want.scores[:K]), rtol=1e-4):
            differed += 1
    print(f"{len(times['both'])} queries, {kw.num_docs():,} papers, load {os.getloadavg()[0]:.1f}; "
          f"top {K} differed in {differed}, plain query needed in {plain}")
    for name, xs in times.items():
        print(f"  {name:<20} {pct(xs)}")


if __name__ == "__main__":
    main()
