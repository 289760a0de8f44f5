"""Fusing rankers. Every ranker returns ``(ids, scores)``, best first."""

from __future__ import annotations

Ranking = tuple[list[int], list[float]]

# Chosen on SciFact train qrels (docs/search.md): convex combination of min-max
# normalised scores, keyword weight below.
KEYWORD_WEIGHT = 0.55
RRF_K = 60


def rrf(rankings: list[Ranking], weights: list[float] | None = None, k: int = RRF_K) -> Ranking:
    """Reciprocal rank fusion: sum of w / (k + rank)."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for (ids, _), w in zip(rankings, weights, strict=True):
        for rank, pid in enumerate(ids):
            fused[pid] = fused.get(pid, 0.0) + w / (k + rank + 1)
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    return order, [fused[i] for i in order]


def _minmax(scores: list[float]) -> list[float]:
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    if hi - lo <= 1e-12:
        return [1.0] * len(scores)
    return [(s - lo) / (hi - lo) for s in scores]


def weighted(rankings: list[Ranking], weights: list[float]) -> Ranking:
    """Convex combination of min-max normalised scores (a missing id scores 0 there)."""
    fused: dict[int, float] = {}
    for (ids, scores), w in zip(rankings, weights, strict=True):
        for pid, s in zip(ids, _minmax(scores), strict=True):
            fused[pid] = fused.get(pid, 0.0) + w * s
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    return order, [fused[i] for i in order]


def fuse(keyword: Ranking, semantic: Ranking, *, method: str = "weighted",
         keyword_weight: float = KEYWORD_WEIGHT) -> Ranking:
    """The hybrid ranking: keyword and semantic fused (one of them may be empty)."""
    if not semantic[0]:
        return keyword
    if not keyword[0]:
        return semantic
    if method == "rrf":
        return rrf([keyword, semantic])
    return weighted([keyword, semantic], [keyword_weight, 1.0 - keyword_weight])
