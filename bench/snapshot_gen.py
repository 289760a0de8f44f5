"""A Kaggle-format arXiv snapshot of any size, with distributions measured from real papers.

    .venv/bin/python bench/snapshot_gen.py --records 2600000 --out /work/scale-data/snap.json [--seed 1]

Measured from ``../shared/data/arxiv/daily`` (10,348 real papers) at start-up:

* title and abstract: each record's are a real sample paper's (drawn at random), with
  ``KEEP`` (90 %) of their words kept in place and the others drawn from the sample's
  title (abstract) vocabulary with its frequencies; so the lengths are the sample's, and
  so is how many papers use each word (its document frequency: what a keyword index's
  posting lists and a conjunction's cost follow). Words drawn one by one from the
  vocabulary (``--text unigram``, the generator before the ninth session) spread a
  word over more papers than real text does, where a paper about a thing repeats its
  word and the others never use it. ``--check`` on 20,000 records: the sample's
  20th-2,000th most used words are in a median 1.016× (p90 1.095×) as many generated
  abstracts as sample ones; drawn one by one, 1.081× (p90 1.377×). Lines are
  hard-wrapped near 72 (titles) and 80 (abstracts) characters as in the snapshot;
* authors per paper: the sample's counts; comments: the sample's own strings and rate;
* categories: the sample's (primary, cross-lists) tuples with their frequencies (class
  codes such as ``68T50`` dropped), for papers from April 2007. The sample has almost
  no physics, and old-scheme ids (``hep-th/9901001``) are numbered per archive and
  month up to 999, so papers before April 2007 (~12 %) take an assumed archive mix of
  that era (``OLD_MIX``) with the sample's cross-listing rate;
* author names: a Zipf pool (name of rank r has weight r^-s) of first and last names
  from the sample. s and the pool size are fitted so that the sample's count of papers
  gives the sample's distinct names and share of names seen once; for N papers the pool
  is sized so the distinct names follow the sample's Heaps curve D = D0 (T/T0)^beta (T
  author slots; beta fitted on shuffled prefixes of the sample, 0.88). An extrapolation
  from 16 months of mostly cs papers: at 2.6M it gives ~5M names, likely more than
  arXiv's own (it stresses the author tables rather than flatters them).

Measured from ``../shared/data/arxiv/kaggle`` (200 real snapshot lines): versions per
paper and the days between them, days from the last version to ``update_date``, the
rate of " and " in author lists, and the rates and values of journal-ref, report-no,
license and doi (dois made unique per paper).

Dates: months from August 1991 to November 2026 weighted by arXiv's yearly
submissions (approximate figures from arXiv's public statistics, scaled to N); ids
follow the date: ``archive/YYMMNNN`` before April 2007, ``YYMM.NNNN`` to 2014,
``YYMM.NNNNN`` from 2015, numbered in submission order. Lines are in id order, as in
the Kaggle file (new-style ids first, then old-style ids by archive).

The same --records and --seed give the same bytes. Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "arxiv"
DAILY = SHARED / "daily"
KAGGLE = SHARED / "kaggle" / "arxiv-metadata-oai-snapshot.head200.json"

# Approximate new submissions per year (arXiv's public statistics, rounded); only the
# shape matters: it is scaled to the number of records asked for.
YEARLY = {
    1991: 300, 1992: 3_200, 1993: 6_700, 1994: 10_000, 1995: 13_000, 1996: 15_900, 1997: 19_600,
    1998: 24_000, 1999: 28_000, 2000: 30_600, 2001: 33_000, 2002: 36_000, 2003: 39_000, 2004: 43_600,
    2005: 46_800, 2006: 50_000, 2007: 55_600, 2008: 58_900, 2009: 64_000, 2010: 70_000, 2011: 76_600,
    2012: 84_600, 2013: 92_600, 2014: 97_500, 2015: 105_000, 2016: 113_000, 2017: 124_000,
    2018: 140_000, 2019: 155_000, 2020: 178_000, 2021: 181_000, 2022: 186_000, 2023: 208_000,
    2024: 241_000, 2025: 280_000, 2026: 300_000,
}
FIRST_MONTH, LAST_MONTH = (1991, 8), (2026, 11)
NOW = np.datetime64("2026-12-01T00:00:00", "s")
# Archives before April 2007: an assumed share of that era's papers and their categories.
OLD_MIX = {
    "astro-ph": (0.20, ["astro-ph"]),
    "cond-mat": (0.20, ["cond-mat.str-el", "cond-mat.mes-hall", "cond-mat.stat-mech", "cond-mat.mtrl-sci",
                        "cond-mat.soft", "cond-mat.supr-con"]),
    "hep-ph": (0.14, ["hep-ph"]), "hep-th": (0.12, ["hep-th"]),
    "math": (0.14, ["math.AG", "math.PR", "math.CO", "math.DG", "math.NT", "math.AP", "math.OC"]),
    "quant-ph": (0.06, ["quant-ph"]), "gr-qc": (0.04, ["gr-qc"]),
    "physics": (0.04, ["physics.optics", "physics.flu-dyn", "physics.atom-ph", "physics.soc-ph"]),
    "cs": (0.03, ["cs.LG", "cs.AI", "cs.CV", "cs.CL", "cs.IT"]), "nucl-th": (0.02, ["nucl-th"]),
    "hep-ex": (0.015, ["hep-ex"]), "hep-lat": (0.015, ["hep-lat"]), "nlin": (0.01, ["nlin.CD", "nlin.SI"]),
    "math-ph": (0.01, ["math-ph"]),
}
CATEGORY = re.compile(r"[a-z][a-z-]*(\.[A-Za-z-]+)?")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CHUNK = 20_000
KEEP = 0.9  # share of a sample text's words a generated text keeps (the rest: vocabulary draws)
TEXT_MODES = ("sample", "unigram")


@dataclass
class Vocabulary:
    words: np.ndarray  # object array of str
    lengths: np.ndarray  # characters per word
    cdf: np.ndarray  # cumulative frequency, last = 1

    @classmethod
    def of(cls, texts: list[str]) -> Vocabulary:
        counts = collections.Counter(w for t in texts for w in t.split())
        items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        freq = np.array([c for _, c in items], dtype=np.float64)
        words = np.array([w for w, _ in items], dtype=object)
        return cls(words, np.array([len(w) for w, _ in items]), np.cumsum(freq) / freq.sum())

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, rng.random(n)), len(self.cdf) - 1)

    def index_of(self, texts: list[str]) -> Texts:
        """The ``texts`` (those ``of`` was measured on) as word indexes into this vocabulary."""
        at = {w: i for i, w in enumerate(self.words.tolist())}
        lengths = np.array([len(t.split()) for t in texts], dtype=np.int64)
        flat = np.fromiter((at[w] for t in texts for w in t.split()), dtype=np.int64, count=int(lengths.sum()))
        return Texts(flat, np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)


@dataclass
class Texts:
    """The sample's texts as word indexes: text i is ``words[starts[i]:starts[i] + lengths[i]]``."""

    words: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    def kept(self, picks: np.ndarray, vocab: Vocabulary, rng: np.random.Generator,
             keep: float = KEEP) -> tuple[np.ndarray, np.ndarray]:
        """Word indexes and lengths of one new text per picked sample text: its words in
        place, each replaced by a vocabulary draw with probability ``1 - keep``."""
        lengths = self.lengths[picks]
        ends = np.cumsum(lengths)
        pos = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lengths, lengths)
        idx = self.words[np.repeat(self.starts[picks], lengths) + pos]
        swap = rng.random(len(idx)) >= keep
        idx[swap] = vocab.draw(rng, int(swap.sum()))
        return idx, lengths


