"""Votes, comments and submissions: the routes that change a paper's community state.

Counters stay exact under concurrency:
- votes: the vote row is inserted or deleted first (the statement that takes the write
  lock), then ``upvotes`` moves by one, guarded by that statement's rowcount, all in
  one transaction; a racing double insert hits the primary key and is retried.
- comments: the paper row is locked first (an UPDATE of ``modified_at``), then the
  comment changes, then ``num_comments`` is recounted from the rows, in one transaction.
Every such write sets ``papers.modified_at``.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import delete, exists, func, insert, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community import lookup, markdown, replies
from paperboy.community.models import Comment, Submission
from paperboy.community.notices import with_notice
from paperboy.papers.ids import BadRecord, no_paper_here, parse_arxiv_id
from paperboy.papers.visibility import visible
from paperboy.store.db import write_tx
from paperboy.store.models import Paper, User, UTCDateTime, Vote, utcnow
from paperboy.web import ratelimit
from paperboy.web.convertors import MAX_ID  # importing it registers {x:id}
from paperboy.web.deps import get_db
from paperboy.web.navigation import back_at_card, referring_page
from paperboy.web.security import (
    SUSPENDED,
    AuthError,
    current_user,
    require_member,
    require_user,
    wants_json,
)

router = APIRouter()  # row ids in paths use {x:id} (paperboy.web.convertors)


# --- votes -----------------------------------------------------------------------


def toggle_vote(conn: Connection, user_id: int, arxiv_id: str) -> tuple[int, bool] | None:
    """Flip one member's vote on a visible paper; (upvotes, voted) or None if no such paper."""
    now = utcnow()
    pid = select(Paper.id).where(Paper.arxiv_id == arxiv_id, visible()).scalar_subquery()
    # RETURNING rather than rowcount: psycopg reports -1 for INSERT ... SELECT.
    removed = conn.execute(delete(Vote).where(Vote.user_id == user_id, Vote.paper_id == pid)
                           .returning(Vote.paper_id)).all()
    if removed:
        delta, voted = -1, False
    else:
        added = conn.execute(insert(Vote).from_select(
            ["user_id", "paper_id", "created_at"],
            select(literal(user_id), Paper.id, literal(now, UTCDateTime())).where(Paper.arxiv_id == arxiv_id, visible()),
        ).returning(Vote.paper_id)).all()
        if not added:
            return None
        delta, voted = 1, True
    upvotes = conn.execute(
        update(Paper).where(Paper.arxiv_id == arxiv_id)
        .values(upvotes=Paper.upvotes + delta, modified_at=now).returning(Paper.upvotes)
    ).scalar_one()
    return upvotes, voted


def set_vote(conn: Connection, user_id: int, arxiv_id: str, up: bool) -> tuple[int, bool] | None:
    """Make one member's vote on a visible paper ``up`` (or not), whatever it was: the
    API's idempotent PUT and DELETE. (upvotes, voted), or None if no such paper."""
    pid = conn.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id, visible()))
    if pid is None:
        return None
    mine = (Vote.user_id == user_id) & (Vote.paper_id == pid)
    if up:
        # A racing twin of this insert hits the primary key: the caller retries.
        changed = not conn.scalar(select(literal(1)).where(exists().where(mine)))
        if changed:
            conn.execute(insert(Vote).values(user_id=user_id, paper_id=pid, created_at=utcnow()))
    else:
        changed = bool(conn.execute(delete(Vote).where(mine).returning(Vote.paper_id)).all())
    if not changed:
        return conn.scalar(select(Paper.upvotes).where(Paper.id == pid)), up
    upvotes = conn.execute(update(Paper).where(Paper.id == pid)
                           .values(upvotes=Paper.upvotes + (1 if up else -1), modified_at=utcnow())
                           .returning(Paper.upvotes)).scalar_one()
    return upvotes, up


