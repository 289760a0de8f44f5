"""Rising now: the words and phrases whose share of papers grew most in the last week or
month against the six months before, computed by the worker and stored (``rising_terms``).

Terms are a paper's words and its phrases of two or three words (title and abstract,
lower-cased, broken at common words and punctuation), counted once per paper. For each,
``a`` of the ``n1`` recent papers and ``b`` of the ``n0`` earlier ones have it. A term
rises when

- at least ``MIN_COUNT`` recent papers have it (one paper, or one lab's three, is not a
  trend);
- it is a topic: one recent title has it, and of all the papers with it (both windows) at
  least ``MIN_TITLE_SHARE`` have it in the title. On the sample, without this the list was
  the words of a writing style ("rather", "every", "strongest"), which titles never use;
- Dunning's log-likelihood ratio G² of the 2x2 table is at least ``MIN_LLR`` (p < 0.001 on
  one degree of freedom) and passes Benjamini-Hochberg at a false discovery rate of
  ``FDR`` over every term tested: tens of thousands of terms are tested, so p < 0.001 alone
  let dozens of chance terms through on random text (``bench/trends.py``);
- the share grew, with confidence: the lower 95% bound of the log ratio of the shares,
  ``ln((a/n1) / ((b+½)/n0)) - 1.96·SE`` (Katz's interval), is above zero. The list is
  ranked by that bound, so a term seen 40 times after 2 is ranked above one seen 8 times
  after 0 only when the evidence says so.

A phrase and the words inside it say the same thing: of terms contained in one another,
the better ranked alone is kept, except that a phrase which ``PHRASE_SHARE`` of a kept
word's papers have takes the word's place (it names the topic better).

Each window reads at most ``MAX_PAPERS`` papers (an even sample by id beyond that), which
keeps the job under ten seconds at 1M papers (``bench/trends.py``, docs/trends.md).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from paperboy.papers.visibility import visible
from paperboy.rank.models import RisingTerm
from paperboy.store.models import Paper, utcnow

UNITS = {"week": 7, "month": 30}  # days in the recent window
BASE_DAYS = 180  # the months before, compared against
MIN_COUNT = 5
# A topic is named in titles; the words of a style ("rather", "strongest") only in abstracts.
MIN_TITLE_SHARE = 0.1
MIN_LLR = 10.83  # chi-square, 1 d.o.f., p < 0.001, for any one term
FDR = 0.05  # and Benjamini-Hochberg over all the terms tested
Z = 1.96
PHRASE_SHARE = 0.8  # a phrase replaces a word it holds when this share of the word's papers have it
TOP = 15
MAX_PAPERS = 10_000  # per window
EVERY_SECONDS = 6 * 3600  # the worker recomputes four times a day

_TOKEN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*|[^\sa-z]+")
# Words that break phrases: English function words (the search's stop words,
# index/stopwords.py, which rank may not import: same layer) and the verbs and hedges of
# every abstract, which start or end no phrase a reader would call a topic.
_BREAK = frozenset("""
a an and are as at be been being but by can could do does for from had has have how if in into is
it its of on or our so such than that the their then there these they this those to was we were what
when where which while who will with would
also among across all any based both different each existing first however many may more most new
novel often one only other over paper propose proposed present show shows study two using used via
well within without work yet further furthermore moreover thus
""".split())


def paper_terms(text: str) -> set[str]:
    """A text's words and phrases of two and three words, once each."""
    out: set[str] = set()
    run: list[str] = []
    runs = []
    for w in _TOKEN.findall(text.lower()):
        if w in _BREAK or len(w) < 2 or not w[0].isalpha():
            if run:
                runs.append(run)
                run = []
        else:
            run.append(w)
    if run:
        runs.append(run)
    for r in runs:
        out.update(r)
        if len(r) > 1:
            out.update(map(" ".join, zip(r, r[1:], strict=False)))
            if len(r) > 2:
                out.update(map(" ".join, zip(r, r[1:], r[2:], strict=False)))
    return out