@dataclass
class Sample:
    """What the generator draws from, all measured from the shared real data."""

    papers: int
    title: Vocabulary
    abstract: Vocabulary
    title_words: np.ndarray
    abstract_words: np.ndarray
    title_texts: Texts
    abstract_texts: Texts
    abstract_doc_freq: dict[str, float]  # share of the sample's abstracts using each (lowercased) word
    authors_per_paper: np.ndarray
    author_slots: int
    distinct_names: int
    singleton_names: int
    heaps_beta: float
    firsts: np.ndarray
    lasts: np.ndarray
    category_tuples: list[tuple[str, ...]]
    category_weights: np.ndarray
    comments: list[str]
    comment_rate: float
    versions: np.ndarray  # versions per paper, one entry per Kaggle line
    version_gap_days: np.ndarray
    update_lag_days: np.ndarray
    and_rate: float
    journal_refs: list[str | None]
    report_nos: list[str | None]
    licenses: list[str | None]
    doi_rate: float


def _heaps_beta(author_lists: list[list[str]], seed: int = 0) -> float:
    order = np.random.default_rng(seed).permutation(len(author_lists))
    seen: set[str] = set()
    slots, points = 0, []
    for k, i in enumerate(order, 1):
        seen.update(author_lists[i])
        slots += len(author_lists[i])
        if k % 500 == 0:
            points.append((slots, len(seen)))
    xy = np.log(np.array(points, dtype=np.float64))
    return float(np.polyfit(xy[:, 0], xy[:, 1], 1)[0])


