"""The worker's "rising now" job: its papers counted in one pass against window by window.

    PYTHONPATH=. .venv/bin/python bench/rising.py [--data-dir /tmp/paperboy-bench-foryou] [--runs 3]

``rising.refresh`` compares a week and a month against the six months before each: four
windows that overlap (the week's papers are the month's; the two earlier windows share
five months). It runs four times a day and, on a single machine (`paperboy serve` with
its worker), in the web process, whose requests wait for the GIL while it tokenises.
The raw baseline here counts each window on its own, as ``rising._count`` did before it
read the windows' papers in one pass; both answers are checked to be the same lists.
Serves ``bench/foryou.py``'s instance (the sample's 10,348 papers; built on first use).
Figures only; nothing asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import startup  # noqa: E402  (bench/foryou.py's instance)
from paperboy.papers.visibility import visible  # noqa: E402
from paperboy.rank import rising  # noqa: E402
from paperboy.store.models import Paper  # noqa: E402


def window_by_window(engine, unit: str, last: dt.date) -> rising.RisingResult:
    """The raw baseline: each of the unit's two windows read and tokenised on its own."""

    def count(first: dt.date, to: dt.date) -> tuple[Counter, Counter, int]:
        where = (visible(), Paper.announced_on >= first, Paper.announced_on <= to)
        with engine.connect() as conn:
            n = conn.scalar(select(func.count()).select_from(Paper).where(*where)) or 0
            stmt = select(Paper.title, Paper.abstract).where(*where)
            if n > rising.MAX_PAPERS:
                stmt = stmt.where(Paper.id % math.ceil(n / rising.MAX_PAPERS) == 0)
            counts, titles, read = Counter(), Counter(), 0
            for title, abstract in conn.execute(stmt):
                in_title = rising.paper_terms(title or "")
                titles.update(in_title)
                counts.update(in_title | rising.paper_terms(abstract or ""))
                read += 1
        return counts, titles, read

    recent_from = last - dt.timedelta(days=rising.UNITS[unit] - 1)
    base_to = recent_from - dt.timedelta(days=1)
    base_from = base_to - dt.timedelta(days=rising.BASE_DAYS - 1)
    recent, titles, n1 = count(recent_from, last)
    base, base_titles, n0 = count(base_from, base_to)
    terms = rising.rising_terms(recent, n1, base, n0, titles=titles, base_titles=base_titles)
    return rising.RisingResult(unit, recent_from, last, base_from, n1, n0, terms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default="/tmp/paperboy-bench-foryou")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    startup.build_instance(args.data_dir)

    from paperboy.config import Settings
    from paperboy.store.db import get_engine

    engine = get_engine(Settings(data_dir=Path(args.data_dir), mail_backend="null"))
    with engine.connect() as conn:
        last = conn.scalar(select(func.max(Paper.announced_on)).where(visible()))
        papers = conn.scalar(select(func.count()).select_from(Paper))
    print(f"{papers} papers on {engine.dialect.name}, newest day {last}; load average before {os.getloadavg()[0]:.2f}")
    timings: dict[str, list[float]] = {"window by window (before)": [], "one pass (after)": []}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        before = {unit: window_by_window(engine, unit, last) for unit in rising.UNITS}
        t1 = time.perf_counter()
        after = rising.compute_all(engine, last=last)
        t2 = time.perf_counter()
        assert before == after, "the two ways disagree"
        timings["window by window (before)"].append(t1 - t0)
        timings["one pass (after)"].append(t2 - t1)
    base = statistics.median(timings["window by window (before)"])
    for name, ts in timings.items():
        print(f"{name:28} median {statistics.median(ts):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ts)})  "
              f"{base / statistics.median(ts):.2f}x")
    print(f"same lists: {', '.join(f'{u} {len(r.terms)} terms' for u, r in after.items())}; "
          f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
