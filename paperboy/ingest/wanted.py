"""Papers members asked for that this instance does not have.

A member who imports a Zotero library into a collection, or seeds For you with papers,
names papers from any year and field; an instance keeps only the categories and days it
ingested. Those papers are queued here (``wanted_papers``), and any worker claims them
with a lease (as it claims digests), fetches them from arXiv's API a hundred per
request, stores them as the submission look-up does, and saves each where the member
asked (``paperboy.worker.wanted``, which knows collections and seeds).

What happens to a queued paper:
* fetched and saved: its row is deleted (the paper is in the collection, or a seed);
* arXiv answers that it has no such paper: ``unknown``, shown to the member;
* arXiv cannot be reached or its answer cannot be read: tried again after 1, 5, 30 and
  120 minutes, then ``failed``, shown to the member;
* a worker killed mid-way: its lease runs out and another takes the row over; storing
  and saving are idempotent, so nothing is saved twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from paperboy.config import Settings
from paperboy.ingest.arxiv_api import ID_CHUNK, ArxivError, fetch_records
from paperboy.ingest.http import PoliteClient, SourceError
from paperboy.ingest.pipeline import AuthorCache, upsert_batch
from paperboy.papers.ids import BadRecord
from paperboy.store.claims import claim_rows, insert_ignore
from paperboy.store.db import write_tx
from paperboy.store.models import Paper, WantedPaper, utcnow

log = logging.getLogger(__name__)
W = WantedPaper.__table__
SEEDS = 0  # the target of a For you seed; any other target is a collection's id
OUTSTANDING_MAX = 2_000  # papers one member may have waiting (a large Zotero library fits)
RETRY_MINUTES = (1, 5, 30, 120)  # after each failed try; then the paper is given up
WAITING = ("wanted", "fetching")


@dataclass
class Queued:
    queued: list[str] = field(default_factory=list)  # to be fetched
    over_limit: list[str] = field(default_factory=list)  # not queued: the member has OUTSTANDING_MAX waiting


def queue(db: Session, user_id: int, target: int, arxiv_ids: Iterable[str]) -> Queued:
    """Queue papers for ``target`` (a collection id or ``SEEDS``). The caller passes ids
    that are not stored at all (a hidden paper is stored, and is not fetched again).
    Asking again for one arXiv did not know, or could not be fetched, tries again: a
    paper announced since then is found."""
    ids = list(dict.fromkeys(arxiv_ids))
    if not ids:
        return Queued()
    conn = db.connection()
    mine = (W.c.user_id == user_id) & (W.c.target == target)
    known = dict(conn.execute(select(W.c.arxiv_id, W.c.state).where(mine, W.c.arxiv_id.in_(ids))).all())
    again = [a for a in ids if known.get(a) in ("unknown", "failed")]
    if again:
        conn.execute(update(W).where(mine, W.c.arxiv_id.in_(again))
                     .values(state="wanted", attempts=0, due_at=utcnow(), note=None, lease_owner=None, lease_until=None))
    waiting = conn.scalar(select(func.count()).select_from(W).where(W.c.user_id == user_id, W.c.state.in_(WAITING)))
    new = [a for a in ids if a not in known]
    room = max(OUTSTANDING_MAX - waiting, 0)
    now = utcnow()
    insert_ignore(conn, W, [{"user_id": user_id, "target": target, "arxiv_id": a, "state": "wanted", "attempts": 0,
                             "due_at": now, "created_at": now} for a in new[:room]])
    return Queued(queued=[a for a in ids if a in known or a in new[:room]], over_limit=new[room:])


def not_stored(db: Session, arxiv_ids: list[str]) -> list[str]:
    """Those of ``arxiv_ids`` this instance has not stored at all (a hidden paper is stored)."""
    stored = _stored(db.connection(), arxiv_ids)
    return [a for a in arxiv_ids if a not in stored]


@dataclass
class Waiting:
    """What a member sees of their queued papers for one target."""

    fetching: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # arXiv has no such paper
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, why): arXiv did not answer, the paper is hidden

    def __bool__(self) -> bool:
        return bool(self.fetching or self.unknown or self.failed)

    @property
    def given_up(self) -> list[str]:
        """The ids that will not arrive unless asked for again: unknown to arXiv, or failed."""
        return self.unknown + [a for a, _why in self.failed]


def waiting(db: Session, user_id: int, target: int) -> Waiting:
    rows = db.execute(select(W.c.arxiv_id, W.c.state, W.c.note).where(W.c.user_id == user_id, W.c.target == target)
                      .order_by(W.c.id)).all()
    out = Waiting()
    for arxiv_id, state, note in rows:
        if state == "failed":
            out.failed.append((arxiv_id, note or "not fetched"))
        else:
            (out.unknown if state == "unknown" else out.fetching).append(arxiv_id)
    return out


def clear_given_up(db: Session, user_id: int, target: int) -> int:
    """Forget the papers that arXiv did not know or that could not be fetched."""
    return db.execute(delete(W).where(W.c.user_id == user_id, W.c.target == target,
                                      W.c.state.in_(("unknown", "failed")))).rowcount


def forget_target(db: Session, user_id: int, target: int) -> None:
    """A deleted collection's queue goes with it."""
    db.execute(delete(W).where(W.c.user_id == user_id, W.c.target == target))


def forget_member(db: Session, user_id: int) -> None:
    db.execute(delete(W).where(W.c.user_id == user_id))


# --- the worker's side


