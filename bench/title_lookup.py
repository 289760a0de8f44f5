"""How long an import spends finding a member's BibTeX entries without an arXiv id among
the stored papers (``web.uploads.find_stored_titles``, run in the import's request), and
how many it finds, on a store built by ``bench/scale.py --keep``.

    PYTHONPATH=. .venv/bin/python bench/scale.py --records 1000000 --backends sqlite --steps ingest,index --keep
    PYTHONPATH=. .venv/bin/python bench/title_lookup.py --data-dir /work/scale-data/data-sqlite

A library of ``--titles`` BibTeX entries (2,000: the most one import reads), built as a
Zotero export spells them: half are stored papers (drawn at random; their title and first
author as stored), half real titles of papers that arXiv never had (SciFact's biomedical
corpus in ``../shared/data/ir/scifact``, with a made-up first author). Read by the import's
own reader (``references.read_seeds``), then looked up as the import does, ``--rounds``
times. Prints the wall time of the lookup, how many stored entries were found (recall:
an entry counts as found when the paper found has the entry's title key and first author,
which for a title shared by several stored papers may be another of them), and how many
of the absent ones were wrongly found (must be 0).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from paperboy.config import Settings  # noqa: E402
from paperboy.index.service import SearchService  # noqa: E402
from paperboy.papers import references  # noqa: E402
from paperboy.store.db import make_engine  # noqa: E402
from paperboy.store.models import Paper  # noqa: E402
from paperboy.web.uploads import find_stored_titles  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "ir" / "scifact" / "corpus.jsonl"


def bib_entry(key: str, title: str, first_author: str) -> str:
    if title.count("{") != title.count("}"):  # as an export would escape them
        title = title.replace("{", "").replace("}", "")
    return f"@article{{{key},\n  title = {{{title}}},\n  author = {{{first_author} and Someone Else}},\n}}\n"


def stored_sample(db: Session, n: int, seed: int) -> list[tuple[str, str, str]]:
    """``n`` stored papers at random, (arXiv id, title, first author), by id ranges so
    that a million-row table is not sorted."""
    rng = random.Random(seed)
    top = db.scalar(select(func.max(Paper.id)))
    out: dict[int, tuple[str, str, str]] = {}
    while len(out) < n:
        ids = [rng.randint(1, top) for _ in range(n)]
        for pid, arxiv_id, title, authors in db.execute(
                select(Paper.id, Paper.arxiv_id, Paper.title, Paper.authors_text).where(Paper.id.in_(ids))):
            first = (authors or "").split(",")[0].strip()
            if first and len(references.title_key(title).split()) >= 3:
                out[pid] = (arxiv_id, title, first)
    return list(out.values())[:n]


def absent_sample(n: int, seed: int) -> list[str]:
    titles = [json.loads(line)["title"] for line in SCIFACT.open()]
    return random.Random(seed).sample([t for t in titles if len(t.split()) >= 3], n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path("/work/scale-data/data-sqlite"))
    ap.add_argument("--database-url", default=None, help="default: the SQLite file in --data-dir")
    ap.add_argument("--titles", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    url = args.database_url or f"sqlite:///{args.data_dir / 'paperboy.db'}"
    engine = make_engine(url)
    settings = Settings(data_dir=args.data_dir, database_url=url, embedder="null", mail_backend="null")
    search = SearchService(settings, engine)
    with Session(engine) as db:
        papers = db.scalar(select(func.count()).select_from(Paper))
        stored = stored_sample(db, args.titles // 2, args.seed)
        absent = absent_sample(args.titles - len(stored), args.seed)
        bib = "".join(bib_entry(f"s{i}", title, first) for i, (_a, title, first) in enumerate(stored))
        bib += "".join(bib_entry(f"a{i}", title, "Nobody, Ann") for i, title in enumerate(absent))
        # One entry per title: a sample may draw two papers of one title, which a library
        # (and the reader) holds once.
        wanted: dict[str, str] = {}
        for _a, title, first in stored:  # the first of a title, as the reader keeps it
            wanted.setdefault(references.title_key(title), references.surname_key(first))
        absent_keys = {references.title_key(t) for t in absent}
        print(f"{papers:,} papers stored; {len(stored):,} stored and {len(absent):,} absent titles "
              f"({len(bib) / 1e6:.2f} MB of BibTeX)", flush=True)
        times, found = [], None
        for _ in range(args.rounds):
            seeds = references.read_seeds("", bib)
            t = time.perf_counter()
            find_stored_titles(search, db, seeds)
            times.append(time.perf_counter() - t)
            found = seeds
    ids = found.ids
    with Session(engine) as db:
        rows = db.execute(select(Paper.title, Paper.authors_text).where(Paper.arxiv_id.in_(ids))).all() if ids else []
    by_key: dict[str, list[tuple[str, list[str]]]] = {}
    for title, authors in rows:
        by_key.setdefault(references.title_key(title), []).append((title, [a.strip() for a in (authors or "").split(",")]))
    right = sum(1 for key, surname in wanted.items()
                if any(references.names_paper(key, surname, title, names) for title, names in by_key.get(key, ())))
    wrong = sum(1 for title, _ in rows if references.title_key(title) in absent_keys)
    print(f"lookup of {args.titles:,} titles: p50 {statistics.median(times):.2f} s, max {max(times):.2f} s "
          f"over {args.rounds} rounds")
    print(f"found {found.found_by_title:,} entries: {right:,} of the {len(wanted):,} stored titles "
          f"(recall {right / max(len(wanted), 1):.3f}), {wrong} of the absent ones")


if __name__ == "__main__":
    main()