def write_vote(engine, change) -> tuple[int, bool] | None:
    """Run ``change(conn)`` (a vote write) in its own transaction, again if a concurrent
    request inserted the same vote first."""
    for attempt in range(5):
        try:
            with write_tx(engine) as conn:
                return change(conn)
        except IntegrityError:
            if attempt == 4:
                raise
    return None


def _acting_user(request: Request, what: str) -> User:
    user = current_user(request)
    if user is None:
        raise AuthError(401, f"Sign in to {what}.")
    if user.is_suspended:
        raise AuthError(403, SUSPENDED)
    return user


@router.post("/papers/{arxiv_id:path}/vote")
def vote(request: Request, arxiv_id: str):
    user = _acting_user(request, "vote")
    ratelimit.check(request, "vote", str(user.id))
    result = write_vote(request.app.state.engine, lambda conn: toggle_vote(conn, user.id, arxiv_id))
    if result is None:
        raise HTTPException(404, no_paper_here(arxiv_id))
    upvotes, voted = result
    if wants_json(request):
        return JSONResponse({"upvotes": upvotes, "voted": voted})
    return RedirectResponse(back_at_card(referring_page(request, f"/papers/{arxiv_id}"), arxiv_id), status_code=303)


# --- comments ----------------------------------------------------------------------


def _lock_paper(conn: Connection, paper_id: int | None = None, arxiv_id: str | None = None) -> int | None:
    """Take the paper row's write lock (and mark it modified); its id, or None if hidden/absent."""
    cond = Paper.id == paper_id if paper_id is not None else Paper.arxiv_id == arxiv_id
    return conn.execute(update(Paper).where(cond, visible())
                        .values(modified_at=utcnow()).returning(Paper.id)).scalar()


def recount_comments(conn: Connection, paper_id: int) -> int:
    n = select(func.count()).select_from(Comment).where(
        Comment.paper_id == paper_id, Comment.deleted_at.is_(None), Comment.hidden.is_(False)
    ).scalar_subquery()
    return conn.execute(update(Paper).where(Paper.id == paper_id).values(num_comments=n)
                        .returning(Paper.num_comments)).scalar_one()


def _clean_body(body: str) -> str:
    body = _showable(body)
    if not body:
        raise HTTPException(400, "A comment cannot be empty.")
    return body


def _showable(body: str) -> str:
    """The text as stored (line ends unified, trimmed); 400 when it could not be shown
    whole: too long, or nested past what Markdown reads. A posted comment and its
    preview are held to the same."""
    text = (body or "").replace("\r\n", "\n").strip()
    if len(text) > markdown.MAX_BODY:
        raise HTTPException(400, f"Comments are limited to {markdown.MAX_BODY} characters.")
    if (why := markdown.too_deep(text)) is not None:
        raise HTTPException(400, why)
    return text


