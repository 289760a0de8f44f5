"""The cosine floor for alerts' semantic matches (settings.alert_min_similarity), measured.

Embeds real arXiv papers (../shared/data/arxiv/daily) with all-MiniLM-L6-v2 and, for
alert-like queries, prints how the cosine of papers holding every word of the alert
compares with the cosine of papers without them, and a few of the latter per band, to
read whether they are on topic.

    .venv/bin/python bench/alert_floor.py [--papers 3000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from paperboy.index.embedder import get_embedder, paper_text
from paperboy.index.keyword import text_terms
from paperboy.index.stopwords import stop_terms

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "arxiv" / "daily"
QUERIES = [
    "gaussian splatting", "speculative decoding", "mixture of experts", "retrieval augmented generation",
    "medical image segmentation", "vision language models", "reinforcement learning from human feedback",
    "diffusion models", "graph neural networks", "hallucination", "knowledge distillation", "autonomous driving",
    "federated learning", "code generation", "fair division", "quantum error correction",
]
BANDS = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def load(n: int) -> list[dict]:
    seen, out = set(), []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            rec = json.loads(line)
            if rec["id"] not in seen:
                seen.add(rec["id"])
                out.append(rec)
    step = max(1, len(out) // n)
    return out[::step][:n]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=3000)
    args = ap.parse_args()
    papers = load(args.papers)
    emb = get_embedder("minilm")
    texts = [paper_text(p["title"], " ".join(p["summary"].split())) for p in papers]
    matrix = emb.embed(texts, batch_size=32)
    terms = [set(text_terms(t)) for t in texts]
    stops = stop_terms()
    print(f"{len(papers)} papers")
    for query in QUERIES:
        words = [t for t in dict.fromkeys(text_terms(query)) if t not in stops]
        sims = matrix @ emb.embed_query(query)
        has = np.array([all(w in ts for w in words) for ts in terms])
        kw = np.sort(sims[has])[::-1]
        other = sims[~has]
        line = f"{query!r}: {has.sum()} with every word (cosine median {np.median(kw) if len(kw) else float('nan'):.2f}, " \
               f"min {kw.min() if len(kw) else float('nan'):.2f}); without, above " + \
               ", ".join(f"{b}: {(other >= b).sum()}" for b in BANDS)
        print(line)
        order = np.argsort(-sims)
        shown = 0
        for i in order:
            if has[i] or shown >= 4:
                continue
            if sims[i] < 0.4:
                break
            print(f"    {sims[i]:.2f}  {papers[i]['title'][:110]}")
            shown += 1


if __name__ == "__main__":
    main()
