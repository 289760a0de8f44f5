"""How many papers get no similar papers from the words alone: the keyword more-like-this
that answers "Similar papers" until stored vectors cover 90 % of the papers (the first
minutes after an import) and always on an instance without an embedder.

    export PAPERBOY_DATA_DIR=/tmp/pb-sample PAPERBOY_EMBEDDER=null
    .venv/bin/paperboy demo --no-serve && .venv/bin/paperboy index build
    PYTHONPATH=. .venv/bin/python bench/similar_words.py

For ``--papers`` random stored papers (seeded), the paper's distinctive terms are asked
for as ``SearchService.similar`` asks for them: first papers sharing a fifth of them
(``LIKE_MIN_SHARE``), then, where fewer than ``--limit`` do, papers sharing
``SIMILAR_MIN_SHARED``. Prints how many papers had no neighbour at the first step, and
how many have none after the second; then three examples of the second step's neighbours.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402

from paperboy import clitools  # noqa: E402
from paperboy.index.service import SIMILAR_MIN_SHARED, get_search_service  # noqa: E402
from paperboy.store.models import Paper  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--papers", type=int, default=1000, help="random stored papers to look at")
    ap.add_argument("--limit", type=int, default=6, help="similar papers shown (a paper's page shows 6)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    engine = clitools.engine()
    service = get_search_service(clitools.settings(), engine)
    service.search("warm up", mode="keyword")  # opens the index readers
    kwi = service._kw  # the words' index itself: the first step's answer on its own
    if kwi is None:
        sys.exit("no keyword index in this data dir: run `paperboy index build` first")
    with engine.connect() as conn:
        rows = conn.execute(select(Paper.id, Paper.title, Paper.abstract)).all()
    titles = {r.id: r.title for r in rows}
    sample = random.Random(args.seed).sample(rows, min(args.papers, len(rows)))
    strict_none, none_after, examples = 0, 0, []
    started = time.perf_counter()
    for row in sample:
        terms = kwi.distinctive_terms(f"{row.title}\n{row.abstract or ''}")
        strict = [i for i in kwi.papers_like(terms, limit=args.limit + 1).ids if i != row.id]
        if strict:
            continue
        strict_none += 1
        more = [i for i in kwi.papers_like(terms, limit=args.limit + 1, needed=SIMILAR_MIN_SHARED).ids if i != row.id]
        if not more:
            none_after += 1
        elif len(examples) < 3:
            examples.append((row.title, [titles[i] for i in more[:3]]))
    took = time.perf_counter() - started
    print(f"{len(sample)} random papers of {len(rows)}: {strict_none} with no paper sharing a fifth of their "
          f"distinctive terms; {none_after} with none sharing {SIMILAR_MIN_SHARED} ({took:.1f} s)")
    for title, found in examples:
        print(f"  {title[:90]}")
        for other in found:
            print(f"    -> {other[:86]}")


if __name__ == "__main__":
    main()
