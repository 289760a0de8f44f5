"""Papers members asked for that this instance does not have.

A member who imports a Zotero library into a collection, or seeds For you with papers,
names papers from any year and field; an instance keeps only the categories and days it
ingested. Those papers are queued here (``wanted_papers``), and any worker claims them
with a lease (as it claims digests), fetches them from arXiv's API a hundred per
request, stores them as the submission look-up does, and saves each where the member
asked (``paperboy.worker.wanted``, which knows collections and seeds).

BibTeX entries that name no arXiv id (a journal or proceedings paper: most of a Zotero
library) are queued by title (``wanted_titles``) and looked up on arXiv ten titles per
request (``ti:"..."`` phrases); an arXiv paper whose title folds to the same key
(``references.title_key``) and, when the entry names authors, has the entry's first
author, is stored and saved like a fetched one. Nothing fuzzier: a wrong paper saved in
a member's name is worse than one left out and said.

What happens to a queued paper:
* fetched and saved: its row is deleted (the paper is in the collection, or a seed);
* arXiv answers that it has no such paper: ``unknown``, shown to the member;
* arXiv cannot be reached or its answer cannot be read: tried again after 1, 5, 30 and
  120 minutes, then ``failed``, shown to the member;
* a worker killed mid-way: its lease runs out and another takes the row over; storing
  and saving are idempotent, so nothing is saved twice.
A queued title goes the same way (``unknown``: arXiv has no paper with that title).
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
from paperboy.ingest.arxiv_api import ID_CHUNK, ArxivError, fetch_records, get_page
from paperboy.ingest.http import PoliteClient, SourceError
from paperboy.ingest.normalise import PaperRecord
from paperboy.ingest.pipeline import AuthorCache, upsert_batch
from paperboy.papers.ids import BadRecord
from paperboy.papers.references import TitleRef, names_paper, plain_runs, title_key
from paperboy.store.claims import claim_rows, insert_ignore
from paperboy.store.db import write_tx
from paperboy.store.models import Paper, WantedPaper, WantedTitle, utcnow

log = logging.getLogger(__name__)
W = WantedPaper.__table__
T = WantedTitle.__table__
TITLE_CHUNK = 10  # titles looked up in one arXiv request (ORed phrases)
# Seconds between arXiv requests that queued rows are spread by (arXiv's asked delay):
# a member's 2,000 titles are due 10 at a time, 3 s apart, when the queue could reach
# them anyway, so the rows another member queues meanwhile are due before most of them
# and are served in turn, not after all 200 requests (claims go by due time).
PACE_SECONDS = 3.0
TITLE_RESULTS = 5  # results asked for per title: same-titled papers by others, and near titles
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
    if again:  # queued anew below, paced with the rest
        conn.execute(delete(W).where(mine, W.c.arxiv_id.in_(again)))
        for a in again:
            del known[a]
    waiting = _outstanding(conn, user_id)
    new = [a for a in ids if a not in known]
    room = max(OUTSTANDING_MAX - waiting, 0)
    now = utcnow()
    insert_ignore(conn, W, [{"user_id": user_id, "target": target, "arxiv_id": a, "state": "wanted", "attempts": 0,
                             "due_at": _paced(now, i, ID_CHUNK), "created_at": now} for i, a in enumerate(new[:room])])
    return Queued(queued=[a for a in ids if a in known or a in new[:room]], over_limit=new[room:])


def queue_titles(db: Session, user_id: int, target: int, refs: Iterable[TitleRef]) -> Queued:
    """Queue BibTeX entries without an arXiv id to be looked up on arXiv by title, for
    ``target``; ``Queued`` lists their titles. Asking again for one not found tries again."""
    refs = list({r.key: r for r in refs}.values())
    if not refs:
        return Queued()
    conn = db.connection()
    mine = (T.c.user_id == user_id) & (T.c.target == target)
    keys = [r.key for r in refs]
    known = dict(conn.execute(select(T.c.title_key, T.c.state).where(mine, T.c.title_key.in_(keys))).all())
    again = [k for k in keys if known.get(k) in ("unknown", "failed")]
    if again:  # queued anew below, paced with the rest
        conn.execute(delete(T).where(mine, T.c.title_key.in_(again)))
        for k in again:
            del known[k]
    new = [r for r in refs if r.key not in known]
    room = max(OUTSTANDING_MAX - _outstanding(conn, user_id), 0)
    now = utcnow()
    insert_ignore(conn, T, [{"user_id": user_id, "target": target, "title": r.title, "title_key": r.key,
                             "first_author": r.first_author, "state": "wanted", "attempts": 0,
                             "due_at": _paced(now, i, TITLE_CHUNK), "created_at": now}
                            for i, r in enumerate(new[:room])])
    taken = {r.key for r in new[:room]} | set(known)
    return Queued(queued=[r.title for r in refs if r.key in taken], over_limit=[r.title for r in new[room:]])


def _paced(now: dt.datetime, position: int, per_request: int) -> dt.datetime:
    """When the row at ``position`` of one member's queueing could be reached at arXiv's
    pace (``PACE_SECONDS``): its first request's rows at once."""
    return now + dt.timedelta(seconds=PACE_SECONDS * (position // per_request))


def _outstanding(conn: Connection, user_id: int) -> int:
    """Papers and titles the member has waiting for a worker."""
    return sum(conn.scalar(select(func.count()).select_from(t).where(t.c.user_id == user_id, t.c.state.in_(WAITING)))
               for t in (W, T))


def settle_titles(db: Session, user_id: int, target: int, keys: Iterable[str]) -> None:
    """Titles queued for ``target`` earlier and found here now (the same entry sent again
    with its first author mended): no longer waited for, nor listed as looked up."""
    keys = list(keys)
    if keys:
        db.execute(delete(T).where(T.c.user_id == user_id, T.c.target == target, T.c.title_key.in_(keys)))


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
    # Of ``fetching``, those whose last try failed: (id, why, minutes until the next try).
    retrying: list[tuple[str, str, int]] = field(default_factory=list)
    matching: list[str] = field(default_factory=list)  # titles being looked up on arXiv
    unmatched: list[tuple[str, str]] = field(default_factory=list)  # (title, why): not found, or not looked up

    def __bool__(self) -> bool:
        return bool(self.fetching or self.unknown or self.failed or self.matching or self.unmatched)

    @property
    def given_up(self) -> list[str]:
        """The ids that will not arrive unless asked for again: unknown to arXiv, or failed."""
        return self.unknown + [a for a, _why in self.failed]


def waiting(db: Session, user_id: int, target: int) -> Waiting:
    rows = db.execute(select(W.c.arxiv_id, W.c.state, W.c.note, W.c.due_at)
                      .where(W.c.user_id == user_id, W.c.target == target).order_by(W.c.id)).all()
    out, now = Waiting(), utcnow()
    for arxiv_id, state, note, due_at in rows:
        if state == "failed":
            out.failed.append((arxiv_id, note or "not fetched"))
        else:
            (out.unknown if state == "unknown" else out.fetching).append(arxiv_id)
        if state == "wanted" and note:  # a try failed; it is due again later (``_retry``)
            minutes = max(1, -(-int((due_at - now).total_seconds()) // 60))
            out.retrying.append((arxiv_id, note, minutes))
    for title, state, note in db.execute(select(T.c.title, T.c.state, T.c.note)
                                         .where(T.c.user_id == user_id, T.c.target == target).order_by(T.c.id)):
        if state in WAITING:
            out.matching.append(title)
        else:
            out.unmatched.append((title, note or "not looked up"))
    return out


def clear_given_up(db: Session, user_id: int, target: int) -> int:
    """Forget the papers that arXiv did not know or that could not be fetched, and the
    titles it has no paper for."""
    return sum(db.execute(delete(t).where(t.c.user_id == user_id, t.c.target == target,
                                          t.c.state.in_(("unknown", "failed")))).rowcount for t in (W, T))


def forget_target(db: Session, user_id: int, target: int) -> None:
    """A deleted collection's queue goes with it."""
    for t in (W, T):
        db.execute(delete(t).where(t.c.user_id == user_id, t.c.target == target))


def unqueue(db: Session, user_id: int, target: int, arxiv_id: str) -> bool:
    """The member no longer wants ``arxiv_id`` in ``target`` (taken out while it was being
    fetched): its row goes, so the worker does not save it (``held``); whether it was there."""
    return bool(db.execute(delete(W).where(W.c.user_id == user_id, W.c.target == target,
                                           W.c.arxiv_id == arxiv_id)).rowcount)


def forget_member(db: Session, user_id: int) -> None:
    for t in (W, T):
        db.execute(delete(t).where(t.c.user_id == user_id))


# --- the worker's side


def any_due(engine: Engine) -> bool:
    """Whether a queued paper waits for a worker now (one indexed read: cheap to ask often)."""
    with engine.connect() as conn:
        now = utcnow()
        return any(conn.scalar(select(t.c.id).where(t.c.state == "wanted", t.c.due_at <= now).limit(1)) is not None
                   for t in (W, T))


def claim(engine: Engine, owner: str, lease_until: dt.datetime, limit: int = ID_CHUNK) -> list[Row]:
    """Take up to ``limit`` queued rows (one arXiv request's worth), oldest first."""
    return _claim(engine, W, owner, lease_until, limit, [W.c.arxiv_id])


def _claim(engine: Engine, table, owner: str, lease_until: dt.datetime, limit: int, columns: list) -> list[Row]:
    """Claim up to ``limit`` rows of ``table`` (``W`` or ``T``) due now, or whose lease ran
    out, by due time; each with its member, target, attempts and ``columns``."""
    now = utcnow()
    c = table.c
    claimable = ((c.state == "wanted") & (c.due_at <= now)) | ((c.state == "fetching") & (c.lease_until < now))
    with write_tx(engine) as conn:
        return claim_rows(conn, table, claimable=claimable, order_by=[c.due_at, c.id], limit=limit,
                          values={"state": "fetching", "lease_owner": owner, "lease_until": lease_until,
                                  "attempts": c.attempts + 1},
                          returning=[c.user_id, c.target, *columns, c.attempts])


def _retry(attempts: int, note: str, now: dt.datetime) -> dict:
    """A row arXiv did not answer for: due again after its ``RETRY_MINUTES``, or given up
    after the last of them."""
    if attempts > len(RETRY_MINUTES):
        return {"state": "failed", "note": note[:300]}
    return {"state": "wanted", "note": note[:300], "due_at": now + dt.timedelta(minutes=RETRY_MINUTES[attempts - 1])}


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


def held(conn: Connection, owner: str, rows: list[Row]) -> list[Row]:
    """The claimed ``rows`` this worker still holds, locked until its transaction ends: a
    row the member took back meanwhile (``unqueue``) is not saved; one they take back
    from now on waits for this save and then finds the paper stored."""
    ids = set(conn.scalars(select(W.c.id).where(W.c.id.in_([r.id for r in rows]), W.c.lease_owner == owner)
                           .with_for_update()))
    return [r for r in rows if r.id in ids]


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
        if row.arxiv_id in fetched.here or row.arxiv_id in fetched.refused:
            values = {"state": "failed", "note": note[:300]}
        else:
            values = _retry(row.attempts, note, now)
        conn.execute(update(W).where(W.c.id == row.id, held).values(lease_owner=None, lease_until=None, **values))


# --- titles: BibTeX entries without an arXiv id


def claim_titles(engine: Engine, owner: str, lease_until: dt.datetime, limit: int = TITLE_CHUNK) -> list[Row]:
    """Take up to ``limit`` queued titles (one arXiv request's worth), oldest first."""
    return _claim(engine, T, owner, lease_until, limit, [T.c.title, T.c.title_key, T.c.first_author])


def title_query(titles: Iterable[tuple[str, str]]) -> str:
    """arXiv's query for these (title as the entry spells it, its key): each a phrase in
    the title field, ORed. A title with TeX or an apostrophe in it is asked for as its
    runs of plain words (``references.plain_runs``), each a phrase and all of them needed:
    arXiv's title has the TeX's own words between them, where the key has none, and may
    split "Rao's" otherwise than the key does."""
    clauses = []
    for title, key in titles:
        runs = [k for k in (title_key(run) for run in plain_runs(title)) if k]
        if len(runs) > 1:
            clauses.append("(" + " AND ".join(f'ti:"{k}"' for k in runs) + ")")
        else:
            clauses.append(f'ti:"{runs[0] if runs else key}"')
    return " OR ".join(clauses)


def _same_paper(row: Row, record: PaperRecord) -> bool:
    """Whether ``record`` is the paper ``row`` names (``references.names_paper``)."""
    return names_paper(row.title_key, row.first_author, record.title, record.authors)


@dataclass
class TitlesFound:
    matched: dict[int, str]  # title row id -> the arXiv id of its paper (stored now)
    here: dict[str, int]  # those arXiv ids -> paper ids
    error: str | None = None  # why arXiv's answer was not had this time


def match_titles(settings: Settings, engine: Engine, rows: list[Row]) -> TitlesFound:
    """Look the titles of ``rows`` up on arXiv in one request, store the papers that
    match (``_same_paper``) and say which row is which paper."""
    titles: dict[str, str] = {}  # key -> the title of its first row
    for row in rows:
        titles.setdefault(row.title_key, row.title)
    quick = settings.model_copy(update={"http_retries": min(settings.http_retries, 1)})
    client = PoliteClient(quick)
    try:
        page, _url = get_page(client, quick, {"search_query": title_query((t, k) for k, t in titles.items()), "start": 0,
                                              "max_results": TITLE_RESULTS * len(titles)})
    except SourceError as exc:
        log.warning("looking up %d titles on arXiv: %s", len(titles), exc)
        return TitlesFound({}, {}, error="arXiv did not answer")
    finally:
        client.close()
    records = [e for e in page.entries if isinstance(e, PaperRecord)]
    matched: dict[int, PaperRecord] = {}
    for row in rows:
        found = next((rec for rec in records if _same_paper(row, rec)), None)
        if found is not None:
            matched[row.id] = found
    ids = list({rec.arxiv_id: rec for rec in matched.values()})
    with write_tx(engine) as conn:
        stored = _stored(conn, ids)
        new = {rec.arxiv_id: rec for rec in matched.values() if rec.arxiv_id not in stored}
        if new:
            upsert_batch(conn, list(new.values()), AuthorCache())
            stored = _stored(conn, ids)
    return TitlesFound({rid: rec.arxiv_id for rid, rec in matched.items()}, stored)


def finish_titles(conn: Connection, owner: str, rows: list[Row], found: TitlesFound, saved: set[int]) -> None:
    """Record the outcome of a batch of titles, as ``finish`` does for ids."""
    held = (T.c.lease_owner == owner) & (T.c.state == "fetching")
    done = [r.id for r in rows if r.id in saved]
    if done:
        conn.execute(delete(T).where(T.c.id.in_(done), held))
    now = utcnow()
    for row in rows:
        if row.id in saved:
            continue
        if row.id in found.matched:  # stored, and hidden here
            values = {"state": "failed", "note": f"{found.matched[row.id]} is hidden on this instance"}
        elif found.error is None:
            values = {"state": "unknown", "note": "arXiv has no paper with this title"
                      + (" and first author" if row.first_author else "")}
        else:
            values = _retry(row.attempts, found.error, now)
        conn.execute(update(T).where(T.c.id == row.id, held).values(lease_owner=None, lease_until=None, **values))