def _parent_comment_id(value: str) -> int | None:
    """The reply's parent as a row id, or None for a top-level comment (an empty field).

    Anything else that is not a row id (negative, zero, past 64 bits, not a number) is
    refused rather than quietly posted as a top-level comment, and never reaches the
    database, which cannot hold numbers past 64 bits."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) <= MAX_ID:
        raise HTTPException(400, f"parent_id must be a comment's id (a whole number from 1 to {MAX_ID}).")
    return int(value)


REPEAT_WINDOW = dt.timedelta(seconds=30)  # the same comment posted again within it is the first one


@router.post("/papers/{arxiv_id:path}/comments")
def add_comment(request: Request, arxiv_id: str, body: str = Form(""), parent_id: str = Form("")):
    user = _acting_user(request, "comment")
    text = _clean_body(body)
    ratelimit.check(request, "comment", str(user.id))
    parent = _parent_comment_id(parent_id)
    with write_tx(request.app.state.engine) as conn:
        pid = _lock_paper(conn, arxiv_id=arxiv_id)
        if pid is None:
            raise HTTPException(404, no_paper_here(arxiv_id))
        if parent is not None:
            ok = conn.scalar(select(Comment.id).where(Comment.id == parent, Comment.paper_id == pid,
                                                      Comment.deleted_at.is_(None), Comment.hidden.is_(False)))
            if ok is None:
                raise HTTPException(400, "The comment you replied to is gone.")
        # The same comment again from the same member within moments (a double click, a
        # resend): that one, not a second copy, nor a second reply mail. The paper's lock
        # makes a concurrent twin wait for this check.
        repeat = conn.scalar(select(Comment.id).where(
            Comment.paper_id == pid, Comment.user_id == user.id, Comment.body == text,
            Comment.parent_id.is_(None) if parent is None else Comment.parent_id == parent,
            Comment.deleted_at.is_(None), Comment.created_at >= utcnow() - REPEAT_WINDOW).limit(1))
        if repeat is not None:  # answered as the first was; the count is as it stands
            cid, told = repeat, False
            n = conn.scalar(select(Paper.num_comments).where(Paper.id == pid))
        else:
            cid = conn.execute(insert(Comment).values(
                paper_id=pid, user_id=user.id, parent_id=parent, body=text, body_html=markdown.render(text),
                hidden=False, created_at=utcnow()).returning(Comment.id)).scalar_one()
            n = recount_comments(conn, pid)
            told = replies.tell_about_comment(request.app, conn, paper_id=pid, parent_id=parent, comment_id=cid,
                                              author=user, text=text)
    if told:
        request.app.state.outbox.wake()  # committed: the mail may go
    if wants_json(request):
        return JSONResponse({"id": cid, "num_comments": n})
    return RedirectResponse(f"/papers/{arxiv_id}#comment-{cid}", status_code=303)


@router.post("/comments/preview")
def preview_comment(request: Request, body: str = Form("")) -> JSONResponse:
    """The comment box's live preview: ``{"html": ...}`` rendered by the very function
    that renders a stored comment, so what a member sees is what will be posted. Stores
    nothing; signed-in members only and rate-limited, since rendering costs CPU."""
    user = _acting_user(request, "preview comments")
    ratelimit.check(request, "preview", str(user.id))
    text = _showable(body)
    return JSONResponse({"html": markdown.render(text) if text else ""})


def _own_comment(db: Session, comment_id: int, user: User) -> tuple[Comment, str]:
    row = db.execute(select(Comment, Paper.arxiv_id).join(Paper, Paper.id == Comment.paper_id)
                     .where(Comment.id == comment_id)).first()
    if row is None or row[0].deleted_at is not None:
        raise HTTPException(404, "No such comment.")
    if row[0].user_id != user.id:
        raise AuthError(403, "You can only change your own comments.")
    return row[0], row[1]


def _editable_comment(db: Session, comment_id: int, user: User) -> tuple[Comment, str]:
    """``_own_comment``, refused when a moderator hid it: rewriting it would undo that."""
    comment, arxiv_id = _own_comment(db, comment_id, user)
    if comment.hidden:
        raise HTTPException(403, "A moderator hid this comment; it cannot be edited. You can still delete it.")
    return comment, arxiv_id


@router.get("/comments/{comment_id:id}/edit", response_class=HTMLResponse)
def edit_comment_form(request: Request, comment_id: int, user: User = Depends(require_member),
                      db: Session = Depends(get_db, scope="function")):
    comment, arxiv_id = _editable_comment(db, comment_id, user)
    return request.app.state.templates.TemplateResponse(
        request, "community/comment_edit.html", {"comment": comment, "arxiv_id": arxiv_id})


@router.post("/comments/{comment_id:id}/edit")
def edit_comment(request: Request, comment_id: int, body: str = Form(""), user: User = Depends(require_member),
                 db: Session = Depends(get_db, scope="function")):
    # The rate-limit count commits on its own, before this request's unit of work begins.
    ratelimit.check(request, "comment", str(user.id))
    text = _clean_body(body)
    comment, arxiv_id = _editable_comment(db, comment_id, user)
    conn = db.connection()
    if _lock_paper(conn, paper_id=comment.paper_id) is None:
        raise HTTPException(403, "The moderators hid this paper; its discussion cannot be changed. "
                                 "You can still delete your comment.")
    conn.execute(update(Comment).where(Comment.id == comment_id, Comment.user_id == user.id,
                                       Comment.deleted_at.is_(None))
                 .values(body=text, body_html=markdown.render(text), edited_at=utcnow()))
    return RedirectResponse(f"/papers/{arxiv_id}#comment-{comment_id}", status_code=303)


@router.post("/comments/{comment_id:id}/delete")
def delete_comment(request: Request, comment_id: int, user: User = Depends(require_user),
                   db: Session = Depends(get_db, scope="function")):
    """The author removes a comment (suspended authors may still remove their own)."""
    comment, arxiv_id = _own_comment(db, comment_id, user)
    conn = db.connection()
    _touch_paper(conn, comment.paper_id)
    conn.execute(update(Comment).where(Comment.id == comment_id, Comment.user_id == user.id,
                                       Comment.deleted_at.is_(None))
                 .values(deleted_at=utcnow(), body="", body_html=""))
    n = recount_comments(conn, comment.paper_id)
    replies.recount_unread(conn, replies.told_about(conn, [comment_id]))  # their badge no longer counts it
    if wants_json(request):
        return JSONResponse({"deleted": True, "num_comments": n})
    return RedirectResponse(f"/papers/{arxiv_id}#comments", status_code=303)


def _touch_paper(conn: Connection, paper_id: int) -> None:
    """Lock the paper row whether or not it is hidden (moderation works on hidden papers)."""
    conn.execute(update(Paper).where(Paper.id == paper_id).values(modified_at=utcnow()))


def _set_hidden(conn: Connection, comments: list[tuple[int, int]], hidden: bool) -> None:
    """Hide or show ``comments`` ((comment id, paper id) pairs): their papers locked first,
    as every comment write does, then each paper's count and the reply badges follow."""
    ids, papers = [c for c, _ in comments], sorted({p for _, p in comments})
    for pid in papers:
        _touch_paper(conn, pid)
    conn.execute(update(Comment).where(Comment.id.in_(ids)).values(hidden=hidden))
    for pid in papers:
        recount_comments(conn, pid)
    replies.recount_unread(conn, replies.told_about(conn, ids))


