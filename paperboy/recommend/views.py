"""The "For you" pages and their JSON: the member's picks with a why line, what the feed
learned (and the controls to change it), seeds, "not interested", pause and reset.

A request reads as a straight line: signals → rank (``rank.foryou``, which returns
``(ids, scores)`` and why lines) → page → render. Every JSON answer is the same data as
its page (``Accept: application/json`` on the form routes, ``/api/for-you...`` to read).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.index.embedder import configured_embedder, embedder_name
from paperboy.ingest import wanted
from paperboy.papers import queries as q
from paperboy.papers import references
from paperboy.papers.ids import BadRecord, canonical_or_same, no_paper_here, parse_arxiv_id
from paperboy.papers.visibility import visible
from paperboy.rank import foryou
from paperboy.recommend import feedkeys, signals
from paperboy.store.models import Collection, Paper, User
from paperboy.web import ratelimit
from paperboy.web.cards import at_card, build_cards
from paperboy.web.convertors import MAX_ID
from paperboy.web.deps import get_db
from paperboy.web.feeds import ITEMS, FeedPage, Format, page_param, render_feed
from paperboy.web.navigation import back_at_card, local_or, referring_page
from paperboy.web.paperjson import ERRORS, ErrorOut, PaperOut, json_response, paper_out, submitters
from paperboy.web.security import (
    current_user,
    require_member,
    require_user,
    takes_uploads,
    wants_json,
)
from paperboy.web.uploads import (
    INTO_SEEDS,
    ImportReport,
    keep_outcome,
    kept_outcome,
    no_arxiv_id,
    papers_sent,
)

router = APIRouter(include_in_schema=False)  # pages and forms
api_router = APIRouter(prefix="/api", tags=["for you"])  # in the OpenAPI document
SIGNED_IN = {401: {"model": ErrorOut, "description": "Not signed in"}}
PAGE = 30
SPANS = {"today": "Today", "week": "This week"}


def _model(request: Request) -> str:
    return embedder_name(configured_embedder(request.app.state.settings))


def _own_collection(db: Session, user: User, cid: int | None) -> Collection | None:
    if cid is None:
        return None
    # An id past the database's integer is no collection (not an overflow in the driver).
    coll = db.get(Collection, cid) if cid <= MAX_ID else None
    if coll is None or coll.user_id != user.id:
        raise HTTPException(404, "No such collection of yours.")
    return coll


def _picks(request: Request, db: Session, user: User, span: str, collection: Collection | None,
           limit: int, offset: int) -> tuple[foryou.Picks, foryou.Window | None]:
    settings = request.app.state.settings
    conn = db.connection()
    win = foryou.window(conn, settings, span)
    sig = foryou.load_signals(conn, user.id, collection_id=collection.id if collection else None)
    if win is None:
        return foryou.Picks([], [], {}, sig, 0), None
    return foryou.recommend(conn, settings, user.id, win, model=_model(request), signals=sig,
                            collection_id=collection.id if collection else None, limit=limit, offset=offset), win


def _starters(request: Request, db: Session, sig: foryou.Signals, win: foryou.Window | None,
              collection: Collection | None) -> list[Paper]:
    """The papers to begin with (``foryou.starters``), in their order, for a member whose
    feed has nothing to learn from; none for a collection's feed (it learns from that
    collection) or a paused one."""
    if win is None or collection is not None or not sig.empty or sig.paused:
        return []
    ids, _scores = foryou.starters(db.connection(), request.app.state.settings, win, model=_model(request),
                                   exclude=sig.seen)
    found = {x.id: x for x in q.papers_by_ids(db, ids)}
    return [found[i] for i in ids if i in found]


def _for_you_url(coll: Collection | None, span: str, **params) -> str:
    """The For you page of ``span`` (and collection), with ``params`` (a page number)."""
    return "/for-you?" + urlencode({"span": span, **({"collection": coll.id} if coll else {}), **params})


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, f"recommend/{name}", {"nav": "for-you", **ctx},
                                                        status_code=status)


@router.get("/for-you", response_class=HTMLResponse)
def for_you(request: Request, span: Literal["today", "week"] = "today", collection: int | None = Query(None, ge=1),
            p: int = Query(1, ge=1, le=1000), db: Session = Depends(get_db, scope="function")):
    user = current_user(request)
    if user is None:
        return _page(request, "for_you_signed_out.html", {})
    coll = _own_collection(db, user, collection)
    picks, win = _picks(request, db, user, span, coll, PAGE, (p - 1) * PAGE)
    papers = {x.id: x for x in q.papers_by_ids(db, picks.ids)}
    ordered = [papers[i] for i in picks.ids if i in papers]
    cards = build_cards(db, ordered, user)
    collections = db.execute(select(Collection.id, Collection.name).where(Collection.user_id == user.id)
                             .order_by(Collection.name)).all()
    pages = max(1, -(-picks.total // PAGE))
    starters = build_cards(db, _starters(request, db, picks.signals, win, coll), user)

    def url(**kw) -> str:  # the template's links: another span, another page
        return _for_you_url(coll, **{"span": span, **kw})

    pager = {"page": p, "pages": pages, "prev_url": url(p=p - 1) if p > 1 else None,
             "next_url": url(p=p + 1) if p < pages else None,
             # an old link or an edited address: past the picks there are, not out of picks
             "past_end": p > pages and picks.total > 0, "last_url": url(p=pages)}
    return _page(request, "for_you.html", {
        "cards": cards, "why": picks.why, "signals": picks.signals, "total": picks.total, "span": span,
        "spans": SPANS, "window": win, "collection": coll, "collections": collections, "pager": pager,
        "uses_vectors": picks.uses_vectors, "url": url, "starters": starters,
        "semantic_off": request.app.state.settings.embedder == "null",
        "feed": _feed_addresses(request, user.id, picks.signals.feed_on, picks.signals.feed_version),
    }, status=404 if pager["past_end"] else 200)


@router.get("/for-you/learned", response_class=HTMLResponse)
def learned(request: Request, seeded: int | None = Query(None, ge=1, le=2**62, description="A seeding's outcome "
                                                         "to show (the member's latest, after the seed form)"),
            user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    ctx = signals.overview(db, request.app.state.settings, user.id, _model(request))
    outcome = kept_outcome(db, user.id, wanted.SEEDS, seeded)
    return _page(request, "learned.html", {**ctx, "feed": _feed_urls(request, db, user.id),
                                           "seed_report": outcome.message if outcome else None})


def _done(request: Request, notice: str, back: str = "/for-you/learned", status: int = 200, **data):
    """JSON for a script; for a form, ``back`` (a path of this site) saying what was done
    (``?done=``, replacing one already there; its fragment kept)."""
    if wants_json(request):
        return JSONResponse({"notice": notice, **data}, status_code=status)
    target = urlsplit(local_or(back, "/for-you/learned"))
    query = urlencode([*((k, v) for k, v in parse_qsl(target.query) if k != "done"), ("done", notice)])
    return RedirectResponse(urlunsplit(("", "", target.path, query, target.fragment)), status_code=303)


# --- the private feed: the picks in a feed reader --------------------------------------

FEED_VERSIONS_KNOWN = 100  # a member's earlier feed addresses answered 410 Gone (older ones: 404)
FEED_GONE = ("No such feed. Its address was replaced or turned off; the member it belongs to "
             "finds the current one on their “What it learned” page (/for-you/learned).")


def _feed_urls(request: Request, db: Session, user_id: int) -> dict[str, str] | None:
    """The member's private feed addresses, while the feed is on."""
    return _feed_addresses(request, user_id, *signals.feed_state(db, user_id))


