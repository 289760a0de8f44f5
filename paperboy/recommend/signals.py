"""Writing a member's "For you" signals, and the overview of what the feed learns from.

A paper has at most one explicit signal per member (``interest_signals``): ``seed``,
``not_interested`` or ``ignored``. Votes and saves stay where they are (community owns
them); "stop learning from this vote" marks the paper ``ignored`` instead of unvoting.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperboy.config import Settings
from paperboy.ingest import wanted
from paperboy.papers.visibility import visible
from paperboy.rank import foryou
from paperboy.store.models import ForYouPrefs, InterestSignal, Paper, utcnow
from paperboy.web.member_data import MemberDataPart
from paperboy.web.uploads import forget_outcomes


def _put(db: Session, user_id: int, paper_id: int, kind: str) -> None:
    where = (InterestSignal.user_id == user_id, InterestSignal.paper_id == paper_id)
    if db.execute(update(InterestSignal).where(*where).values(kind=kind, created_at=utcnow())).rowcount:
        return
    try:
        with db.begin_nested():
            db.execute(insert(InterestSignal).values(user_id=user_id, paper_id=paper_id, kind=kind, created_at=utcnow()))
    except IntegrityError:  # the same paper signalled by a concurrent request: last one wins
        db.execute(update(InterestSignal).where(*where).values(kind=kind, created_at=utcnow()))


def add_seeds(db: Session, user_id: int, arxiv_ids: list[str]) -> tuple[list[str], list[str]]:
    """Seed the feed with these papers; returns (added, not in this instance)."""
    known = dict(db.execute(select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(arxiv_ids), visible())).all()) \
        if arxiv_ids else {}
    for arxiv_id in arxiv_ids:
        if arxiv_id in known:
            _put(db, user_id, known[arxiv_id], "seed")
    return [a for a in arxiv_ids if a in known], [a for a in arxiv_ids if a not in known]


def set_not_interested(db: Session, user_id: int, paper_id: int, on: bool) -> None:
    if on:
        _put(db, user_id, paper_id, "not_interested")
    else:
        db.execute(delete(InterestSignal).where(InterestSignal.user_id == user_id, InterestSignal.paper_id == paper_id,
                                                InterestSignal.kind == "not_interested"))


def forget(db: Session, user_id: int, paper_id: int) -> str:
    """Remove the member's signal on one paper; returns what it was. A seed, "not
    interested" or ignore mark is deleted (an ignored vote is learned from again); a vote
    or save is marked ignored ('liked')."""
    kind = db.scalar(select(InterestSignal.kind).where(InterestSignal.user_id == user_id,
                                                       InterestSignal.paper_id == paper_id))
    if kind in ("seed", "not_interested", "ignored"):
        db.execute(delete(InterestSignal).where(InterestSignal.user_id == user_id, InterestSignal.paper_id == paper_id))
        return kind
    _put(db, user_id, paper_id, "ignored")
    return "liked"


def _prefs(db: Session, user_id: int, **values) -> None:
    values["updated_at"] = utcnow()
    if db.execute(update(ForYouPrefs).where(ForYouPrefs.user_id == user_id).values(**values)).rowcount:
        return
    try:
        with db.begin_nested():
            db.execute(insert(ForYouPrefs).values(user_id=user_id, **{"paused": False, **values}))
    except IntegrityError:
        db.execute(update(ForYouPrefs).where(ForYouPrefs.user_id == user_id).values(**values))


def set_paused(db: Session, user_id: int, paused: bool) -> None:
    _prefs(db, user_id, paused=paused)


def reset(db: Session, user_id: int) -> None:
    """Forget what the feed learned: seeds, "not interested" and ignore marks go, and votes
    and saves made until now no longer count (they stay votes and saves). Seeds still
    being fetched or looked up on arXiv go too: arriving later, they would teach the
    feed what the member asked it to forget."""
    db.execute(delete(InterestSignal).where(InterestSignal.user_id == user_id))
    wanted.forget_target(db, user_id, wanted.SEEDS)
    forget_outcomes(db, user_id, wanted.SEEDS)
    _prefs(db, user_id, reset_at=utcnow())


def feed_state(db: Session, user_id: int) -> tuple[bool, int]:
    """Whether the member's private feed is on, and its address version."""
    row = db.execute(select(ForYouPrefs.feed_on, ForYouPrefs.feed_version).where(ForYouPrefs.user_id == user_id)).first()
    return (bool(row.feed_on), int(row.feed_version)) if row else (False, 0)