def set_comment_hidden(engine, comment_id: int, hidden: bool) -> str | None:
    """Moderation: hide or show one comment; the paper's arXiv id, or None if no such comment."""
    with write_tx(engine) as conn:
        pid = conn.scalar(select(Comment.paper_id).where(Comment.id == comment_id))
        if pid is None:
            return None
        _set_hidden(conn, [(comment_id, pid)], hidden)
        return conn.scalar(select(Paper.arxiv_id).where(Paper.id == pid))


def hide_comments_of(engine, user_id: int) -> int:
    """Moderation of a spammer: hide every comment of one member that is still shown (in
    one transaction); how many."""
    with write_tx(engine) as conn:
        rows = [tuple(r) for r in conn.execute(select(Comment.id, Comment.paper_id).where(
            Comment.user_id == user_id, Comment.hidden.is_(False), Comment.deleted_at.is_(None)))]
        if rows:
            _set_hidden(conn, rows, True)
        return len(rows)


# --- submissions -------------------------------------------------------------------


def _today() -> dt.date:
    return utcnow().date()


@router.get("/submit", response_class=HTMLResponse)
def submit_form(request: Request, user: User = Depends(require_member)):
    return _submit_page(request, 200)


# What the member is told when the look-up did not bring the paper.
_LOOKUP_ANSWERS = {
    lookup.Outcome.UNKNOWN: (404, "arXiv has no paper {arxiv_id}."),
    lookup.Outcome.UNREACHABLE: (502, "arXiv did not answer; try again in a minute."),
    lookup.Outcome.PENDING: (503, "arXiv has not answered yet. We keep asking in the background: "
                                  "try again in a minute, and if arXiv has answered by then the paper is found at once."),
    lookup.Outcome.BUSY: (503, "Several papers are being looked up on arXiv right now; try again in a minute."),
}


