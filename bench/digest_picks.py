"""How many For you picks a daily digest should carry: the score a pick needs
(``digest.compose.FOR_YOU_MIN_SCORE``) against how many of a member's own next papers the
digest would carry, on bench/recommend.py's protocol.

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python bench/digest_picks.py

Each event of bench/recommend.py (an author on a later announce day, their earlier
papers as votes; every later day, content only; the shipped weights, follow part 0 as
the digest has it) is a daily digest: its candidates are that day's papers, its picks the
best 10 whose score (the sum of the weighted, standardised parts) reaches the floor. For
each floor: the picks per digest, the share of digests with none, the recall of the
author's own papers that day among the picks (macro over authors, as recall@10) and the
picks' precision. Floors are compared on the tune split; the test split is printed too.
Needs bench/recommend.py's cached embeddings (its first run makes them).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend as rb  # noqa: E402  (bench/recommend.py: the protocol, the cached features)

from paperboy.digest.compose import FOR_YOU_LIMIT, FOR_YOU_MIN_SCORE, FOR_YOU_WEIGHTS  # noqa: E402
from paperboy.rank import personal as pr  # noqa: E402

FLOORS = (0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def main() -> None:
    started = time.perf_counter()
    papers = rb.load_papers()
    f = rb.Features(papers, rb.embeddings(papers, 128), 2000)
    events = rb.sample_days(rb.build_events(papers), 0)
    weights = replace(FOR_YOU_WEIGHTS, follow=0.0)
    print(f"shipped floor FOR_YOU_MIN_SCORE = {FOR_YOU_MIN_SCORE}; at most {FOR_YOU_LIMIT} picks a digest")
    print(f"{'split':5} {'floor':>5} {'picks/digest':>12} {'no picks':>8} {'recall':>7} {'precision':>9}")
    for split in ("tune", "test"):
        evs = [e for u, es in events.items() if rb.is_tune(u) == (split == "tune") for e in es]
        scored = [(e, pr.combine(rb.ranker_parts(f, e, False, weights), weights)) for e in evs]
        for floor in FLOORS:
            per_user: dict[str, list[float]] = defaultdict(list)
            picks_total, empty, hits_total = 0, 0, 0
            for e, s in scored:
                order = np.argsort(-s, kind="stable")[:FOR_YOU_LIMIT]
                picked = [int(e.cands[i]) for i in order if s[i] >= floor]
                hits = len(e.targets.intersection(picked))
                per_user[e.user].append(hits / len(e.targets))
                picks_total += len(picked)
                hits_total += hits
                empty += not picked
            recall = float(np.mean([np.mean(v) for v in per_user.values()]))
            print(f"{split:5} {floor:5.1f} {picks_total / len(scored):12.2f} {empty / len(scored):8.1%} "
                  f"{recall:7.3f} {hits_total / max(1, picks_total):9.3f}")
    print(f"took {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