FEED_ACTIONS = ("on", "new", "off")


def set_feed(db: Session, user_id: int, action: str) -> tuple[bool, int]:
    """Turn the private feed on, give it a new address, or turn it off. Every change but
    "on" when it is already on bumps the version, so no earlier address works again
    (an address turned off stays dead when the feed is turned on again)."""
    if action not in FEED_ACTIONS:
        raise ValueError(f"unknown feed action {action!r}")
    on, version = feed_state(db, user_id)
    if action == "on" and on:
        return on, version
    on, version = action != "off", version + 1
    _prefs(db, user_id, feed_on=on, feed_version=version)
    return on, version


@dataclass(frozen=True)
class Row:
    paper_id: int
    arxiv_id: str
    title: str
    kind: str
    at: dt.datetime | None


def overview(db: Session, settings: Settings, user_id: int, model: str | None) -> dict:
    """What the feed learns from, for the "what it learned" page and its JSON."""
    conn = db.connection()
    sig = foryou.load_signals(conn, user_id)
    explicit = {pid: (kind, at) for pid, kind, at in conn.execute(
        select(InterestSignal.paper_id, InterestSignal.kind, InterestSignal.created_at)
        .where(InterestSignal.user_id == user_id))}
    ids = set(sig.liked) | set(explicit)
    papers = {r.id: r for r in conn.execute(select(Paper.id, Paper.arxiv_id, Paper.title).where(Paper.id.in_(ids)))} \
        if ids else {}

    def row(pid: int, kind: str) -> Row | None:
        p = papers.get(pid)
        # A mark's own time; a vote's or a save's (the latest of it, as the feed weighs it).
        at = explicit[pid][1] if pid in explicit else sig.liked_at.get(pid)
        return Row(pid, p.arxiv_id, p.title, kind, at) if p else None

    liked = [r for pid, source in sig.liked.items() if (r := row(pid, source))]
    dismissed = [r for pid, (kind, _) in explicit.items() if kind == "not_interested" and (r := row(pid, kind))]
    ignored = [r for pid, (kind, _) in explicit.items() if kind == "ignored" and (r := row(pid, kind))]
    win = foryou.window(conn, settings, "week")
    words = foryou.learned_words(conn, settings, sig, win, model=model) if win else []
    return {"signals": sig, "liked": liked, "dismissed": dismissed, "ignored": ignored, "words": words,
            "waiting": wanted.waiting(db, user_id, wanted.SEEDS)}


# --- the member's data: exported with the account, deleted with it ----------------------

def _export(db: Session, user_id: int) -> dict:
    rows = db.execute(select(Paper.arxiv_id, InterestSignal.kind, InterestSignal.created_at)
                      .join(Paper, Paper.id == InterestSignal.paper_id).where(InterestSignal.user_id == user_id)
                      .order_by(InterestSignal.created_at)).all()
    prefs = db.get(ForYouPrefs, user_id)
    waiting = wanted.waiting(db, user_id, wanted.SEEDS)
    return {"signals": [{"arxiv_id": a, "kind": k, "at": t.isoformat() if t else None} for a, k, t in rows],
            "seeds_being_fetched": waiting.fetching,
            "seeds_not_fetched": waiting.given_up,
            "seed_titles_being_looked_up": waiting.matching,
            "seed_titles_not_found": [t for t, _why in waiting.unmatched],
            "paused": bool(prefs and prefs.paused),
            "reset_at": prefs.reset_at.isoformat() if prefs and prefs.reset_at else None,
            "private_feed_on": bool(prefs and prefs.feed_on)}


def _remove(db: Session, user_id: int) -> None:
    db.execute(delete(InterestSignal).where(InterestSignal.user_id == user_id))
    wanted.forget_target(db, user_id, wanted.SEEDS)
    db.execute(delete(ForYouPrefs).where(ForYouPrefs.user_id == user_id))


PART = MemberDataPart("for_you", _export, _remove)