def any_due(engine: Engine) -> bool:
    """Whether a queued paper waits for a worker now (one indexed read: cheap to ask often)."""
    with engine.connect() as conn:
        return conn.scalar(select(W.c.id).where(W.c.state == "wanted", W.c.due_at <= utcnow()).limit(1)) is not None


def claim(engine: Engine, owner: str, lease_until: dt.datetime, limit: int = ID_CHUNK) -> list[Row]:
    """Take up to ``limit`` queued rows (one arXiv request's worth), oldest first."""
    now = utcnow()
    claimable = ((W.c.state == "wanted") & (W.c.due_at <= now)) | ((W.c.state == "fetching") & (W.c.lease_until < now))
    with write_tx(engine) as conn:
        return claim_rows(conn, W, claimable=claimable, order_by=[W.c.due_at, W.c.id], limit=limit,
                          values={"state": "fetching", "lease_owner": owner, "lease_until": lease_until,
                                  "attempts": W.c.attempts + 1},
                          returning=[W.c.user_id, W.c.target, W.c.arxiv_id, W.c.attempts])


@dataclass
class Fetched:
    here: dict[str, int]  # arXiv id -> paper id: stored now, or stored before
    unknown: set[str]  # arXiv answered that it has no such paper
    refused: set[str] = field(default_factory=set)  # arXiv called the id malformed, or its entry was unreadable
    error: str | None = None  # why the others could not be fetched this time


def fetch(settings: Settings, engine: Engine, arxiv_ids: Iterable[str]) -> Fetched:
    """Store the papers of ``arxiv_ids`` that are not stored yet (one arXiv request per
    hundred); which are here now, which arXiv does not know, and what went wrong."""
    ids = list(dict.fromkeys(arxiv_ids))
    with engine.connect() as conn:
        here = _stored(conn, ids)
    missing = [a for a in ids if a not in here]
    if not missing:
        return Fetched(here, set())
    # One quick retry at most: the queue's own schedule (RETRY_MINUTES) retries later, and
    # the worker's other jobs (digests) wait while this request does.
    quick = settings.model_copy(update={"http_retries": min(settings.http_retries, 1)})
    client = PoliteClient(quick)  # one client: arXiv's delay holds between a split batch's requests
    try:
        found, refused = _records(quick, client, missing)
    except SourceError as exc:
        log.warning("fetching %d wanted papers: %s", len(missing), exc)
        return Fetched(here, set(), error="arXiv did not answer")
    finally:
        client.close()
    if found:
        with write_tx(engine) as conn:
            upsert_batch(conn, list(found.values()), AuthorCache())
            here.update(_stored(conn, list(found)))
    return Fetched(here, {a for a in missing if a not in found and a not in refused}, refused=refused)


def _records(settings: Settings, client: PoliteClient, ids: list[str]) -> tuple[dict, set[str]]:
    """What arXiv knows of ``ids``, and those it refused. arXiv answers a request naming
    one id it calls malformed, or whose entry cannot be read, with nothing for the whole
    request; so such a batch is split in halves until that id is alone and refused, and
    the others still arrive (about 2 log2(100) = 14 requests for one bad id in 100)."""
    try:
        return fetch_records(settings, ids, client), set()
    except (ArxivError, BadRecord) as exc:
        if len(ids) == 1:
            log.warning("arXiv refused wanted paper %s: %s", ids[0], exc)
            return {}, set(ids)
    half = len(ids) // 2
    first, refused_first = _records(settings, client, ids[:half])
    second, refused_second = _records(settings, client, ids[half:])
    return {**first, **second}, refused_first | refused_second


def _stored(conn: Connection, ids: list[str]) -> dict[str, int]:
    return dict(conn.execute(select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(ids))).all()) if ids else {}


def finish(conn: Connection, owner: str, rows: list[Row], fetched: Fetched, saved: set[int]) -> None:
    """Record a batch's outcome on the rows this worker still holds: ``saved`` rows
    (their row ids) are done and deleted; papers arXiv does not know are ``unknown``;
    the rest are tried again later, or given up after the last retry."""
    held = (W.c.lease_owner == owner) & (W.c.state == "fetching")
    done = [r.id for r in rows if r.id in saved]
    if done:
        conn.execute(delete(W).where(W.c.id.in_(done), held))
    unknown = [r.id for r in rows if r.id not in saved and r.arxiv_id in fetched.unknown]
    if unknown:
        conn.execute(update(W).where(W.c.id.in_(unknown), held).values(
            state="unknown", lease_owner=None, lease_until=None, note="arXiv has no paper with this id"))
    now = utcnow()
    for row in rows:
        if row.id in saved or row.id in unknown:
            continue
        # stored but not saved: the paper is hidden (a row whose collection is gone counts as saved)
        if row.arxiv_id in fetched.here:
            note = "hidden on this instance"
        elif row.arxiv_id in fetched.refused:
            note = "arXiv refused this id"
        else:
            note = fetched.error or "not fetched"
        if row.arxiv_id in fetched.here or row.arxiv_id in fetched.refused or row.attempts > len(RETRY_MINUTES):
            values = {"state": "failed", "note": note[:300]}
        else:
            values = {"state": "wanted", "note": note[:300],
                      "due_at": now + dt.timedelta(minutes=RETRY_MINUTES[row.attempts - 1])}
        conn.execute(update(W).where(W.c.id == row.id, held).values(lease_owner=None, lease_until=None, **values))
