"""Counts for `paperboy stats` and the about page."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from paperboy.store import bulk
from paperboy.store.models import PAPER_EMBEDDINGS, Author, Paper


def collect_stats(engine: Engine, top: int = 30) -> dict:
    p = Paper.__table__
    with engine.connect() as conn:
        papers = conn.scalar(select(func.count()).select_from(p)) or 0
        authors = conn.scalar(select(func.count()).select_from(Author.__table__)) or 0
        first, last, days = conn.execute(
            select(func.min(p.c.announced_on), func.max(p.c.announced_on), func.count(func.distinct(p.c.announced_on)))
        ).one()
        sources: dict[str, int] = {}
        for value, n in conn.execute(select(p.c.sources, func.count()).group_by(p.c.sources)):
            for name in (value or "unknown").split(","):
                sources[name] = sources.get(name, 0) + n
        cats = conn.execute(
            select(p.c.primary_category, func.count().label("n"))
            .group_by(p.c.primary_category)
            .order_by(func.count().desc(), p.c.primary_category)
            .limit(top)
        ).all()
        submitted = conn.execute(select(func.min(p.c.submitted_at), func.max(p.c.submitted_at))).one()
        # Per model, so an operator sees how far the embedding (or a model change) has got.
        vectors = conn.execute(select(PAPER_EMBEDDINGS.c.model, func.count()).group_by(PAPER_EMBEDDINGS.c.model)
                               .order_by(PAPER_EMBEDDINGS.c.model)).all()
    return {
        "papers": papers,
        "authors": authors,
        "sources": dict(sorted(sources.items(), key=lambda kv: -kv[1])),
        "primary_categories": {c or "unknown": n for c, n in cats},
        "announced": {"first": first, "last": last, "days": days},
        "submitted": {"first": submitted[0], "last": submitted[1]},
        "vectors": dict(vectors),
        # Indexes a bulk import set aside and has not rebuilt yet (running, or killed).
        "indexes_set_aside": bulk.pending(engine),
    }