def _feed_addresses(request: Request, user_id: int, on: bool, version: int) -> dict[str, str] | None:
    if not on:
        return None
    settings = request.app.state.settings
    key = feedkeys.feed_key(settings.resolved_secret_key(), user_id, version)
    return {fmt: f"{settings.resolved_base_url}/feeds/for-you/{key}.{fmt}" for fmt in ("atom", "rss")}


def _feed_owner(request: Request, db: Session, key: str) -> User:
    """The member whose current feed address ``key`` is; 404 for anything else (a forged,
    replaced or turned-off address, a suspended or deleted member)."""
    user_id = feedkeys.member_of(key)
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or user.is_suspended:
        raise HTTPException(404, FEED_GONE)
    on, version = signals.feed_state(db, user.id)
    secret = request.app.state.settings.resolved_secret_key()
    if on and feedkeys.key_ok(secret, key, user.id, version):
        return user
    # An address this member had (replaced, or the feed turned off) is Gone, so that a
    # reader stops asking; anything else was never an address here.
    if any(feedkeys.key_ok(secret, key, user.id, v) for v in range(version, max(version - FEED_VERSIONS_KNOWN, -1), -1)):
        raise HTTPException(410, FEED_GONE)
    raise HTTPException(404, FEED_GONE)


@router.get("/feeds/for-you/{key}.{fmt}")
def private_feed(request: Request, key: str, fmt: Format, span: Literal["today", "week"] = "today",
                 collection: int | None = Query(None, ge=1), page: int = Depends(page_param),
                 db: Session = Depends(get_db, scope="function")):
    """A member's picks for a feed reader, each entry opening with its why line. The
    address is the secret (a reader sends no cookie): never cached or indexed."""
    user = _feed_owner(request, db, key)
    coll = _own_collection(db, user, collection)
    # One pick past the page: the "more" link opens the page's next pick on the site
    # (its pages hold 30, so the page holding it starts with papers this feed had).
    picks, _win = _picks(request, db, user, span, coll, ITEMS + 1, (page - 1) * ITEMS)
    papers = {x.id: x for x in q.papers_by_ids(db, picks.ids)}
    ordered = [papers[i] for i in picks.ids[:ITEMS] if i in papers]
    html = _for_you_url(coll, span)
    more = _for_you_url(coll, span, p=page * ITEMS // PAGE + 1)
    if len(picks.ids) > ITEMS and picks.ids[ITEMS] in papers:
        more = at_card(more, papers[picks.ids[ITEMS]].arxiv_id)
    paging = FeedPage(page, page * ITEMS < picks.total, picks.total, more)
    title = f"For you, {SPANS[span].lower()}" + (f", from “{coll.name}”" if coll else "")
    if picks.signals.paused:
        title += " (paused: nothing is picked until you resume it)"
    notes = {pid: f"Why: {w.text}" for pid, w in picks.why.items() if w.text}
    return render_feed(request, db, fmt, title, html, ordered, paging, notes=notes,
                       headers={"Cache-Control": "private, no-cache", "X-Robots-Tag": "noindex"})


@router.post("/for-you/feed")
def set_feed(request: Request, action: str = Form("on"), user: User = Depends(require_member),
             db: Session = Depends(get_db, scope="function")):
    """Turn the private feed on, give it a new address (the old one stops working), or off."""
    if action not in signals.FEED_ACTIONS:
        raise HTTPException(400, "Turn the feed on, give it a new address, or turn it off (action=on, new or off).")
    ratelimit.check(request, "write", str(user.id))
    signals.set_feed(db, user.id, action)
    db.commit()
    urls = _feed_urls(request, db, user.id) or {}
    return _done(request, f"feed_{action}", "/for-you/learned#feed", on=bool(urls),
                 atom=urls.get("atom"), rss=urls.get("rss"))


@router.post("/for-you/seeds", response_class=HTMLResponse)
@takes_uploads(references.UPLOAD_BYTES, references.TOO_LARGE)
async def add_seeds(request: Request, ids: str = Form(""), bibtex: UploadFile | None = File(None),
                    next_: str = Form("", alias="next"), user: User = Depends(require_member),
                    db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    found = await papers_sent(request, db, ids, bibtex)
    fetch_missing, as_json = request.app.state.settings.fetch_wanted, wants_json(request)
    if not found.ids and not (fetch_missing and found.titles):
        if as_json:
            raise HTTPException(422, no_arxiv_id(found))
        ctx = signals.overview(db, request.app.state.settings, user.id, _model(request))
        return _page(request, "learned.html", {**ctx, "seed_error": no_arxiv_id(found), "seed_text": ids[:5000]}, status=422)

    def save() -> tuple[ImportReport, int | None]:
        added, unknown = signals.add_seeds(db, user.id, found.ids)
        queued = wanted.queue(db, user.id, wanted.SEEDS, wanted.not_stored(db, unknown)) \
            if fetch_missing else wanted.Queued()
        titles = wanted.queue_titles(db, user.id, wanted.SEEDS, found.titles) if fetch_missing else wanted.Queued()
        wanted.settle_titles(db, user.id, wanted.SEEDS, found.title_keys_found)
        report = ImportReport.of(found, added, [], queued, titles, titles_looked_up=fetch_missing)
        # A form's outcome is kept for the page it is sent to (post/redirect/get), in
        # the same transaction: reloading that page does not send the seeds again.
        kept = None if as_json or next_ == "back" else keep_outcome(db, user.id, wanted.SEEDS,
                                                                    report.message(INTO_SEEDS), report.not_here)
        db.commit()
        return report, kept

    # Off the event loop, as a collection's import: up to 2,000 seeds and titles.
    report, kept = await anyio.to_thread.run_sync(save)
    if as_json:
        return JSONResponse({**asdict(report), "message": report.message(INTO_SEEDS)})
    if next_ == "back":  # "Seed For you" under a search result: back at its card
        back = referring_page(request, "/for-you/learned")
        return RedirectResponse(back_at_card(back, found.ids[0]) if len(found.ids) == 1 else back, status_code=303)
    return RedirectResponse(f"/for-you/learned?seeded={kept}#seed-h", status_code=303)


@router.post("/for-you/seeds/clear-missing")
def clear_missing_seeds(request: Request, user: User = Depends(require_member),
                        db: Session = Depends(get_db, scope="function")):
    """Forget the seed papers arXiv did not know or that could not be fetched."""
    ratelimit.check(request, "write", str(user.id))
    wanted.clear_given_up(db, user.id, wanted.SEEDS)
    db.commit()
    return _done(request, "seeds_cleared", "/for-you/learned#seed-h")


def _paper_id(db: Session, arxiv_id: str) -> int:
    try:
        ident = parse_arxiv_id((arxiv_id or "").strip()[:300])[0]
    except BadRecord:
        raise HTTPException(404, f"Not an arXiv id: {arxiv_id[:80]!r}.") from None
    pid = db.scalar(select(Paper.id).where(Paper.arxiv_id == ident, visible()))
    if pid is None:
        raise HTTPException(404, no_paper_here(ident))
    return pid


@router.post("/papers/{arxiv_id:path}/not-interested")
def not_interested(request: Request, arxiv_id: str, action: str = Form("on"), next_: str = Form("", alias="next"),
                   user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    pid = _paper_id(db, arxiv_id)
    on = action != "off"
    signals.set_not_interested(db, user.id, pid, on)
    db.commit()
    notice = "dismissed" if on else "undismissed"
    if next_ or wants_json(request):
        return _done(request, notice, next_ or "/for-you", arxiv_id=arxiv_id, not_interested=on)
    # A card's button (no JavaScript) returns to the page it was on: For you says what
    # happened (the paper is gone from the picks); any other page scrolls back to the card.
    back = referring_page(request, "/for-you")
    if urlsplit(back).path == "/for-you":
        return _done(request, notice, back)
    return RedirectResponse(back_at_card(back, arxiv_id), status_code=303)


@router.post("/for-you/signals/remove")
def remove_signal(request: Request, arxiv_id: str = Form(""), next_: str = Form("", alias="next"),
                  user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    """Stop learning from one paper: a seed or "not interested" is removed; a vote or a
    save stays as it is and is marked ignored."""
    ratelimit.check(request, "write", str(user.id))
    pid = _paper_id(db, arxiv_id)
    what = signals.forget(db, user.id, pid)
    db.commit()
    return _done(request, "forgotten", next_ or "/for-you/learned", arxiv_id=arxiv_id, was=what)


@router.post("/for-you/pause")
def pause(request: Request, action: str = Form("pause"), back: str = Form("/for-you/learned", max_length=2000),
          user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    """Pause or resume the feed; a form comes back to ``back`` (For you's own Resume
    button returns to the picks, not to What it learned)."""
    paused = action != "resume"
    signals.set_paused(db, user.id, paused)
    db.commit()
    return _done(request, "paused" if paused else "resumed", back=back, paused=paused)


@router.post("/for-you/reset")
def reset(request: Request, user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    signals.reset(db, user.id)
    db.commit()
    return _done(request, "reset", reset=True)


# --- JSON ---------------------------------------------------------------------------

class WhyOut(BaseModel):
    text: str = Field(description="The reason in one line, as the page shows it")
    followed_author: str | None = None
    nearest_liked_paper: str | None = Field(None, description="arXiv id of the liked paper it is nearest to")
    nearest_liked_title: str | None = None
    similarity: float | None = Field(None, description="Cosine similarity to that liked paper (null when there is none)")
    words: list[str] = Field(default_factory=list, description="Shared words that weighed most, as the paper writes them")
    followed_category: str | None = None


class PickOut(BaseModel):
    paper: PaperOut
    score: float
    why: WhyOut


class ForYouOut(BaseModel):
    span: Literal["today", "week"]
    start: dt.date | None
    end: dt.date | None
    total: int = Field(description="Papers ranked (the window's papers not already voted, saved or dismissed)")
    paused: bool
    learning_from: int = Field(description="Liked papers (votes, saves, seeds) the feed learns from")
    items: list[PickOut]
    starters: list[PaperOut] = Field(
        default_factory=list,
        description="While the feed has nothing to learn from (no votes, saves, seeds or follows): one paper from "
                    "each of the window's largest topics, largest first; voting for or saving one starts the feed")


class SignalOut(BaseModel):
    arxiv_id: str
    title: str
    kind: Literal["vote", "save", "seed", "not_interested", "ignored"] = Field(
        description="What the signal is: liked by a vote, a save or a seed; marked not interested; or ignored "
                    "(a vote or save the feed was told not to learn from)")
    at: dt.datetime | None


class SignalsOut(BaseModel):
    paused: bool
    reset_at: dt.datetime | None
    liked: list[SignalOut]
    not_interested: list[SignalOut]
    ignored: list[SignalOut]
    followed_authors: list[str]
    followed_categories: list[str]
    learned_words: list[str]
    seeds_being_fetched: list[str] = Field(description="Seeds this instance did not have, being fetched from arXiv")
    seeds_not_fetched: list[str] = Field(description="Seeds arXiv did not know or that could not be fetched "
                                                     "(POST /for-you/seeds/clear-missing forgets them)")
    seed_titles_being_looked_up: list[str] = Field(
        default_factory=list, description="Titles of seeded BibTeX entries without an arXiv id, being looked up on arXiv")
    seed_titles_not_found: list[str] = Field(
        default_factory=list, description="Such titles arXiv has no paper for, or that could not be looked up "
                                          "(POST /for-you/seeds/clear-missing forgets them)")


@api_router.get("/for-you", response_model=ForYouOut, responses={**SIGNED_IN, **ERRORS},
                summary="The signed-in member's picks, each with why")
def api_for_you(request: Request, span: Literal["today", "week"] = "today", collection: int | None = Query(None, ge=1),
                limit: int = Query(30, ge=1, le=100),
                p: int | None = Query(None, ge=0, le=1000, description="Page, from 0, as every list pages (Link "
                                                                         "headers point to the next and the last)"),
                offset: int = Query(0, ge=0, le=10_000, description="Picks to skip (instead of p)"),
                user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    if p is not None:
        if offset:
            raise HTTPException(422, "Give p or offset, not both.")
        offset = p * limit
    coll = _own_collection(db, user, collection)
    picks, win = _picks(request, db, user, span, coll, limit, offset)
    papers = {x.id: x for x in q.papers_by_ids(db, picks.ids)}
    ordered = [papers[i] for i in picks.ids if i in papers]
    authors, names = q.author_names(db, ordered), submitters(db, ordered)
    items = []
    for pid, score in zip(picks.ids, picks.scores, strict=True):
        if pid not in papers:
            continue
        w = picks.why[pid]
        items.append(PickOut(paper=paper_out(papers[pid], authors[pid], names.get(papers[pid].submitted_by_id)),
                             score=round(score, 4),
                             why=WhyOut(text=w.text, followed_author=w.author, nearest_liked_paper=w.liked_arxiv or None,
                                        nearest_liked_title=w.liked_title or None, similarity=round(w.similarity, 3) if w.liked_arxiv else None,
                                        words=list(w.words), followed_category=w.category)))
    begin = _starters(request, db, picks.signals, win, coll)
    begin_authors, begin_names = q.author_names(db, begin), submitters(db, begin)
    out = ForYouOut(span=span, start=win.start if win else None, end=win.end if win else None, total=picks.total,
                    paused=picks.signals.paused, learning_from=len(picks.signals.liked), items=items,
                    starters=[paper_out(x, begin_authors[x.id], begin_names.get(x.submitted_by_id)) for x in begin])
    if p is None:
        return out
    return json_response(out, request=request, page=p, total=picks.total, limit=limit)


@api_router.get("/for-you/signals", response_model=SignalsOut, responses=SIGNED_IN,
                summary="What the member's feed learns from")
def api_signals(request: Request, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    o = signals.overview(db, request.app.state.settings, user.id, _model(request))

    def rows(items):
        return [SignalOut(arxiv_id=r.arxiv_id, title=r.title, kind=r.kind, at=r.at) for r in items]

    return SignalsOut(paused=o["signals"].paused, reset_at=o["signals"].reset_at, liked=rows(o["liked"]),
                      not_interested=rows(o["dismissed"]), ignored=rows(o["ignored"]),
                      followed_authors=sorted(o["signals"].authors.values()),
                      followed_categories=sorted(o["signals"].categories), learned_words=o["words"],
                      seeds_being_fetched=o["waiting"].fetching,
                      seeds_not_fetched=o["waiting"].given_up,
                      seed_titles_being_looked_up=o["waiting"].matching,
                      seed_titles_not_found=[t for t, _why in o["waiting"].unmatched])


class FeedOut(BaseModel):
    on: bool = Field(description="Whether the member's private feed is on")
    atom: str | None = Field(None, description="Its Atom address (a secret: anyone with it can read the picks)")
    rss: str | None = Field(None, description="Its RSS 2.0 address")


@api_router.get("/for-you/feed", response_model=FeedOut, responses=SIGNED_IN,
                summary="The member's private feed addresses, for a feed reader")
def api_feed(request: Request, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    urls = _feed_urls(request, db, user.id) or {}
    return FeedOut(on=bool(urls), atom=urls.get("atom"), rss=urls.get("rss"))


class FeedChange(BaseModel):
    action: Literal["on", "new", "off"] = Field(
        description="on: turn it on (the same address if it was on); new: a new address, the old one stops "
                    "working at once (a leaked address); off: no address works")


@api_router.post("/for-you/feed", response_model=FeedOut,
                 responses={**SIGNED_IN, 403: {"model": ErrorOut, "description": "Suspended, a read-only token, "
                                                                                  "or a cross-site request"}},
                 summary="Turn the member's private feed on, give it a new address, or turn it off")
def api_set_feed(request: Request, change: FeedChange, user: User = Depends(require_member),
                 db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    signals.set_feed(db, user.id, change.action)
    db.commit()
    urls = _feed_urls(request, db, user.id) or {}
    return FeedOut(on=bool(urls), atom=urls.get("atom"), rss=urls.get("rss"))


class NotInterestedOut(BaseModel):
    arxiv_id: str
    not_interested: bool


@api_router.post("/for-you/not-interested/{arxiv_id:path}", response_model=NotInterestedOut,
                 responses={**SIGNED_IN, 403: {"model": ErrorOut, "description": "Suspended, or a cross-site request"},
                            404: ERRORS[404]},
                 summary="Mark a paper not interesting (or undo)")
def api_not_interested(request: Request, arxiv_id: str, undo: bool = False, user: User = Depends(require_member),
                       db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    arxiv_id = canonical_or_same(arxiv_id)
    signals.set_not_interested(db, user.id, _paper_id(db, arxiv_id), not undo)
    db.commit()
    return NotInterestedOut(arxiv_id=arxiv_id, not_interested=not undo)