def log_likelihood(a: int, n1: int, b: int, n0: int) -> float:
    """Dunning's G² for a term in ``a`` of ``n1`` and ``b`` of ``n0`` papers."""
    total, hits = n1 + n0, a + b
    g = 0.0
    for observed, row, col in ((a, n1, hits), (n1 - a, n1, total - hits), (b, n0, hits), (n0 - b, n0, total - hits)):
        if observed > 0:
            g += observed * math.log(observed * total / (row * col))
    return 2 * g


def p_value(llr: float) -> float:
    """P(G² >= llr) with no change: the chi-square tail on one degree of freedom."""
    return math.erfc(math.sqrt(max(llr, 0.0) / 2))


def rise_bound(a: int, n1: int, b: int, n0: int) -> float:
    """The lower 95% bound of ln(recent share / earlier share), ½ added to ``b``."""
    b_ = b + 0.5
    ratio = math.log((a / n1) / (b_ / n0))
    se = math.sqrt(max(0.0, 1 / a - 1 / n1 + 1 / b_ - 1 / n0))
    return ratio - Z * se


@dataclass
class Rising:
    term: str
    recent_count: int
    base_count: int
    score: float
    llr: float

    @property
    def query(self) -> str:
        return f'"{self.term}"'


@dataclass
class RisingResult:
    unit: str
    recent_from: dt.date
    recent_to: dt.date
    base_from: dt.date
    recent_total: int
    base_total: int
    terms: list[Rising]


def rising_terms(recent: Counter, n1: int, base: Counter, n0: int, *, titles: Counter | None = None,
                 base_titles: Counter | None = None, min_count: int = MIN_COUNT, top: int = TOP) -> list[Rising]:
    """The terms of ``recent`` (document counts among ``n1`` papers) that grew most against
    ``base`` (among ``n0``), past the significance floor, ranked, nested phrases merged.
    With ``titles`` (and ``base_titles``: the counts in titles alone) only topics count."""
    if not n1 or not n0:
        return []
    candidates = []
    tested = 0
    for term, a in recent.items():
        if a < min_count:
            continue
        b = base.get(term, 0)
        if titles is not None:
            named = titles.get(term, 0)
            if not named or (named + (base_titles or {}).get(term, 0)) < MIN_TITLE_SHARE * (a + b):
                continue
        tested += 1
        if a / n1 <= b / n0:
            continue
        llr = log_likelihood(a, n1, b, n0)
        if llr >= MIN_LLR:
            candidates.append(Rising(term, a, b, rise_bound(a, n1, b, n0), llr))
    # Benjamini-Hochberg over every term tested: at most FDR of the list is chance.
    candidates.sort(key=lambda r: -r.llr)
    passed = 0
    for k, r in enumerate(candidates, 1):
        if p_value(r.llr) <= FDR * k / tested:
            passed = k
    found = [r for r in candidates[:passed] if r.score > 0]
    found.sort(key=lambda r: (-r.score, -r.recent_count, r.term))
    kept: list[Rising] = []
    for r in found:
        padded = f" {r.term} "
        nested = [i for i, k in enumerate(kept) if padded in f" {k.term} " or f" {k.term} " in padded]
        if not nested:
            if len(kept) < top:
                kept.append(r)
            continue
        # A longer phrase that nearly every paper with the kept word has names it better
        # ("quokka routing" for "quokka"): it takes the word's place.
        inside = [kept[i] for i in nested if f" {kept[i].term} " in padded]
        if len(inside) == len(nested) and r.recent_count >= PHRASE_SHARE * max(k.recent_count for k in inside):
            kept[nested[0]] = r
            kept = [k for i, k in enumerate(kept) if i not in nested[1:]]
    return kept


Window = tuple[dt.date, dt.date]  # first and last announce day, both included


