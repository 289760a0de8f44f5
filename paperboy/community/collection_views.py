"""Collections (named reading lists, public or private, BibTeX export) and follows
(what a follow matches is decided in ``follows.py``)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import asdict, dataclass
from urllib.parse import quote, urlencode

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from sqlalchemy import delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community import follows
from paperboy.community.accounts import one_line
from paperboy.community.notices import with_notice
from paperboy.ingest import wanted
from paperboy.papers import queries as q
from paperboy.papers import references
from paperboy.papers.ids import BadRecord, is_arxiv_id, no_paper_here, parse_arxiv_id
from paperboy.papers.visibility import visible
from paperboy.store.models import Collection, CollectionItem, Paper, User, utcnow
from paperboy.web import (
    convertors,  # noqa: F401  (registers {x:id})
    ratelimit,
)
from paperboy.web.bibtex import bibtex_entries
from paperboy.web.cards import build_cards
from paperboy.web.deps import get_db, read_engine
from paperboy.web.navigation import back_at_card, referring_page, safe_next
from paperboy.web.security import (
    AuthError,
    current_user,
    require_member,
    require_user,
    takes_uploads,
    wants_json,
)
from paperboy.web.uploads import (
    ImportReport,
    Into,
    forget_outcomes,
    keep_outcome,
    kept_outcome,
    no_arxiv_id,
    papers_sent,
)

router = APIRouter()  # row ids in paths use {x:id} (paperboy.web.convertors)
PAGE = 30


def collection_name(name: str) -> str:
    name = one_line(name)
    if not name:
        raise HTTPException(400, "A collection needs a name.")
    return name


def _page(request: Request, name: str, ctx: dict, status: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, f"community/{name}", ctx, status_code=status)


def visible_collection(db: Session, cid: int, request: Request) -> Collection:
    coll = db.get(Collection, cid)
    user = current_user(request)
    if coll is None or (not coll.is_public and (user is None or user.id != coll.user_id)):
        raise HTTPException(404, "No such collection (or it is private).")
    return coll


def own_collection(db: Session, cid: int, user: User) -> Collection:
    coll = db.get(Collection, cid)
    # Someone else's private collection answers exactly as a missing one: the answer
    # must not tell whether the id exists.
    if coll is None or (coll.user_id != user.id and not coll.is_public):
        raise HTTPException(404, "No such collection (or it is private).")
    if coll.user_id != user.id:
        raise AuthError(403, "You can only change your own collections.")
    return coll


def paper_row(db: Session, arxiv_id: str) -> tuple[int, str]:
    """The stored paper that ``arxiv_id`` (an id, a versioned id, a link) names: its row id
    and its own arXiv id (what its card is named by); 404 if there is none."""
    arxiv_id = (arxiv_id or "").strip()[:300]
    try:
        arxiv_id = parse_arxiv_id(arxiv_id)[0]
    except BadRecord:
        pass
    pid = db.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
    if pid is None:
        raise HTTPException(404, no_paper_here(arxiv_id))
    return pid, arxiv_id


def paper_row_id(db: Session, arxiv_id: str) -> int:
    return paper_row(db, arxiv_id)[0]


def _done(request: Request, fallback: str, notice: str = "", in_: int | None = None, card: str = "", **data):
    """JSON for a script; for a form, back to the page it was sent from, with the notice,
    at the ``card`` saved or unsaved (on a long day's feed the member keeps their place)."""
    if wants_json(request):
        return JSONResponse(data)
    url = referring_page(request, fallback)
    if notice:
        url = with_notice(url, notice, **({"in": str(in_)} if in_ is not None else {}))
    return RedirectResponse(back_at_card(url, card) if card else url, status_code=303)


# --- searching a member's saved papers --------------------------------------------------

@dataclass
class Found:
    """One page of a search in saved papers: cards best first, and how many matched."""
    query: str
    cards: list
    total: int
    related: int  # of total, found by meaning only
    messages: list[str]
    error: str | None


def saved_ids(db: Session, *, collection_id: int | None = None, user_id: int | None = None) -> list[int]:
    """The visible papers of a collection, or of all of a member's collections (their
    library), latest saved first: what the pages list, in their order."""
    latest = func.max(CollectionItem.added_at)
    stmt = (select(CollectionItem.paper_id).join(Paper, Paper.id == CollectionItem.paper_id).where(visible())
            .group_by(CollectionItem.paper_id).order_by(latest.desc(), CollectionItem.paper_id))
    if collection_id is not None:
        stmt = stmt.where(CollectionItem.collection_id == collection_id)
    else:
        stmt = stmt.join(Collection, Collection.id == CollectionItem.collection_id).where(Collection.user_id == user_id)
    return list(db.scalars(stmt))


def search_saved(request: Request, db: Session, text: str, ids: list[int]):
    """``ids`` ranked for the query (``SearchService.within``). The session's connection
    goes back to the pool first (the search may read on its own)."""
    db.commit()
    return request.app.state.search.within(text, ids, reader=read_engine(request))


def _found(request: Request, db: Session, text: str, ids: list[int], p: int) -> Found:
    result = search_saved(request, db, text, ids)
    papers = q.papers_by_ids(db, result.ids[(p - 1) * PAGE:p * PAGE])
    return Found(text, build_cards(db, papers, current_user(request)), len(result.ids), result.related,
                 result.messages, result.error)


def _pager(path: str, p: int, total: int, **params) -> dict:
    pages = max(1, -(-total // PAGE))

    def url(n: int) -> str:
        return f"{path}?{urlencode({**{k: v for k, v in params.items() if v}, 'p': n})}"

    return {"page": p, "pages": pages, "prev_url": url(p - 1) if p > 1 else None,
            "next_url": url(p + 1) if p < pages else None}


@router.get("/collections", response_class=HTMLResponse)
def my_collections(request: Request, q_: str = Query("", alias="q", max_length=20_000),
                   p: int = Query(1, ge=1, le=10_000), user: User = Depends(require_user),
                   db: Session = Depends(get_db, scope="function")):
    rows = db.execute(
        select(Collection, func.count(CollectionItem.paper_id))
        .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
        .where(Collection.user_id == user.id).group_by(Collection.id).order_by(Collection.name)
    ).all()
    found = pager = None
    if q_.strip():
        found = _found(request, db, q_.strip(), saved_ids(db, user_id=user.id), p)
        pager = _pager("/collections", p, found.total, q=q_.strip())
    return _page(request, "collections.html", {"rows": rows, "found": found, "pager": pager})


@router.post("/collections")
def create_collection(request: Request, name: str = Form(""), public: str = Form(""), arxiv_id: str = Form(""),
                      user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    coll, created = collection_named(db, user.id, collection_name(name), bool(public))
    if arxiv_id:
        add_paper(db, coll, paper_row_id(db, arxiv_id))
    db.commit()
    if arxiv_id:
        return _done(request, f"/collections/{coll.id}", "saved", coll.id, card=arxiv_id, id=coll.id, name=coll.name,
                     saved=True)
    if wants_json(request):
        return JSONResponse({"id": coll.id})
    if not created:  # a name they already use: that collection, said so, not a silent second look
        return RedirectResponse(with_notice(f"/collections/{coll.id}", "existing", **{"in": str(coll.id)}),
                                status_code=303)
    return RedirectResponse(f"/collections/{coll.id}", status_code=303)


def same_name(name: str):
    """A collection named ``name`` in any case ("Speech" and "speech" are one name to a
    member: two of them read as one in every save menu). SQLite's lower() folds ASCII
    only, so the exact spelling is asked for too."""
    return or_(Collection.name == name, func.lower(Collection.name) == name.lower())


def collection_named(db: Session, user_id: int, name: str, public: bool) -> tuple[Collection, bool]:
    """The member's collection of that name, made (public or not) if they have none;
    and whether it was made now. Names are unique per member, so a concurrent twin of
    this request ends with the same one collection."""
    mine = select(Collection).where(Collection.user_id == user_id, same_name(name)).order_by(
        (Collection.name != name), Collection.id).limit(1)  # the exact spelling first
    coll = db.scalar(mine)
    if coll is not None:
        return coll, False
    try:
        with db.begin_nested():
            coll = Collection(user_id=user_id, name=name, is_public=public)
            db.add(coll)
        return coll, True
    except IntegrityError:  # the same name made concurrently: that one
        return db.scalar(mine), False


def add_paper(db: Session, coll: Collection, paper_id: int) -> None:
    present = db.scalar(select(exists().where(CollectionItem.collection_id == coll.id, CollectionItem.paper_id == paper_id)))
    if not present:
        try:
            with db.begin_nested():
                db.execute(insert(CollectionItem).values(collection_id=coll.id, paper_id=paper_id, added_at=utcnow()))
        except IntegrityError:
            pass  # added concurrently: same end state
    db.execute(update(Collection).where(Collection.id == coll.id).values(updated_at=utcnow()))


def add_papers(db: Session, coll: Collection, paper_ids: list[int]) -> list[int]:
    """Save many papers at once (an import); those not in it already, which it returns.
    One insert for all of them; if a twin request saved some meanwhile, one at a time."""
    present = set(db.scalars(select(CollectionItem.paper_id).where(CollectionItem.collection_id == coll.id,
                                                                   CollectionItem.paper_id.in_(paper_ids))))
    new = [i for i in dict.fromkeys(paper_ids) if i not in present]
    if new:
        # A microsecond apart, the first given newest: the page (newest first) lists an
        # imported file in its own order, where one shared time left it to the database.
        now = utcnow()
        try:
            with db.begin_nested():
                db.execute(insert(CollectionItem), [
                    {"collection_id": coll.id, "paper_id": i, "added_at": now - dt.timedelta(microseconds=k)}
                    for k, i in enumerate(new)])
        except IntegrityError:
            for i in new:
                add_paper(db, coll, i)
    db.execute(update(Collection).where(Collection.id == coll.id).values(updated_at=utcnow()))
    return new


def remove_paper(db: Session, coll: Collection, paper_id: int) -> None:
    db.execute(delete(CollectionItem).where(CollectionItem.collection_id == coll.id, CollectionItem.paper_id == paper_id))
    db.execute(update(Collection).where(Collection.id == coll.id).values(updated_at=utcnow()))


@router.get("/collections/{cid:id}", response_class=HTMLResponse)
def view_collection(request: Request, cid: int, p: int = Query(1, ge=1, le=10_000),
                    q_: str = Query("", alias="q", max_length=20_000),
                    imported: int | None = Query(None, ge=1, le=2**62, description="An import's outcome to show "
                                                 "(the owner's latest, after the import form)"),
                    db: Session = Depends(get_db, scope="function")):
    coll = visible_collection(db, cid, request)
    me = current_user(request)
    outcome = kept_outcome(db, me.id, coll.id, imported) if me and me.id == coll.user_id else None
    return _collection_page(request, db, coll, p, q_.strip(), import_outcome=outcome)


def _collection_page(request: Request, db: Session, coll: Collection, p: int = 1, text: str = "",
                     status: int = 200, **extra) -> HTMLResponse:
    owner, me = db.get(User, coll.user_id), current_user(request)
    base = (q.papers_query().join(CollectionItem, CollectionItem.paper_id == Paper.id)
            .where(CollectionItem.collection_id == coll.id, visible()))
    total = db.scalar(select(func.count()).select_from(base.subquery()))
    found = None
    if text:
        found = _found(request, db, text, saved_ids(db, collection_id=coll.id), p)
        cards, pager = found.cards, _pager(f"/collections/{coll.id}", p, found.total, q=text)
    else:
        papers = list(db.scalars(base.order_by(CollectionItem.added_at.desc(), Paper.id).limit(PAGE).offset((p - 1) * PAGE)))
        cards, pager = build_cards(db, papers, me), _pager(f"/collections/{coll.id}", p, total)
    waiting = wanted.waiting(db, me.id, coll.id) if me and me.id == coll.user_id else None
    return _page(request, "collection.html", {"coll": coll, "owner": owner, "cards": cards, "total": total,
                                              "pager": pager, "found": found, "waiting": waiting, **extra},
                 status=status)


@router.post("/collections/{cid:id}/wanted/clear")
def clear_wanted(request: Request, cid: int, user: User = Depends(require_member),
                 db: Session = Depends(get_db, scope="function")):
    """Forget the imported papers arXiv did not know or that could not be fetched."""
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    wanted.clear_given_up(db, user.id, coll.id)
    db.commit()
    return _done(request, f"/collections/{cid}", "wanted_cleared", cid)


@router.post("/collections/{cid:id}/import", response_class=HTMLResponse)
@takes_uploads(references.UPLOAD_BYTES, references.TOO_LARGE)
async def import_papers(request: Request, cid: int, ids: str = Form(""), bibtex: UploadFile | None = File(None),
                        user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    """Save the papers a member pastes (arXiv ids or links) or uploads (a BibTeX file, e.g.
    a Zotero export) into their collection: those this instance has at once, those it has
    not once a worker has fetched them (``import_found``), and BibTeX entries without an
    arXiv id once a worker has found their titles on arXiv; the page says which are being
    fetched or looked up, and what was left out. Doing it twice adds nothing."""
    ratelimit.check(request, "write", str(user.id))  # commits on its own, before this request's reads
    coll = own_collection(db, cid, user)
    found = await papers_sent(request, db, ids, bibtex)
    fetch_missing, as_json = request.app.state.settings.fetch_wanted, wants_json(request)
    if not found.ids and not (fetch_missing and found.titles):
        if as_json:
            raise HTTPException(422, no_arxiv_id(found))
        return _collection_page(request, db, coll, status=422, import_error=no_arxiv_id(found), import_text=ids[:5000])

    def save() -> tuple[ImportReport, int | None]:
        report = import_found(db, coll, found, fetch_missing)
        # A form's outcome is kept, in the same transaction, for the page it is sent to
        # (post/redirect/get): reloading that page does not send the import again.
        kept = None if as_json else keep_outcome(db, user.id, coll.id, report.message(Into.collection(coll.name)),
                                                 report.not_here)
        db.commit()
        return report, kept

    # Off the event loop: 2,000 papers and titles take a few tenths of a second to save
    # and queue, which every other request of this process would wait for.
    report, kept = await anyio.to_thread.run_sync(save)
    if as_json:
        return JSONResponse({**asdict(report), "message": report.message(Into.collection(coll.name))})
    return RedirectResponse(f"/collections/{coll.id}?imported={kept}#import-report", status_code=303)


def import_found(db: Session, coll: Collection, found: references.Found, fetch_missing: bool = True) -> ImportReport:
    """Save the papers ``found`` names that this instance has (and shows) into ``coll``;
    with ``fetch_missing``, queue those it has not stored at all to be fetched from arXiv
    by a worker and saved into ``coll`` when they arrive (``ingest.wanted``)."""
    stored = {a: (pid, shown) for a, pid, shown in db.execute(
        select(Paper.arxiv_id, Paper.id, visible()).where(Paper.arxiv_id.in_(found.ids))).all()} if found.ids else {}
    here = {a: pid for a, (pid, shown) in stored.items() if shown}
    added = set(add_papers(db, coll, [here[a] for a in found.ids if a in here]))
    queued = wanted.queue(db, coll.user_id, coll.id, [a for a in found.ids if a not in stored]) \
        if fetch_missing else wanted.Queued()
    titles = wanted.queue_titles(db, coll.user_id, coll.id, found.titles) if fetch_missing else wanted.Queued()
    wanted.settle_titles(db, coll.user_id, coll.id, found.title_keys_found)
    return ImportReport.of(found, added=[a for a in found.ids if here.get(a) in added],
                           already=[a for a in found.ids if a in here and here[a] not in added],
                           queued=queued, titles=titles, titles_looked_up=fetch_missing)


@router.post("/collections/{cid:id}/add")
def add_to_collection(request: Request, cid: int, arxiv_id: str = Form(""), user: User = Depends(require_member),
                      db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    try:
        pid, card = paper_row(db, arxiv_id)
    except HTTPException:
        # A valid arXiv id this instance lacks (the collection page's "Add a paper by
        # arXiv id"): fetched from arXiv by a worker and saved here, as an import's are.
        missing = fetchable_id(request, arxiv_id)
        if missing is None:
            if wants_json(request):
                raise
            # The form's page again, saying why, rather than a page of its own to come back from.
            return _done(request, f"/collections/{cid}", "not_here" if is_arxiv_id(arxiv_id.strip()) else "not_an_id")
        wanted.queue(db, user.id, coll.id, [missing])
        db.commit()
        return _done(request, f"/collections/{cid}", "wanted_queued", cid, arxiv_id=missing, saved=False, fetching=True)
    add_paper(db, coll, pid)
    # The card is found by the paper's own id, not by what was typed (a link, a version).
    return _done(request, f"/collections/{cid}", "saved", cid, card=card, id=cid, name=coll.name, saved=True)


def fetchable_id(request: Request, text: str) -> str | None:
    """The arXiv id ``text`` names when this instance fetches papers it lacks, else None."""
    if not request.app.state.settings.fetch_wanted:
        return None
    try:
        return parse_arxiv_id((text or "").strip()[:300])[0]
    except BadRecord:
        return None


@router.post("/collections/{cid:id}/remove")
def remove_from_collection(request: Request, cid: int, arxiv_id: str = Form(""), user: User = Depends(require_member),
                           db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    pid, card = paper_row(db, arxiv_id)
    remove_paper(db, coll, pid)
    return _done(request, f"/collections/{cid}", "unsaved", cid, card=card, id=cid, name=coll.name, saved=False)


@router.post("/collections/{cid:id}/edit")
def edit_collection(request: Request, cid: int, name: str = Form(""), public: str = Form(""),
                    user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    coll = own_collection(db, cid, user)
    try:
        change_collection(db, user, coll, collection_name(name), bool(public))
    except HTTPException as exc:
        if exc.status_code != 409 or wants_json(request):
            raise
        # The collection's page, its settings open with the name as typed and why it was refused.
        db.rollback()
        return _collection_page(request, db, own_collection(db, cid, user), status=409, edit_error=exc.detail,
                                edit_name=name[:100], edit_public=bool(public))
    return RedirectResponse(with_notice(f"/collections/{cid}", "public" if public else "private"), status_code=303)


def change_collection(db: Session, user: User, coll: Collection, name: str, public: bool) -> None:
    """Rename a member's collection and set who sees it; 409 for a name another of
    theirs has (names are unique per member)."""
    clash = db.scalar(select(Collection.id).where(Collection.user_id == user.id, same_name(name),
                                                  Collection.id != coll.id).limit(1))
    if clash is not None:
        raise HTTPException(409, "You already have a collection with that name.")
    try:
        with db.begin_nested():
            db.execute(update(Collection).where(Collection.id == coll.id)
                       .values(name=name, is_public=public, updated_at=utcnow()))
    except IntegrityError:  # the same name taken concurrently by another of theirs
        raise HTTPException(409, "You already have a collection with that name.") from None


@router.post("/collections/{cid:id}/delete")
def delete_collection(request: Request, cid: int, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    remove_collection(db, user, own_collection(db, cid, user))
    return RedirectResponse(with_notice("/collections", "collection_deleted"), status_code=303)


def remove_collection(db: Session, user: User, coll: Collection) -> None:
    """Delete a member's collection, its saves and the papers it was waiting for."""
    # Statements, not ORM deletes: a concurrent delete of the same collection leaves
    # nothing to match, which is the same end state, not an error.
    db.execute(delete(CollectionItem).where(CollectionItem.collection_id == coll.id))
    wanted.forget_target(db, user.id, coll.id)
    forget_outcomes(db, user.id, coll.id)
    db.execute(delete(Collection).where(Collection.id == coll.id))


def _bibkey(arxiv_id: str) -> str:
    return "arxiv_" + re.sub(r"[^0-9A-Za-z]", "_", arxiv_id)


@router.get("/collections/{cid:id}/export.bib")
def export_bibtex(request: Request, cid: int, q_: str = Query("", alias="q", max_length=20_000),
                  db: Session = Depends(get_db, scope="function")):
    """A collection as BibTeX, the first saved first; with ``q``, the papers matching it, best first."""
    coll = visible_collection(db, cid, request)
    return _bibtex_file(request, db, saved_ids(db, collection_id=coll.id), q_.strip(), coll.name,
                        f"collection-{cid}")


@router.get("/collections/export.bib")
def export_library(request: Request, q_: str = Query("", alias="q", max_length=20_000),
                   user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    """Every paper the member saved, in any collection, as BibTeX (each once); with ``q``,
    those matching it: the references for the paper they are writing."""
    return _bibtex_file(request, db, saved_ids(db, user_id=user.id), q_.strip(), "saved-papers", "saved-papers")


def download_as(name: str, fallback: str, suffix: str) -> str:
    """A Content-Disposition naming the file after ``name``: the name as written for
    browsers that read RFC 6266's ``filename*`` ("Lectures été 2026.bib"), and an ASCII
    one, accents folded ("Lectures-ete-2026.bib"), for those that do not."""
    written = re.sub(r"[\\/:]+", "-", re.sub(r'[*?"<>|\x00-\x1f]+', "", name))  # no path, nothing a shell minds
    written = " ".join(written.split()).strip(" .-") or fallback
    folded = unicodedata.normalize("NFKD", written).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^0-9A-Za-z_]+", "-", folded).strip("-") or fallback
    return f"attachment; filename=\"{plain}{suffix}\"; filename*=UTF-8''{quote(written + suffix, safe='')}"


def _bibtex_file(request: Request, db: Session, ids: list[int], text: str, name: str,
                 fallback: str) -> PlainTextResponse:
    if text:
        found = search_saved(request, db, text, ids)
        if found.error:
            raise HTTPException(422, " ".join(found.messages) or found.error)
        ids = found.ids
    else:
        ids = ids[::-1]  # saved_ids lists the latest first; a file reads best oldest first
    papers = q.papers_by_ids(db, ids)
    cards = build_cards(db, papers)
    entries = bibtex_entries(zip(cards, papers, strict=True))
    return PlainTextResponse("\n\n".join(entries) + ("\n" if entries else ""), media_type="application/x-bibtex; charset=utf-8",
                             headers={"Content-Disposition": download_as(name, fallback, ".bib")})


# --- follows ---------------------------------------------------------------------


def _back_to(request: Request, next_: str, fallback: str) -> str:
    """Where a form sent without JavaScript returns: its ``next`` field, else the referring page."""
    return safe_next(next_) if next_ else referring_page(request, fallback)


@router.post("/follows")
def follow(request: Request, kind: str = Form(""), target: str = Form(""), action: str = Form("follow"),
           next_: str = Form("", alias="next"), either: str = Form(""), user: User = Depends(require_member),
           db: Session = Depends(get_db, scope="function")):
    if kind not in follows.KINDS:
        raise HTTPException(400, "You can follow an author or a category.")
    if not " ".join((target or "").split()):
        raise HTTPException(400, "Follow whom? Give an author's name or a category such as cs.LG.")
    ratelimit.check(request, "write", str(user.id))
    if action == "unfollow":
        name, following_now = follows.unfollow(db, user.id, kind, target), False
    else:
        try:
            # The typed form's one box takes either kind (``either``); buttons name theirs.
            if either:
                kind, name = follows.follow_either(db, user.id, kind, target)
            else:
                name = follows.follow(db, user.id, kind, target)
        except follows.NotFollowable as exc:
            if wants_json(request):
                raise HTTPException(422, str(exc)) from None
            return _following_page(request, db, user, 1, error=str(exc), typed=(kind, target[:300]), status=422)
        following_now = True
    if wants_json(request):
        return JSONResponse({"following": following_now, "target": name})
    url = _back_to(request, next_, "/following")
    return RedirectResponse(with_notice(url, "followed" if following_now else "unfollowed", who=name, kind=kind),
                            status_code=303)


@router.get("/following", response_class=HTMLResponse)
def following(request: Request, p: int = Query(1, ge=1, le=10_000), user: User = Depends(require_user),
              db: Session = Depends(get_db, scope="function")):
    return _following_page(request, db, user, p)


def _following_page(request: Request, db: Session, user: User, p: int, error: str = "",
                    typed: tuple[str, str] = ("category", ""), status: int = 200) -> HTMLResponse:

    mine = follows.followed(db, user.id)
    cards, total, exact = [], 0, True
    if mine:
        found = follows.followed_papers(db, mine, limit=PAGE, offset=(p - 1) * PAGE)
        cards, total, exact = build_cards(db, found.papers, user), found.total, found.exact
    # Each card says which follows brought it, as For you says why it picked a paper.
    why = {card.paper_id: follows.matched_follows(mine, card.authors, card.categories) for card in cards}
    pages = max(1, -(-total // PAGE))
    pager = {"page": p, "pages": f"{pages:,}" if exact else f"{pages:,}+",  # a lower bound: at least
             "prev_url": f"/following?p={p - 1}" if p > 1 else None,
             "next_url": f"/following?p={p + 1}" if p < pages or (not exact and len(cards) == PAGE) else None}
    return _page(request, "following.html", {
        "follows": mine, "cards": cards, "why": why, "total": total, "exact": exact, "pager": pager, "error": error,
        "typed_kind": typed[0], "typed_target": typed[1], "suggestions": follows.suggestions(db, user.id),
        "categories": q.top_categories(db, 60),
    }, status=status)
