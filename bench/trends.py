"""Trends benchmark: a 5-topic trend over 5 years, and "rising now", at N synthetic papers.

    .venv/bin/python bench/trends.py                      # 1,000,000 papers
    .venv/bin/python bench/trends.py --papers 200000 --requests 100
    .venv/bin/python bench/trends.py --only trend         # or: --only rising
    # the figures of docs/trends.md on the real sample (a store `paperboy demo` filled):
    PAPERBOY_DATA_DIR=/tmp/pbsample paperboy demo
    .venv/bin/python bench/trends.py --sample /tmp/pbsample

trend:  a keyword index of N papers spread evenly over five years (2020-2024), built
        straight into tantivy with the service's schema and documents (no database: the
        trend never reads one). Each request is five topics (a common word, a rarer one, a
        two-word query, a phrase, cat: or author:) over the five years by week (261
        periods) or by month (60), through ``TrendCounter.trend`` as /api/trends calls it.
        Printed: p50/p95/p99 with the period totals already kept (every request after the
        first on a reader), and the first request on a fresh reader (totals computed).
rising: a SQLite store holding the papers of the last 210 days at the density of N papers
        over five years (N/1826 a day), with synthetic titles and 150-word abstracts; times
        ``rising.compute`` for the month and the week as the worker runs it.

Text is Zipf-distributed pseudo-words (as bench/search.py); nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from paperboy.index.keyword import open_index, paper_document  # noqa: E402
from paperboy.index.stopwords import is_stop_word  # noqa: E402
from paperboy.index.trends import TrendCounter  # noqa: E402
from paperboy.rank import rising  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.migrate import upgrade  # noqa: E402
from paperboy.store.models import Paper, utcnow  # noqa: E402

CATS = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "cs.RO", "stat.ML", "math.OC", "physics.optics", "q-bio.NC", "eess.IV"]
START, DAYS = dt.date(2020, 1, 1), 1827  # 2020-01-01 .. 2024-12-31


def pct(samples: list[float]) -> str:
    a = np.array(samples) * 1000
    return f"p50 {np.percentile(a, 50):7.2f} ms  p95 {np.percentile(a, 95):7.2f} ms  p99 {np.percentile(a, 99):7.2f} ms"


def vocabulary(rng, n=60_000) -> np.ndarray:
    letters = np.array(list("etaoinshrdlucmfwypvbgkqjxz"))
    p = 1 / np.arange(1, 27)
    p /= p.sum()
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(letters, rng.integers(3, 11), p=p)))
    return np.array(sorted(words))


def zipf_ids(rng, size, n) -> np.ndarray:
    return np.minimum(rng.zipf(1.15, size) - 1, n - 1)


def authors(rng, vocab, n=20_000) -> np.ndarray:
    return np.array([f"{a.title()} {b.title()}" for a, b in zip(vocab[rng.integers(0, 5000, n)],
                                                                 vocab[rng.integers(0, 5000, n)], strict=True)])


def build_index(path: Path, n: int, rng, vocab, names, abstract_words: int) -> None:
    index = open_index(path)
    writer = index.writer(heap_size=512_000_000, num_threads=2)
    t = time.perf_counter()
    chunk = 20_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        titles = vocab[zipf_ids(rng, (m, 10), len(vocab))]
        bodies = vocab[zipf_ids(rng, (m, abstract_words), len(vocab))]
        for i in range(m):
            pid = start + i + 1
            row = SimpleNamespace(
                id=pid, title=" ".join(titles[i]), abstract=" ".join(bodies[i]),
                authors_text=", ".join(names[rng.integers(0, len(names), 3)]),
                categories=" ".join({CATS[pid % len(CATS)], CATS[(pid // 7) % len(CATS)]}),
                announced_on=START + dt.timedelta(days=(pid * DAYS) // (n + 1)), submitted_at=None,
                upvotes=int(pid % 7), hidden=False)
            writer.add_document(paper_document(index.schema, row))
        print(f"\r  indexed {start + m:,}/{n:,} ({time.perf_counter() - t:.0f}s)", end="", flush=True)
    writer.commit()
    writer.wait_merging_threads()
    print(f"\n  keyword index built in {time.perf_counter() - t:.0f}s")


def topic_sets(rng, vocab, names, count: int) -> list[list[str]]:
    vocab = np.array([w for w in vocab if not is_stop_word(w)])  # pseudo-words may spell "and"
    sets = []
    for _ in range(count):
        common, rare = vocab[rng.integers(20, 200)], vocab[rng.integers(500, 5000)]
        a, b = vocab[rng.integers(20, 3000, 2)]
        p, q = vocab[rng.integers(5, 100, 2)]
        last = f"cat:{CATS[rng.integers(0, len(CATS))]}" if rng.random() < 0.5 else \
            f'author:"{names[rng.integers(0, len(names))]}"'
        sets.append([str(common), str(rare), f"{a} {b}", f'"{p} {q}"', last])
    return sets


def bench_trend(args, rng, vocab, names) -> None:
    from paperboy.index.keyword import KeywordIndex

    path = Path(args.dir) / "keyword"
    if not (args.reuse and path.exists()):
        build_index(path, args.papers, rng, vocab, names, args.abstract_words)
    kwi = KeywordIndex(path)
    print(f"  {kwi.num_docs():,} papers in the index")
    sets = topic_sets(rng, vocab, names, args.requests)
    first, last = START, START + dt.timedelta(days=DAYS - 1)
    for unit in ("week", "month"):
        cold = []
        for _ in range(3):  # a fresh reader: the period totals are computed by the first request
            counter = TrendCounter(lambda: (kwi, object()))
            t = time.perf_counter()
            trend = counter.trend(sets[0], unit, first, last)
            cold.append(time.perf_counter() - t)
        counter = TrendCounter(lambda: (kwi, "stamp"))
        counter.trend(sets[0], unit, first, last)
        for rounds in (1, 2):  # twice: the machine is shared
            times = []
            for topics in sets:
                t = time.perf_counter()
                trend = counter.trend(topics, unit, first, last)
                times.append(time.perf_counter() - t)
            print(f"  5 topics x {len(trend.periods)} {unit}s, round {rounds}: {pct(times)}  "
                  f"(first on a fresh reader: {min(cold) * 1000:.1f} ms; load {os.getloadavg()[0]:.1f})")
    matched = [s.total for s in trend.series]
    print(f"  papers matched by the last request's topics: {matched}")


def bench_rising(args, rng, vocab, names) -> None:
    per_day = args.papers / DAYS
    days = rising.BASE_DAYS + max(rising.UNITS.values())
    n = int(per_day * days)
    db = Path(args.dir) / "rising.db"
    engine = make_engine(f"sqlite:///{db}")
    if not (args.reuse and db.exists()):
        db.unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        last = dt.date(2024, 12, 31)
        now = utcnow()
        t = time.perf_counter()
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            titles = vocab[zipf_ids(rng, (m, 10), len(vocab))]
            bodies = vocab[zipf_ids(rng, (m, 150), len(vocab))]
            rows = [{
                "id": start + i + 1, "arxiv_id": f"2400.{start + i + 1:06d}", "version": 1,
                "title": " ".join(titles[i]), "abstract": " ".join(bodies[i]), "authors_text": "", "categories": "cs.LG",
                "announced_on": last - dt.timedelta(days=((start + i) * days) // n), "links": [], "sources": "bench",
                "content_hash": f"{start + i:032x}", "upvotes": 0, "num_comments": 0, "hidden": False,
                "created_at": now, "modified_at": now} for i in range(m)]
            with engine.begin() as conn:
                conn.execute(insert(Paper.__table__), rows)
        print(f"  {n:,} papers of the last {days} days stored in {time.perf_counter() - t:.0f}s "
              f"({per_day:.0f} a day, as {args.papers:,} over five years)")
    for unit in ("month", "week"):
        for rounds in (1, 2):
            t = time.perf_counter()
            result = rising.compute(engine, unit)
            took = time.perf_counter() - t
            print(f"  rising now, {unit}, round {rounds}: {took:.2f}s ({result.recent_total:,} recent and "
                  f"{result.base_total:,} earlier papers read; {len(result.terms)} terms rose; "
                  f"load {os.getloadavg()[0]:.1f})")
    engine.dispose()


def sample_figures(data_dir: str) -> None:
    """The trend of "large language models" in cs.CL per month, and rising now, on a store."""
    from paperboy.config import Settings
    from paperboy.index.service import SearchService
    from paperboy.store.db import get_engine

    settings = Settings(data_dir=data_dir, embedder="null")
    engine = get_engine(settings)
    counter = SearchService(settings, engine).trends
    first, last = counter.span()
    trend = counter.trend(['"large language models" cat:cs.CL', "cat:cs.CL", '"large language models"'], "month",
                          first, last)
    llm_cl, cl, llm = trend.series
    print(f"papers {first} to {last}; per month: days sampled, all papers, cs.CL, LLM in cs.CL, share of cs.CL, "
          "LLM anywhere, share of all")
    with engine.connect() as conn:
        days = dict(conn.exec_driver_sql(
            "SELECT substr(CAST(announced_on AS TEXT), 1, 7), count(DISTINCT announced_on) FROM papers "
            "WHERE NOT hidden GROUP BY 1").all())
    for i, label in enumerate(trend.labels):
        share = llm_cl.counts[i] / cl.counts[i] if cl.counts[i] else 0
        print(f"  {label}  {days.get(label, 0):2d}  {trend.totals[i]:5d}  {cl.counts[i]:4d}  {llm_cl.counts[i]:4d}  "
              f"{share:6.1%}  {llm.counts[i]:4d}  {llm.shares[i]:6.1%}")
    for unit in ("month", "week"):
        t = time.perf_counter()
        result = rising.compute(engine, unit)
        print(f"rising now, the {unit} {result.recent_from} to {result.recent_to} ({result.recent_total:,} papers) "
              f"against {result.base_from} to {result.recent_from - dt.timedelta(days=1)} "
              f"({result.base_total:,}), {time.perf_counter() - t:.1f}s:")
        for r in result.terms:
            print(f"  {r.term:32s} {r.recent_count:4d} papers ({r.recent_count / result.recent_total:6.2%}), before "
                  f"{r.base_count:4d} ({r.base_count / result.base_total:6.2%})  G² {r.llr:5.1f}  bound {r.score:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--papers", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--abstract-words", type=int, default=150)
    ap.add_argument("--only", choices=("trend", "rising"))
    ap.add_argument("--dir", help="keep the built index and store here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="use what --dir already holds")
    ap.add_argument("--sample", metavar="DATA_DIR", help="print docs/trends.md's figures from this store instead")
    args = ap.parse_args()
    if args.sample:
        sample_figures(args.sample)
        return
    tmp = None
    if not args.dir:
        tmp = tempfile.TemporaryDirectory(prefix="pb-trends-")
        args.dir = tmp.name
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    vocab = vocabulary(rng)
    names = authors(rng, vocab)
    print(f"trends bench: {args.papers:,} papers, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    if args.only in (None, "trend"):
        bench_trend(args, rng, vocab, names)
    if args.only in (None, "rising"):
        bench_rising(args, rng, vocab, names)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