def _count(engine: Engine, windows: list[Window]) -> list[tuple[Counter, Counter, int]]:
    """For each window, document counts of terms among its visible papers, in title or
    abstract and in titles alone, and how many papers were read. One read of the papers
    of every window: a paper in several windows (the week's papers are the month's too,
    and the two earlier windows overlap by five months) has its terms found once, which
    halved the job on the sample (``bench/rising.py``)."""
    with engine.connect() as conn:
        steps = []  # each window's sample: every k-th paper by id beyond MAX_PAPERS
        for first, last in windows:
            n = conn.scalar(select(func.count()).select_from(Paper).where(
                visible(), Paper.announced_on >= first, Paper.announced_on <= last)) or 0
            steps.append(math.ceil(n / MAX_PAPERS) if n > MAX_PAPERS else 1)
        wanted = [and_(Paper.announced_on >= first, Paper.announced_on <= last, *([Paper.id % k == 0] if k > 1 else []))
                  for (first, last), k in zip(windows, steps, strict=True)]
        counts = [(Counter(), Counter()) for _ in windows]
        read = [0] * len(windows)
        rows = conn.execute(select(Paper.id, Paper.announced_on, Paper.title, Paper.abstract)
                            .where(visible(), or_(*wanted))) if windows else ()
        for pid, day, title, abstract in rows:
            mine = [i for i, ((first, last), k) in enumerate(zip(windows, steps, strict=True))
                    if first <= day <= last and pid % k == 0]
            in_title = paper_terms(title or "")
            anywhere = in_title | paper_terms(abstract or "")
            for i in mine:
                counts[i][1].update(in_title)
                counts[i][0].update(anywhere)
                read[i] += 1
    return [(c, t, n) for (c, t), n in zip(counts, read, strict=True)]


def compute(engine: Engine, unit: str, *, last: dt.date | None = None) -> RisingResult | None:
    """What rose in the ``unit`` (week or month) ending at ``last`` (default: the newest
    announced day), against the ``BASE_DAYS`` before; None without papers."""
    return compute_all(engine, (unit,), last=last).get(unit)


def compute_all(engine: Engine, units=tuple(UNITS), *, last: dt.date | None = None) -> dict[str, RisingResult]:
    """``compute`` for each of ``units``, their papers read in one pass (``_count``)."""
    if last is None:
        with engine.connect() as conn:
            last = conn.scalar(select(func.max(Paper.announced_on)).where(visible()))
        if last is None:
            return {}
    spans = {}
    for unit in units:
        recent_from = last - dt.timedelta(days=UNITS[unit] - 1)
        base_to = recent_from - dt.timedelta(days=1)
        spans[unit] = ((recent_from, last), (base_to - dt.timedelta(days=BASE_DAYS - 1), base_to))
    counted = iter(_count(engine, [w for pair in spans.values() for w in pair]))
    out = {}
    for unit, ((recent_from, _), (base_from, _)) in spans.items():
        (recent, titles, n1), (base, base_titles, n0) = next(counted), next(counted)
        terms = rising_terms(recent, n1, base, n0, titles=titles, base_titles=base_titles)
        out[unit] = RisingResult(unit, recent_from, last, base_from, n1, n0, terms)
    return out


def store(engine: Engine, result: RisingResult) -> None:
    """Replace the stored list of ``result.unit`` (one transaction: readers see old or new)."""
    now = utcnow()
    with Session(engine) as db, db.begin():
        db.execute(delete(RisingTerm).where(RisingTerm.unit == result.unit))
        db.add_all(RisingTerm(
            unit=result.unit, rank=i + 1, term=r.term[:200], query=r.query[:300], recent_count=r.recent_count,
            recent_total=result.recent_total, base_count=r.base_count, base_total=result.base_total,
            score=r.score, llr=r.llr, recent_from=result.recent_from, recent_to=result.recent_to,
            base_from=result.base_from, computed_at=now) for i, r in enumerate(result.terms))


def refresh(engine: Engine) -> dict[str, int]:
    """Compute and store both lists (the worker's job); how many terms each has."""
    done = {}
    for unit, result in compute_all(engine).items():
        store(engine, result)
        done[unit] = len(result.terms)
    return done


def stored(db: Session, unit: str) -> list[RisingTerm]:
    """The stored list for ``unit``, best first (empty before the worker's first run)."""
    return list(db.scalars(select(RisingTerm).where(RisingTerm.unit == unit).order_by(RisingTerm.rank)))
