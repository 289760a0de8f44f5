"""The commonest TeX commands left outside math in real abstracts and titles, before and
after ``paperboy.papers.textclean.clean_tex``.

    .venv/bin/python bench/tex_leftovers.py [../shared/data/arxiv/daily] [--top 20]

Reads every ``*.jsonl`` (one arXiv listing record a line: ``title``, ``summary``) in the
folder; a paper seen on several days counts once.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from paperboy.papers.textclean import clean_tex, leftover_commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/data/arxiv/daily"))
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    texts: dict[str, list[str]] = {}
    for path in sorted(Path(args.folder).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rec = json.loads(line)
                texts[rec.get("id") or str(len(texts))] = [rec.get("title") or "", rec.get("summary") or ""]
    before, after = Counter(), Counter()
    papers_before = papers_after = 0
    for parts in texts.values():
        raw = [c for t in parts for c in leftover_commands(t)]
        cleaned = [c for t in parts for c in leftover_commands(clean_tex(t))]
        before.update(raw)
        after.update(cleaned)
        papers_before += bool(raw)
        papers_after += bool(cleaned)
    print(f"{len(texts)} papers (titles and abstracts) from {args.folder}")
    for name, counts, papers in (("before", before, papers_before), ("after", after, papers_after)):
        print(f"\n{name}: {sum(counts.values())} commands outside math in {papers} papers; top {args.top}:")
        for cmd, n in counts.most_common(args.top):
            print(f"  \\{cmd:<16} {n}")


if __name__ == "__main__":
    main()