def _submit_page(request: Request, status: int, error: str = "", value: str = "", link: str | None = None):
    return request.app.state.templates.TemplateResponse(
        request, "community/submit.html", {"error": error, "value": value, "link": link,
                                           "feed_of_submissions": request.app.state.settings.feed_mode == "submitted"},
        status_code=status)


@router.post("/submit", response_class=HTMLResponse)
def submit(request: Request, arxiv: str = Form(""), user: User = Depends(require_member)):

    settings = request.app.state.settings
    engine = request.app.state.engine
    value = arxiv.strip()[:300]
    try:
        arxiv_id, _version = parse_arxiv_id(value)
    except BadRecord:
        return _submit_page(request, 400, "That is not an arXiv id or arXiv URL (e.g. 2403.01234 or https://arxiv.org/abs/2403.01234).", value)
    ratelimit.check(request, "submit", str(user.id))

    with engine.connect() as conn:
        paper = conn.execute(select(Paper.id, Paper.hidden, Paper.featured_on).where(Paper.arxiv_id == arxiv_id)).first()
    if paper is None:
        outcome = lookup.look_up(settings, engine, arxiv_id)
        if outcome is not lookup.Outcome.STORED:
            status, message = _LOOKUP_ANSWERS[outcome]
            page = _submit_page(request, status, message.format(arxiv_id=arxiv_id), value)
            if status == 503:
                page.headers["Retry-After"] = "60"
            return page
        with engine.connect() as conn:
            paper = conn.execute(select(Paper.id, Paper.hidden, Paper.featured_on).where(Paper.arxiv_id == arxiv_id)).first()
        if paper is None:
            return _submit_page(request, 502, "arXiv answered, but the paper could not be stored; please try again.", value)
    if paper.hidden:
        return _submit_page(request, 403, f"arXiv:{arxiv_id} has been hidden by the moderators and cannot be submitted.", value)
    if paper.featured_on is not None:
        return _submit_page(request, 409, f"arXiv:{arxiv_id} was already submitted by a member, on "
                            f"{paper.featured_on:%-d %b %Y}.", value, link=f"/papers/{arxiv_id}")

    # The daily cap is a counter in the database, so parallel requests cannot overrun it.
    cap_key = f"submit_day:{user.id}"
    if not ratelimit.hit(engine, cap_key, settings.submissions_per_day, 86400):
        ratelimit.undo(engine, cap_key, 86400)
        return _submit_page(request, 429, f"You have reached today's limit of {settings.submissions_per_day} submissions; try again tomorrow (UTC).", value)
    now = utcnow()
    with write_tx(engine) as conn:
        won = conn.execute(update(Paper).where(Paper.id == paper.id, Paper.featured_on.is_(None), visible())
                           .values(featured_on=now.date(), submitted_by_id=user.id, modified_at=now)).rowcount
        if won == 1:
            sources = conn.scalar(select(Paper.sources).where(Paper.id == paper.id)) or ""
            merged = ",".join(sorted({s for s in sources.split(",") if s} | {"submission"}))
            conn.execute(update(Paper).where(Paper.id == paper.id).values(sources=merged))
            conn.execute(insert(Submission).values(user_id=user.id, paper_id=paper.id, created_at=now))
    if won != 1:
        ratelimit.undo(engine, cap_key, 86400)
        return _submit_page(request, 409, f"arXiv:{arxiv_id} was already submitted by a member.", value,
                            link=f"/papers/{arxiv_id}")
    done = "submitted" if settings.feed_mode == "submitted" else "submitted_listed"
    return RedirectResponse(with_notice(f"/papers/{arxiv_id}", done), status_code=303)
