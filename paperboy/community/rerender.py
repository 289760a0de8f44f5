"""Render stored comments again with today's Markdown rules (``paperboy comments render``).

A comment's HTML is rendered once, when it is written (``comments.body_html``), so a
change to the rules (bare addresses and "arXiv:" ids made links, 2026-12-06) reaches the
comments written before it only through this. It walks the comments by id in batches,
each its own transaction, and writes a comment's HTML only where it differs and only if
the comment's text is still the text it rendered (an edit meanwhile wins); the papers
whose comments changed are marked modified, so cached pages and ETags move on. Safe to
run while serving, to stop at any point and to run again: a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import Engine

from paperboy.community import markdown
from paperboy.community.models import Comment
from paperboy.store.models import Paper, utcnow

BATCH = 500


@dataclass
class Rendered:
    seen: int = 0
    changed: int = 0


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Comment).where(Comment.deleted_at.is_(None))) or 0


def render_stored(engine: Engine, batch: int = BATCH, on_batch: Callable[[int], None] | None = None) -> Rendered:
    """Render every comment that is not deleted again; returns how many were seen and changed."""
    done, last = Rendered(), 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(Comment.id, Comment.paper_id, Comment.body, Comment.body_html)
                                .where(Comment.id > last, Comment.deleted_at.is_(None))
                                .order_by(Comment.id).limit(batch)).all()
            if not rows:
                return done
            changed = [{"cid": r.id, "old": r.body, "html": html} for r in rows
                       if (html := markdown.render(r.body)) != r.body_html]
            if changed:
                result = conn.execute(update(Comment).where(Comment.id == bindparam("cid"),
                                                            Comment.body == bindparam("old"))
                                      .values(body_html=bindparam("html")), changed)
                done.changed += result.rowcount
                paper_of = {r.id: r.paper_id for r in rows}
                papers = sorted({paper_of[c["cid"]] for c in changed})
                conn.execute(update(Paper).where(Paper.id.in_(papers)).values(modified_at=utcnow()))
        done.seen += len(rows)
        last = rows[-1].id
        if on_batch is not None:
            on_batch(len(rows))
