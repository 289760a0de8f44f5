"""The worker's side of papers members asked for that the instance lacked
(``paperboy.ingest.wanted``): claim a batch, fetch and store it, then save each paper
where its member asked (a collection, or For you's seeds), all in the member's name.
Queued ids go first; when none is due, a batch of BibTeX titles is looked up.

This sits above the features because saving is theirs: a collection import saves as
``community`` saves, a seed is a ``recommend`` signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from paperboy.community.collection_views import add_papers
from paperboy.config import Settings
from paperboy.index import batches
from paperboy.index.embedder import configured_embedder, embedder_name
from paperboy.ingest import wanted
from paperboy.papers.visibility import visible
from paperboy.recommend.signals import add_seeds
from paperboy.store.claims import Heartbeat
from paperboy.store.db import write_tx
from paperboy.store.models import Collection, Paper


@dataclass
class Served:
    saved: int = 0  # papers saved where their member asked
    unknown: int = 0  # arXiv has no such paper
    later: int = 0  # to be tried again, or given up
    stalled: bool = False  # arXiv did not answer, or not readably: try no more batches now

    def __str__(self) -> str:
        return f"saved {self.saved}, unknown to arXiv {self.unknown}, not fetched {self.later}"


def serve_batch(settings: Settings, heartbeat: Heartbeat) -> Served | None:
    """Claim, fetch and save one batch of wanted papers, else of wanted titles; None
    when none is due."""
    engine = heartbeat.engine
    rows = wanted.claim(engine, heartbeat.owner, heartbeat.lease_until())
    if not rows:
        return _serve_titles(settings, heartbeat)
    with heartbeat.holding(wanted.W, (r.id for r in rows)):
        fetched = wanted.fetch(settings, engine, (r.arxiv_id for r in rows))
        with write_tx(engine) as conn:
            rows = wanted.held(conn, heartbeat.owner, rows)
            saved = _save(conn, rows, fetched.here)
            wanted.finish(conn, heartbeat.owner, rows, fetched, saved)
        _embed_first(settings, heartbeat, fetched.here.values())
    unknown = sum(1 for r in rows if r.id not in saved and r.arxiv_id in fetched.unknown)
    return Served(saved=len(saved), unknown=unknown, later=len(rows) - len(saved) - unknown,
                  stalled=fetched.error is not None)


def _serve_titles(settings: Settings, heartbeat: Heartbeat) -> Served | None:
    """Claim, look up and save one batch of BibTeX titles; None when none is due."""
    engine = heartbeat.engine
    rows = wanted.claim_titles(engine, heartbeat.owner, heartbeat.lease_until())
    if not rows:
        return None
    with heartbeat.holding(wanted.T, (r.id for r in rows)):
        found = wanted.match_titles(settings, engine, rows)
        as_papers = [SimpleNamespace(id=r.id, user_id=r.user_id, target=r.target, arxiv_id=found.matched[r.id])
                     for r in rows if r.id in found.matched]
        with write_tx(engine) as conn:
            saved = _save(conn, as_papers, found.here)
            wanted.finish_titles(conn, heartbeat.owner, rows, found, saved)
        _embed_first(settings, heartbeat, found.here.values())
    later = 0 if found.error is None else len(rows) - len(saved)
    return Served(saved=len(saved), unknown=len(rows) - len(saved) - later, later=later,
                  stalled=found.error is not None)


def _embed_first(settings: Settings, heartbeat: Heartbeat, paper_ids) -> None:
    """Plan the fetched papers' embedding batch ahead of any backlog: For you and similar
    papers want their vectors now."""
    model = embedder_name(configured_embedder(settings))
    if model != "null" and paper_ids:
        batches.plan_first(heartbeat.engine, model, sorted(paper_ids), batch_size=settings.embed_batch_size)


def _save(conn: Connection, rows: list[Row] | list[SimpleNamespace], here: dict[str, int]) -> set[int]:
    """Save the stored papers of ``rows``; the ids of the rows that are done (saved, or
    their collection is gone). A hidden paper is not saved."""
    with Session(bind=conn) as db:
        shown = set(db.scalars(select(Paper.id).where(Paper.id.in_(list(here.values())), visible()))) if here else set()
        done: set[int] = set()
        for target in {r.target for r in rows}:
            batch = [r for r in rows if r.target == target]
            for user_id in {r.user_id for r in batch}:
                mine = [r for r in batch if r.user_id == user_id and here.get(r.arxiv_id) in shown]
                if target == wanted.SEEDS:
                    added, _hidden = add_seeds(db, user_id, [r.arxiv_id for r in mine])
                    done.update(r.id for r in mine if r.arxiv_id in added)
                    continue
                coll = db.get(Collection, target)
                if coll is None or coll.user_id != user_id:  # deleted meanwhile: nothing to save into
                    done.update(r.id for r in batch if r.user_id == user_id)
                    continue
                if mine:
                    add_papers(db, coll, [here[r.arxiv_id] for r in mine])
                    done.update(r.id for r in mine)
        db.flush()
    return done