def _date(text: str) -> np.datetime64:
    _, day, mon, year, hms, _ = text.split()
    return np.datetime64(f"{year}-{MONTHS.index(mon) + 1:02d}-{int(day):02d}T{hms}", "s")


def measure_sample(daily: Path = DAILY, kaggle: Path = KAGGLE) -> Sample:
    papers: dict[str, dict] = {}
    for path in sorted(daily.glob("*.jsonl")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                obj = json.loads(line)
                papers.setdefault(obj["id"], obj)
    if not papers:
        raise SystemExit(f"no papers found in {daily}")
    rows = list(papers.values())
    author_lists = [list(dict.fromkeys(p["authors"])) for p in rows]
    names = collections.Counter(a for lst in author_lists for a in lst)
    split = [n.rsplit(" ", 1) for n in names if " " in n]
    tuples = collections.Counter(
        tuple(c for c in p["categories"] if CATEGORY.fullmatch(c)) for p in rows)
    tuples.pop((), None)
    comments = [p["comment"] for p in rows if p.get("comment")]

    lines = [json.loads(line) for line in kaggle.read_text(encoding="utf-8").splitlines()]
    gaps, lags = [], []
    for obj in lines:
        dates = [_date(v["created"]) for v in obj["versions"]]
        gaps.extend((b - a) / np.timedelta64(1, "D") for a, b in zip(dates, dates[1:], strict=False))
        lags.append((np.datetime64(obj["update_date"]) - dates[-1].astype("M8[D]")) / np.timedelta64(1, "D"))
    multi = [o for o in lines if len(o["authors_parsed"]) > 1]
    titles, summaries = [p["title"] for p in rows], [p["summary"] for p in rows]
    title, abstract = Vocabulary.of(titles), Vocabulary.of(summaries)
    return Sample(
        papers=len(rows),
        title=title,
        abstract=abstract,
        title_words=np.array([len(t.split()) for t in titles]),
        abstract_words=np.array([len(t.split()) for t in summaries]),
        title_texts=title.index_of(titles),
        abstract_texts=abstract.index_of(summaries),
        abstract_doc_freq=doc_freq(summaries),
        authors_per_paper=np.array([max(1, len(a)) for a in author_lists]),
        author_slots=sum(len(a) for a in author_lists),
        distinct_names=len(names),
        singleton_names=sum(1 for c in names.values() if c == 1),
        heaps_beta=_heaps_beta(author_lists),
        firsts=np.array(sorted({f for f, _ in split}), dtype=object),
        lasts=np.array(sorted({la for _, la in split}), dtype=object),
        category_tuples=list(tuples),
        category_weights=np.array(list(tuples.values()), dtype=np.float64),
        comments=comments,
        comment_rate=len(comments) / len(rows),
        versions=np.array([len(o["versions"]) for o in lines]),
        version_gap_days=np.array(gaps),
        update_lag_days=np.maximum(np.array(lags), 0),
        and_rate=sum(" and " in o["authors"] for o in multi) / max(1, len(multi)),
        journal_refs=[o["journal-ref"] for o in lines],
        report_nos=[o["report-no"] for o in lines],
        licenses=[o["license"] for o in lines],
        doi_rate=sum(o["doi"] is not None for o in lines) / len(lines),
    )


# --- the author pool -----------------------------------------------------------------------


def _zipf_weights(pool: int, s: float) -> np.ndarray:
    w = np.arange(1, pool + 1, dtype=np.float64) ** -s
    return w / w.sum()


def _expected(pool: int, s: float, slots: float) -> tuple[float, float]:
    """Expected distinct names and names seen once after ``slots`` draws (Poisson)."""
    lam = slots * _zipf_weights(pool, s)
    e = np.exp(-lam)
    return float((1 - e).sum()), float((lam * e).sum())


def _pool_for(distinct: float, s: float, slots: float, hi: int = 20_000_000) -> int:
    """The smallest pool whose expected distinct names after ``slots`` draws reach ``distinct``."""
    lo = max(1, int(distinct))
    if _expected(hi, s, slots)[0] < distinct:
        return hi
    while hi - lo > max(1, lo // 200):
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if _expected(mid, s, slots)[0] < distinct else (lo, mid)
    return hi


def fit_exponent(sample: Sample) -> float:
    """The Zipf exponent whose pool, sized to give the sample's distinct names at the
    sample's size, also gives its share of names seen once."""
    target = sample.singleton_names / sample.distinct_names
    best = (math.inf, 0.0)
    for s in np.arange(0.0, 1.01, 0.05):
        pool = _pool_for(sample.distinct_names, s, sample.author_slots, hi=2_000_000)
        d, d1 = _expected(pool, s, sample.author_slots)
        best = min(best, (abs(d1 / d - target), float(s)))
    return best[1]


def expected_distinct_names(sample: Sample, slots: float) -> float:
    """Distinct author names for ``slots`` author slots on the sample's Heaps curve."""
    return sample.distinct_names * (slots / sample.author_slots) ** sample.heaps_beta


@dataclass
class NamePool:
    s: float
    size: int
    cdf: np.ndarray
    firsts: np.ndarray
    lasts: np.ndarray
    mult: int
    shift: int

    @classmethod
    def for_records(cls, sample: Sample, records: int, seed: int) -> NamePool:
        s = fit_exponent(sample)
        slots = records * float(sample.authors_per_paper.mean())
        size = _pool_for(expected_distinct_names(sample, slots), s, slots)
        rng = np.random.default_rng([seed, 1])
        space = len(sample.firsts) * len(sample.lasts)
        if space < size:
            raise SystemExit(f"only {space:,} first×last names for a pool of {size:,}")
        mult = int(rng.integers(space // 3, space))
        while math.gcd(mult, space) != 1:
            mult += 1
        return cls(s, size, np.cumsum(_zipf_weights(size, s)), sample.firsts, sample.lasts,
                   mult, int(rng.integers(0, space)))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.size - 1)

    def names(self, ranks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(first, last) of each rank: an affine bijection onto first×last, so ranks never collide."""
        code = (ranks.astype(np.int64) * self.mult + self.shift) % (len(self.firsts) * len(self.lasts))
        return self.firsts[code % len(self.firsts)], self.lasts[code // len(self.firsts)]


# --- dates and ids -------------------------------------------------------------------------


def _months() -> list[tuple[int, int]]:
    out, (y, m) = [], FIRST_MONTH
    while (y, m) <= LAST_MONTH:
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def plan_ids(records: int, sample: Sample, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray, list]:
    """Ids in file order, with each record's month index and category tuple index (into
    the category tuples returned last)."""
    months = _months()
    weights = np.array([YEARLY[y] / (5 if y == 1991 else 12) for y, _ in months])
    per_month = rng.multinomial(records, weights / weights.sum())
    p_all = sample.category_weights / sample.category_weights.sum()
    old_tuples, old_weights = _old_tuples(sample)
    base = len(sample.category_tuples)
    p_old = old_weights / old_weights.sum()
    new_ids, new_month, new_cats, old = [], [], [], []
    for k, ((y, m), count) in enumerate(zip(months, per_month, strict=True)):
        yymm = f"{y % 100:02d}{m:02d}"
        if (y, m) >= (2007, 4):
            cats = rng.choice(len(p_all), size=count, p=p_all)
            width = 4 if y < 2015 else 5
            if count >= 10**width:
                raise SystemExit(f"{count:,} papers in {y}-{m:02d} do not fit {width}-digit ids: ask fewer records")
            new_ids.extend(f"{yymm}.{i:0{width}d}" for i in range(1, count + 1))
            new_month.extend([k] * count)
            new_cats.extend(cats.tolist())
        else:
            cats = rng.choice(len(p_old), size=count, p=p_old)
            seq: collections.Counter[str] = collections.Counter()
            for c in cats.tolist():
                archive = old_tuples[c][0].split(".")[0]
                seq[archive] += 1
                if seq[archive] > 999:
                    raise SystemExit(f"more than 999 {archive} papers in {y}-{m:02d}: ask fewer records")
                old.append((f"{archive}/{yymm}{seq[archive]:03d}", k, base + c))
    old.sort()
    ids = new_ids + [o[0] for o in old]
    tuples = sample.category_tuples + old_tuples  # old records' indexes start past the sample's
    return ids, np.array(new_month + [o[1] for o in old]), np.array(new_cats + [o[2] for o in old]), tuples


def _old_tuples(sample: Sample) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Category tuples of old-scheme papers: ``OLD_MIX``'s categories alone, or
    cross-listed to one other (at the sample's cross-listing rate)."""
    p = sample.category_weights / sample.category_weights.sum()
    cross = float(sum(w for t, w in zip(sample.category_tuples, p, strict=True) if len(t) > 1))
    cats = [(c, share / len(subjects)) for share, subjects in OLD_MIX.values() for c in subjects]
    tuples, weights = [], []
    for c, w in cats:
        tuples.append((c,))
        weights.append(w * (1 - cross))
        others = [(d, v) for d, v in cats if d != c]
        total = sum(v for _, v in others)
        for d, v in others:
            tuples.append((c, d))
            weights.append(w * cross * v / total)
    return tuples, np.array(weights)


def _rfc2822(t: np.ndarray) -> list[str]:
    days = t.astype("M8[D]")
    month = days.astype("M8[M]")
    year = month.astype("M8[Y]").astype(np.int64) + 1970
    mon = month.astype(np.int64) % 12
    dom = (days - month).astype(np.int64) + 1
    weekday = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    sec = (t - days).astype(np.int64)
    return [f"{DAYS[w]}, {d} {MONTHS[mo]} {y} {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d} GMT"
            for w, d, mo, y, s in zip(weekday.tolist(), dom.tolist(), mon.tolist(), year.tolist(), sec.tolist(),
                                      strict=True)]


# --- text ----------------------------------------------------------------------------------


def wrapped_texts(vocab: Vocabulary, lengths: np.ndarray, rng: np.random.Generator, width: int,
                  newline: str) -> list[str]:
    """One text per length, words drawn from ``vocab`` one by one (``--text unigram``)."""
    return wrap(vocab, vocab.draw(rng, int(lengths.sum())), lengths, width, newline)


def wrap(vocab: Vocabulary, idx: np.ndarray, lengths: np.ndarray, width: int, newline: str) -> list[str]:
    """The texts of word indexes ``idx`` (``lengths`` words each), a ``newline`` where a
    word's end crosses the next multiple of ``width`` characters (the snapshot's hard
    wrapping)."""
    ends = np.cumsum(vocab.lengths[idx] + 1)
    starts = np.repeat(np.concatenate(([0], ends[np.cumsum(lengths)[:-1] - 1])), lengths)
    line = (ends - starts - 1) // width
    seps = np.where(np.concatenate(([False], line[1:] != line[:-1])), newline, " ").astype(object)
    seps[np.concatenate(([0], np.cumsum(lengths)[:-1]))] = "\0"
    parts = np.empty(2 * len(idx), dtype=object)
    parts[0::2], parts[1::2] = seps, vocab.words[idx]
    return "".join(parts.tolist()).split("\0")[1:]


# --- the snapshot --------------------------------------------------------------------------


def write_snapshot(out: Path, records: int, seed: int = 1, sample: Sample | None = None,
                   on_progress=None, text: str = "sample") -> dict:
    """Write ``records`` Kaggle lines to ``out``; returns what was planned (pool, sizes).
    ``text``: "sample" (kept words of sample papers) or "unigram" (words drawn one by one)."""
    if text not in TEXT_MODES:
        raise ValueError(f"text must be one of {TEXT_MODES}, not {text!r}")
    sample = sample or measure_sample()
    rng = np.random.default_rng([seed, 0])
    ids, month_of, cat_of, tuples = plan_ids(records, sample, rng)
    pool = NamePool.for_records(sample, records, seed)
    months = _months()
    month_start = np.array([np.datetime64(f"{y}-{m:02d}-01T00:00:00", "s") for y, m in months])
    month_secs = np.array([(np.datetime64(f"{y + (m == 12)}-{m % 12 + 1:02d}-01T00:00:00", "s")
                            - month_start[k]).astype(np.int64) for k, (y, m) in enumerate(months)])
    cat_text = [" ".join(t) for t in tuples]
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as fh:
        for lo in range(0, records, CHUNK):
            n = min(CHUNK, records - lo)
            crng = np.random.default_rng([seed, 2, lo])
            if text == "unigram":
                titles = wrapped_texts(sample.title, crng.choice(sample.title_words, n), crng, 72, "\n  ")
                abstracts = wrapped_texts(sample.abstract, crng.choice(sample.abstract_words, n), crng, 80, "\n")
            else:
                picks = crng.integers(0, sample.papers, n)  # each record's title and abstract: one paper's
                titles = wrap(sample.title, *sample.title_texts.kept(picks, sample.title, crng), 72, "\n  ")
                abstracts = wrap(sample.abstract, *sample.abstract_texts.kept(picks, sample.abstract, crng), 80, "\n")
            n_auth = crng.choice(sample.authors_per_paper, n)
            ranks = pool.draw(crng, int(n_auth.sum()))
            firsts, lasts = pool.names(ranks)
            bounds = np.concatenate(([0], np.cumsum(n_auth))).tolist()
            m = month_of[lo:lo + n]
            v1 = month_start[m] + (crng.random(n) * month_secs[m]).astype(np.int64)
            v1 = np.minimum(v1, NOW - 86_400)
            n_ver = crng.choice(sample.versions, n)
            gaps = (crng.choice(sample.version_gap_days, (n, int(n_ver.max()))) * 86_400
                    + crng.integers(0, 86_400, (n, int(n_ver.max())))).astype(np.int64)
            times = np.minimum(v1[:, None] + np.concatenate(
                (np.zeros((n, 1), np.int64), np.cumsum(gaps, axis=1)[:, :-1]), axis=1), NOW - 3600)
            stamps = _rfc2822(times.ravel())
            last = times[np.arange(n), n_ver - 1]
            update = np.minimum(last.astype("M8[D]") + crng.choice(sample.update_lag_days, n).astype(np.int64),
                                NOW.astype("M8[D]")).astype(str).tolist()
            comment_at = crng.random(n) < sample.comment_rate
            comments = crng.integers(0, len(sample.comments), n)
            meta = crng.integers(0, len(sample.licenses), (n, 3))
            doi_at = crng.random(n) < sample.doi_rate
            with_and = crng.random(n) < sample.and_rate
            out_lines = []
            for i in range(n):
                a, b = bounds[i], bounds[i + 1]
                people = list(dict.fromkeys(zip(firsts[a:b].tolist(), lasts[a:b].tolist(), strict=True)))
                full = [f"{f} {la}" for f, la in people]
                authors = (", ".join(full[:-1]) + " and " + full[-1]) if with_and[i] and len(full) > 1 else ", ".join(full)
                arxiv_id = ids[lo + i]
                nv = int(n_ver[i])
                row = {
                    "id": arxiv_id,
                    "submitter": full[0],
                    "authors": authors,
                    "title": titles[i],
                    "comments": sample.comments[comments[i]] if comment_at[i] else None,
                    "journal-ref": sample.journal_refs[meta[i, 0]],
                    "doi": f"10.{4000 + lo % 997}/arXiv.{arxiv_id}" if doi_at[i] else None,
                    "report-no": sample.report_nos[meta[i, 1]],
                    "categories": cat_text[cat_of[lo + i]],
                    "license": sample.licenses[meta[i, 2]],
                    "abstract": f"  {abstracts[i]}\n",
                    "versions": [{"version": f"v{v + 1}", "created": stamps[i * times.shape[1] + v]} for v in range(nv)],
                    "update_date": update[i],
                    "authors_parsed": [[la, f, ""] for f, la in people],
                }
                out_lines.append(orjson.dumps(row))
            fh.write(b"\n".join(out_lines) + b"\n")
            if on_progress:
                on_progress(n)
    tmp.rename(out)
    return {"records": records, "seed": seed, "text": text, "name_pool": pool.size, "zipf_s": pool.s,
            "heaps_beta": round(sample.heaps_beta, 3),
            "expected_distinct_names": round(expected_distinct_names(
                sample, records * float(sample.authors_per_paper.mean())))}


# --- measuring a snapshot (the generator's own check) --------------------------------------


def doc_freq(texts) -> dict[str, float]:
    """The share of ``texts`` that use each word (lowercased, split on white space)."""
    counts: collections.Counter[str] = collections.Counter()
    n = 0
    for t in texts:
        counts.update(set(t.lower().split()))
        n += 1
    return {w: c / max(n, 1) for w, c in counts.items()}


def doc_freq_ratio(got: dict[str, float], want: dict[str, float], ranks: tuple[int, int] = (20, 2000)) -> dict:
    """How many more papers use a word in ``got`` than in ``want``, for ``want``'s words
    of those ``ranks`` by use (the commonest, mostly stop words, left out): median and
    10th/90th percentiles of the ratio."""
    words = sorted(want, key=lambda w: (-want[w], w))[ranks[0]:ranks[1]]
    r = np.array([got.get(w, 0.0) / want[w] for w in words])
    return {"median": round(float(np.median(r)), 3), "p10": round(float(np.percentile(r, 10)), 3),
            "p90": round(float(np.percentile(r, 90)), 3)}



def measure_snapshot(path: Path) -> dict:
    """The distributions the generator aims at, read back from a Kaggle-format file."""
    titles, abstracts, n_auth, names, primaries, n_cats, n_ver, years = [], [], [], set(), collections.Counter(), [], [], []
    used: collections.Counter[str] = collections.Counter()
    with path.open("rb") as fh:
        for line in fh:
            o = orjson.loads(line)
            titles.append(len(o["title"].split()))
            abstracts.append(len(o["abstract"].split()))
            used.update(set(o["abstract"].lower().split()))
            people = [" ".join(p[1::-1]).strip() for p in o["authors_parsed"]]
            n_auth.append(len(people))
            names.update(people)
            if "/" not in o["id"]:  # categories from the sample: papers from April 2007
                cats = o["categories"].split()
                primaries[cats[0]] += 1
                n_cats.append(len(cats))
            n_ver.append(len(o["versions"]))
            years.append(int(o["versions"][0]["created"].split()[3]))
    n = len(titles)
    return {
        "papers": n,
        "title_words": np.percentile(titles, [10, 50, 90]).tolist(),
        "abstract_words": np.percentile(abstracts, [10, 50, 90]).tolist(),
        "authors_mean": float(np.mean(n_auth)),
        "author_slots": int(np.sum(n_auth)),
        "distinct_names": len(names),
        "primary_share": {c: k / len(n_cats) for c, k in primaries.most_common(5)},
        "cross_listed": float(np.mean(np.array(n_cats) > 1)),
        "versions_mean": float(np.mean(n_ver)),
        "years": (min(years), max(years)),
        "abstract_doc_freq": {w: c / n for w, c in used.items()},
    }


def sample_figures(sample: Sample) -> dict:
    """The same figures for the real sample, to compare with ``measure_snapshot``."""
    p = sample.category_weights / sample.category_weights.sum()
    primaries: collections.Counter[str] = collections.Counter()
    for t, w in zip(sample.category_tuples, p, strict=True):
        primaries[t[0]] += w
    return {
        "papers": sample.papers,
        "title_words": np.percentile(sample.title_words, [10, 50, 90]).tolist(),
        "abstract_words": np.percentile(sample.abstract_words, [10, 50, 90]).tolist(),
        "authors_mean": float(sample.authors_per_paper.mean()),
        "distinct_names": sample.distinct_names,
        "primary_share": dict(primaries.most_common(5)),
        "cross_listed": float(sum(w for t, w in zip(sample.category_tuples, p, strict=True) if len(t) > 1)),
        "versions_mean": float(sample.versions.mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2_600_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--text", choices=TEXT_MODES, default="sample",
                    help="sample: each title and abstract is a sample paper's with 90%% of its words kept; "
                         "unigram: words drawn one by one (the earlier generator; papers share words far more)")
    ap.add_argument("--check", action="store_true", help="read the file back and print its figures beside the sample's")
    args = ap.parse_args()
    if args.records < 1:
        sys.exit("error: --records must be at least 1")
    if not args.out.parent.is_dir():
        sys.exit(f"error: {args.out.parent}: no such folder")
    sys.path.insert(0, str(ROOT))
    from paperboy.clitools import progress

    t0 = time.perf_counter()
    sample = measure_sample()
    print(f"sample: {sample.papers:,} papers measured in {time.perf_counter() - t0:.1f}s")
    with progress() as bar:
        task = bar.add_task(args.out.name, total=args.records, status="")
        plan = write_snapshot(args.out, args.records, args.seed, sample, lambda k: bar.advance(task, k),
                              text=args.text)
    elapsed = time.perf_counter() - t0
    print(f"wrote {args.records:,} records ({args.out.stat().st_size / 1e6:,.0f} MB) in {elapsed:.0f}s "
          f"({args.records / elapsed:,.0f} records/s): {plan}")
    if args.check:
        got = measure_snapshot(args.out)
        print("sample:   ", sample_figures(sample))
        print("generated:", {k: v for k, v in got.items() if k != "abstract_doc_freq"})
        print("papers using a word, generated / sample (the sample's 20th-2,000th words):",
              doc_freq_ratio(got["abstract_doc_freq"], sample.abstract_doc_freq))


if __name__ == "__main__":
    main()
