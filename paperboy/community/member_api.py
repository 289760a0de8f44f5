"""The member's JSON API: who they are, their votes, collections, follows and the replies
to them, read and changed by their scripts with a personal API token (``web/apitokens.py``) or by a
signed-in browser.

Changes are idempotent, as scripts want them: ``PUT`` makes a vote, a saved paper or a
follow exist, ``DELETE`` makes it not exist, and either answers the state it left, so a
script that retries after a timeout does no harm. (The pages' forms toggle.) Comments are
read here but written only on the pages, on purpose: a discussion is written by people,
not programs.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictBool
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community import follows, replies
from paperboy.community.accounts import commenter_name
from paperboy.community.collection_views import (
    add_paper,
    change_collection,
    collection_name,
    collection_named,
    fetchable_id,
    import_found,
    own_collection,
    paper_row_id,
    remove_collection,
    remove_paper,
    saved_ids,
    search_saved,
    visible_collection,
)
from paperboy.community.paper_views import set_vote, write_vote
from paperboy.ingest import wanted
from paperboy.papers import queries as q
from paperboy.papers import references
from paperboy.papers.ids import canonical_or_same, no_paper_here
from paperboy.papers.visibility import visible
from paperboy.store.db import write_tx
from paperboy.store.models import Collection, CollectionItem, Paper, User, Vote, utcnow
from paperboy.web import ratelimit
from paperboy.web.convertors import MAX_ID  # noqa: F401  (importing it registers {x:id})
from paperboy.web.deps import get_db
from paperboy.web.paperjson import ERRORS, ErrorOut, PaperOut, json_response, paper_out, submitters
from paperboy.web.security import forget_member, request_token, require_member, require_user

api_router = APIRouter(prefix="/api", tags=["members"])

SIGNED_IN = {401: {"model": ErrorOut, "description": "Neither signed in nor sent a valid API token"}}
WRITES = {**SIGNED_IN,
          403: {"model": ErrorOut, "description": "Suspended, a read-only token, or a cross-site request"},
          404: ERRORS[404]}
MAX_LIMIT = 100


# --- who -----------------------------------------------------------------------------


class TokenOut(BaseModel):
    name: str
    write: bool = Field(description="Whether the token may change things (else read-only)")
    expires_at: dt.datetime | None = Field(description="When it stops working; null: never")


class MeOut(BaseModel):
    id: int
    name: str = Field(description="The display name, as shown beside comments")
    email: str
    admin: bool
    suspended: bool
    unread_replies: int = Field(description="Replies and new threads for the member since they last opened /replies")
    token: TokenOut | None = Field(description="The API token of this request; null for a browser session")


@api_router.get("/me", response_model=MeOut, responses=SIGNED_IN, summary="Who this request acts as")
def me(request: Request, user: User = Depends(require_user)):
    used = request_token(request)
    token = TokenOut(name=used.name, write=used.can_write, expires_at=used.expires_at) if used else None
    return MeOut(id=user.id, name=commenter_name(user.display_name, user.email, user.id), email=user.email,
                 admin=bool(user.is_admin), suspended=bool(user.is_suspended),
                 unread_replies=user.unread_replies or 0, token=token)


# --- replies -------------------------------------------------------------------------


class ReplyOut(BaseModel):
    id: int = Field(description="The comment's id")
    kind: Literal["reply", "thread"] = Field(
        description="reply: to one of the member's comments; thread: a new thread on a paper they submitted")
    arxiv_id: str
    title: str = Field(description="The paper's title")
    author: str = Field(description="Who wrote it, as shown beside comments")
    author_id: int | None = Field(description="Their member id (/members/{id}); null once their account is deleted")
    created_at: dt.datetime
    text: str = Field(description="What they wrote, as the Markdown they typed")
    html: str = Field(description="The same, rendered and sanitised as the site shows it")
    new: bool = Field(description="Written since the member last read their replies (counted in unread_replies)")
    url: str = Field(description="Where it is on the site")
    in_reply_to: int | None = Field(description="The id of the member's comment it answers; null for a new thread")
    answered: str = Field(description="The start of that comment, on one line (empty for a new thread)")


class RepliesReadOut(BaseModel):
    unread_replies: int = Field(description="What is still unread: 0, unless a reply came while marking")


@api_router.get("/me/replies", response_model=list[ReplyOut], responses=SIGNED_IN,
                summary="Replies to the member's comments and new threads on their submissions, newest first")
def my_replies(request: Request, p: int = Query(0, ge=0, le=100_000), limit: int = Query(30, ge=1, le=MAX_LIMIT),
               user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    """What /replies shows, for a script (a chat notifier, say). Reading them marks
    nothing: ``PUT /api/me/replies/read`` does, as opening /replies does."""
    items, total = replies.replies_to(db.connection(), user.id, limit=limit, offset=p * limit)
    since = user.replies_read_at
    base = request.app.state.settings.resolved_base_url
    out = [ReplyOut(id=r.comment_id, kind="reply" if r.is_reply else "thread", arxiv_id=r.arxiv_id,
                    title=" ".join(r.title.split()), author=r.author, author_id=r.author_id, created_at=r.created_at,
                    text=r.body, html=r.body_html, new=since is None or r.created_at > since,
                    url=f"{base}/papers/{r.arxiv_id}#comment-{r.comment_id}", in_reply_to=r.parent_id,
                    answered=r.answered) for r in items]
    return json_response(out, request=request, page=p, total=total, limit=limit)


@api_router.put("/me/replies/read", response_model=RepliesReadOut, responses=WRITES,
                summary="Mark the member's replies read (the badge goes), as opening /replies does")
def read_my_replies(request: Request, user: User = Depends(require_user),
                    db: Session = Depends(get_db, scope="function")):
    db.close()  # one pooled connection at a time; the write goes to the primary
    with write_tx(request.app.state.engine) as conn:
        replies.mark_replies_read(conn, user.id, utcnow())
        left = conn.scalar(select(User.unread_replies).where(User.id == user.id))
    forget_member(user.id)
    return RepliesReadOut(unread_replies=left or 0)


# --- votes ---------------------------------------------------------------------------


class VoteOut(BaseModel):
    arxiv_id: str
    voted: bool
    upvotes: int


class VotedOut(BaseModel):
    paper: PaperOut
    voted_at: dt.datetime


def _papers_out(db: Session, papers: list[Paper]) -> dict[int, PaperOut]:
    authors, names = q.author_names(db, papers), submitters(db, papers)
    return {p.id: paper_out(p, authors[p.id], names.get(p.submitted_by_id)) for p in papers}


@api_router.get("/me/votes", response_model=list[VotedOut], responses=SIGNED_IN,
                summary="The papers the member upvoted, newest vote first")
def my_votes(request: Request, p: int = Query(0, ge=0, le=100_000), limit: int = Query(30, ge=1, le=MAX_LIMIT),
             user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    rows = db.execute(q.papers_query().add_columns(Vote.created_at).join(Vote, Vote.paper_id == Paper.id)
                      .where(Vote.user_id == user.id, visible())
                      .order_by(Vote.created_at.desc(), Paper.id.desc()).limit(limit + 1).offset(p * limit)).all()
    more, rows = len(rows) > limit, rows[:limit]
    out = _papers_out(db, [r[0] for r in rows])
    return json_response([VotedOut(paper=out[paper.id], voted_at=at) for paper, at in rows],
                         request=request, has_next=more, page=p)


def _vote(request: Request, user: User, arxiv_id: str, up: bool) -> VoteOut:
    ratelimit.check(request, "vote", str(user.id))
    arxiv_id = canonical_or_same(arxiv_id)  # 2501.00001v2, arXiv:2501.00001: that paper
    result = write_vote(request.app.state.engine, lambda conn: set_vote(conn, user.id, arxiv_id, up))
    if result is None:
        raise HTTPException(404, no_paper_here(arxiv_id))
    upvotes, voted = result
    return VoteOut(arxiv_id=arxiv_id, voted=voted, upvotes=upvotes)


@api_router.put("/papers/{arxiv_id:path}/vote", response_model=VoteOut, responses=WRITES, summary="Upvote a paper")
def put_vote(request: Request, arxiv_id: str, user: User = Depends(require_member)):
    return _vote(request, user, arxiv_id, True)


@api_router.delete("/papers/{arxiv_id:path}/vote", response_model=VoteOut, responses=WRITES,
                   summary="Take back an upvote")
def delete_vote(request: Request, arxiv_id: str, user: User = Depends(require_member)):
    return _vote(request, user, arxiv_id, False)


# --- collections ---------------------------------------------------------------------


class CollectionOut(BaseModel):
    id: int
    name: str
    public: bool
    papers: int = Field(description="How many papers it holds")
    updated_at: dt.datetime
    url: str = Field(description="Its page")


class CollectionIn(BaseModel):
    name: str = Field(max_length=100, description="Unique among the member's collections")
    # Strict: "yes", "no" or "0" made a collection public or private by pydantic's guess.
    public: StrictBool = False


class CollectionChange(BaseModel):
    name: str | None = Field(None, max_length=100, description="A new name, unique among the member's collections")
    public: StrictBool | None = Field(None, description="Whether anyone may read it (true or false)")


class DeletedOut(BaseModel):
    id: int
    deleted: bool


class SavedPaperOut(BaseModel):
    paper: PaperOut
    added_at: dt.datetime


class CollectionPageOut(BaseModel):
    collection: CollectionOut
    owner: str
    items: list[SavedPaperOut]


class SavedOut(BaseModel):
    collection: int
    arxiv_id: str
    saved: bool
    fetching: bool = Field(False, description="Not on this instance yet: being fetched from arXiv by a worker and "
                                              "saved when it arrives (answered with 202)")


def _collection_out(request: Request, coll: Collection, count: int) -> CollectionOut:
    """A collection as the API gives it; its ``url`` absolute, as replies' are (a script
    hands it to a person or another service)."""
    base = request.app.state.settings.resolved_base_url
    return CollectionOut(id=coll.id, name=coll.name, public=coll.is_public, papers=count, updated_at=coll.updated_at,
                         url=f"{base}/collections/{coll.id}")


def _count(db: Session, cid: int) -> int:
    return db.scalar(select(func.count()).select_from(CollectionItem).join(Paper, Paper.id == CollectionItem.paper_id)
                     .where(CollectionItem.collection_id == cid, visible()))


@api_router.get("/collections", response_model=list[CollectionOut], responses=SIGNED_IN,
                summary="The member's collections, by name")
def my_collections(request: Request, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    rows = db.execute(select(Collection, func.count(Paper.id))
                      .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
                      .outerjoin(Paper, (Paper.id == CollectionItem.paper_id) & visible())
                      .where(Collection.user_id == user.id).group_by(Collection.id).order_by(Collection.name)).all()
    return [_collection_out(request, coll, n) for coll, n in rows]


@api_router.post("/collections", response_model=CollectionOut, status_code=201,
                 responses={**WRITES, 200: {"model": CollectionOut, "description": "It existed already: that one"}},
                 summary="Make a collection (or get the one of that name)")
def create_collection(request: Request, body: CollectionIn = Body(...), user: User = Depends(require_member),
                      db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    try:
        name = collection_name(body.name)
    except HTTPException as exc:
        raise HTTPException(422, exc.detail) from None
    coll, made = collection_named(db, user.id, name, body.public)
    out = _collection_out(request, coll, _count(db, coll.id))
    db.commit()
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if made else 200)


@api_router.patch("/collections/{cid:id}", response_model=CollectionOut,
                  responses={**WRITES, 409: {"model": ErrorOut, "description": "Another of the member's collections "
                                                                                "has that name"}},
                  summary="Rename one of the member's collections, or make it public or private")
def change_collection_api(request: Request, cid: int, body: CollectionChange = Body(...),
                          user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    """What is left out stays as it is."""
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    try:
        name = coll.name if body.name is None else collection_name(body.name)
    except HTTPException as exc:
        raise HTTPException(422, exc.detail) from None
    change_collection(db, user, coll, name, coll.is_public if body.public is None else body.public)
    db.commit()
    db.refresh(coll)
    return _collection_out(request, coll, _count(db, coll.id))


@api_router.delete("/collections/{cid:id}", response_model=DeletedOut, responses=WRITES,
                   summary="Delete one of the member's collections (its saves go with it; the papers stay)")
# require_user, as the page's Delete: a suspended member may still remove what they made.
def delete_collection_api(request: Request, cid: int, user: User = Depends(require_user),
                          db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    remove_collection(db, user, own_collection(db, cid, user))
    db.commit()
    return DeletedOut(id=cid, deleted=True)


@api_router.get("/collections/{cid:id}", response_model=CollectionPageOut, responses=ERRORS,
                summary="A collection's papers, latest saved first, or those matching q, best first "
                        "(anyone's public one; a private one to its member)")
def collection(request: Request, cid: int, p: int = Query(0, ge=0, le=100_000), limit: int = Query(30, ge=1, le=MAX_LIMIT),
               q_: str = Query("", alias="q", max_length=20_000,
                               description="Only the papers matching this search (the search box's language): every "
                                           "word in the title or abstract, or close in meaning"),
               db: Session = Depends(get_db, scope="function")):
    coll = visible_collection(db, cid, request)
    owner = db.get(User, coll.user_id)
    owner_name = commenter_name(owner.display_name, owner.email, owner.id) if owner else "deleted member"
    count = _count(db, cid)
    items = select(CollectionItem.paper_id, CollectionItem.added_at).where(CollectionItem.collection_id == cid)
    if q_.strip():
        result = search_saved(request, db, q_.strip(), saved_ids(db, collection_id=cid))
        ids = result.ids[p * limit:(p + 1) * limit]
        if result.error:
            raise HTTPException(422, " ".join(result.messages) or result.error)
        total = len(result.ids)
    else:
        ids = list(db.scalars(items.with_only_columns(CollectionItem.paper_id)
                              .join(Paper, Paper.id == CollectionItem.paper_id).where(visible())
                              .order_by(CollectionItem.added_at.desc(), Paper.id).limit(limit).offset(p * limit)))
        total = count
    added = dict(db.execute(items.where(CollectionItem.paper_id.in_(ids))).all()) if ids else {}
    papers = {x.id: x for x in q.papers_by_ids(db, ids)}
    out = _papers_out(db, list(papers.values()))
    page = CollectionPageOut(collection=_collection_out(request, coll, count), owner=owner_name,
                             items=[SavedPaperOut(paper=out[i], added_at=added[i]) for i in ids if i in papers])
    response = json_response(page, request=request, page=p, total=total, limit=limit)
    # Its member may make it private, rename it or change it at any moment, and none of
    # that is a change of a paper (what the page cache's version watches): never stored
    # in a shared cache, ours included, and asked again each time (an ETag makes that cheap).
    response.headers["Cache-Control"] = "private, no-cache"
    return response


class ImportIn(BaseModel):
    arxiv_ids: list[str] = Field(min_length=1, max_length=references.MAX_SEEDS,
                                 description="arXiv ids or links (arxiv.org/abs/…, arXiv:…), any version")


class ImportOut(BaseModel):
    added: list[str] = Field(description="Saved now")
    already: list[str] = Field(description="In the collection before")
    fetching: list[str] = Field(description="Not on this instance yet: being fetched from arXiv by a worker, "
                                            "saved into the collection when they arrive (within minutes)")
    not_here: list[str] = Field(description="Not among this instance's papers and not fetched: not saved")
    unreadable: list[str] = Field(description="Given strings that are no arXiv id")


@api_router.post("/collections/{cid:id}/papers", response_model=ImportOut, responses=WRITES,
                 summary="Save many papers at once (a reading list, a Zotero library's arXiv ids)")
def import_into_collection(request: Request, cid: int, body: ImportIn = Body(...), user: User = Depends(require_member),
                           db: Session = Depends(get_db, scope="function")):
    """Idempotent, as the other writes: sending the same ids again saves nothing more."""
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    given = [a.strip() for a in body.arxiv_ids]
    whole = [a for a in given if a and not any(c.isspace() for c in a)]  # one id per item, never split
    found = references.read_seeds("\n".join(whole))
    found.unreadable = [a[:80] for a in given if a not in whole] + found.unreadable
    report = import_found(db, coll, found, request.app.state.settings.fetch_wanted)
    db.commit()
    return ImportOut(added=report.added, already=report.already, fetching=report.fetching, not_here=report.not_here,
                     unreadable=report.unreadable)


def _save(request: Request, db: Session, user: User, cid: int, arxiv_id: str, saved: bool) -> SavedOut:
    ratelimit.check(request, "write", str(user.id))
    coll = own_collection(db, cid, user)
    arxiv_id = canonical_or_same(arxiv_id)  # answered with the paper's id, not the form sent
    try:
        pid = paper_row_id(db, arxiv_id)
    except HTTPException:
        if saved:
            missing = fetchable_id(request, arxiv_id)
            if missing is None:
                raise
            wanted.queue(db, user.id, coll.id, [missing])  # as an import's: fetched, then saved
            db.commit()
            return JSONResponse(SavedOut(collection=cid, arxiv_id=missing, saved=False, fetching=True).model_dump(),
                                status_code=202)
        # Taken out while it is still being fetched: it is not saved when it arrives.
        if wanted.unqueue(db, user.id, coll.id, arxiv_id):
            return SavedOut(collection=cid, arxiv_id=arxiv_id, saved=False)
        pid = paper_row_id(db, arxiv_id)  # a worker stored and saved it meanwhile (taken out below); else 404
    (add_paper if saved else remove_paper)(db, coll, pid)
    return SavedOut(collection=cid, arxiv_id=arxiv_id, saved=saved)


@api_router.put("/collections/{cid:id}/papers/{arxiv_id:path}", response_model=SavedOut,
                responses={**WRITES, 202: {"model": SavedOut, "description": "Not on this instance yet: being fetched "
                                                                              "from arXiv, saved when it arrives"}},
                summary="Save a paper in one of the member's collections")
def save_paper(request: Request, cid: int, arxiv_id: str, user: User = Depends(require_member),
               db: Session = Depends(get_db, scope="function")):
    return _save(request, db, user, cid, arxiv_id, True)


@api_router.delete("/collections/{cid:id}/papers/{arxiv_id:path}", response_model=SavedOut, responses=WRITES,
                   summary="Take a paper out of one of the member's collections")
def unsave_paper(request: Request, cid: int, arxiv_id: str, user: User = Depends(require_member),
                 db: Session = Depends(get_db, scope="function")):
    return _save(request, db, user, cid, arxiv_id, False)


# --- follows -------------------------------------------------------------------------


class FollowsOut(BaseModel):
    authors: list[str]
    categories: list[str]


class FollowOut(BaseModel):
    kind: Literal["author", "category"]
    target: str = Field(description="As stored: the author's name as first seen here, the category's proper spelling")
    following: bool


@api_router.get("/follows", response_model=FollowsOut, responses=SIGNED_IN, summary="The authors and categories the member follows")
def my_follows(request: Request, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    rows = follows.followed(db, user.id)
    return FollowsOut(authors=[t for k, t in rows if k == "author"], categories=[t for k, t in rows if k == "category"])


@api_router.put("/follows/{kind}/{target:path}", response_model=FollowOut, responses=WRITES,
                summary="Follow an author (by name) or a category (e.g. cs.LG)")
def put_follow(request: Request, kind: Literal["author", "category"], target: str, user: User = Depends(require_member),
               db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    try:
        name = follows.follow(db, user.id, kind, target)
    except follows.NotFollowable as exc:
        raise HTTPException(422, str(exc)) from None
    return FollowOut(kind=kind, target=name, following=True)


@api_router.delete("/follows/{kind}/{target:path}", response_model=FollowOut, responses=WRITES,
                   summary="Stop following an author or a category")
def delete_follow(request: Request, kind: Literal["author", "category"], target: str,
                  user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    return FollowOut(kind=kind, target=follows.unfollow(db, user.id, kind, target), following=False)
