"""Moderation: hide/unhide papers and comments, suspend/unsuspend accounts (admins only)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community import replies
from paperboy.community.models import Comment
from paperboy.community.notices import with_notice
from paperboy.community.paper_views import hide_comments_of, set_comment_hidden
from paperboy.papers.ids import no_paper_here
from paperboy.store.models import Paper, User, utcnow
from paperboy.web import convertors  # noqa: F401  (registers {x:id})
from paperboy.web.deps import get_db
from paperboy.web.navigation import referring_page
from paperboy.web.security import forget_member, require_admin

router = APIRouter(prefix="/admin")
ACCOUNTS_PAGE = 50  # accounts a page of /admin lists (newest first, or a search's matches by address)
COMMENTS_PAGE = 30  # recent comments a page of /admin lists, newest first


@router.get("", response_class=HTMLResponse)
def admin_home(request: Request, q: str = Query("", max_length=320), p: int = Query(0, ge=0, le=100_000),
               cp: int = Query(0, ge=0, le=100_000),
               admin: User = Depends(require_admin), db: Session = Depends(get_db, scope="function")):
    found = select(User)
    order = [User.created_at.desc(), User.id.desc()]
    if q.strip():
        needle = q.strip().lower()  # an address or a display name, in part
        found = found.where(or_(func.lower(User.email).contains(needle, autoescape=True),
                                func.lower(User.display_name).contains(needle, autoescape=True)))
        order = [User.email]
    total = db.scalar(select(func.count()).select_from(found.subquery()))
    users = list(db.scalars(found.order_by(*order).limit(ACCOUNTS_PAGE).offset(p * ACCOUNTS_PAGE)))
    suspended = list(db.scalars(select(User).where(User.is_suspended.is_(True)).order_by(User.email)))
    hidden_papers = list(db.scalars(select(Paper).where(Paper.hidden.is_(True)).order_by(Paper.modified_at.desc()).limit(100)))
    hidden_comments = db.execute(
        select(Comment, Paper.arxiv_id, User.email, Paper.hidden).join(Paper, Paper.id == Comment.paper_id)
        .outerjoin(User, User.id == Comment.user_id)
        .where(Comment.hidden.is_(True)).order_by(Comment.created_at.desc()).limit(100)).all()
    recent_comments = db.execute(
        select(Comment, Paper.arxiv_id, User.email, Paper.hidden).join(Paper, Paper.id == Comment.paper_id)
        .outerjoin(User, User.id == Comment.user_id)
        .where(Comment.deleted_at.is_(None)).order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(COMMENTS_PAGE + 1).offset(cp * COMMENTS_PAGE)).all()
    more_comments = len(recent_comments) > COMMENTS_PAGE  # one row past the page says an older page exists
    return request.app.state.templates.TemplateResponse(request, "community/admin.html", {
        "q": q, "users": users, "accounts_total": total, "page": p, "page_size": ACCOUNTS_PAGE,
        "suspended": suspended, "hidden_papers": hidden_papers,
        "hidden_comments": hidden_comments, "recent_comments": recent_comments[:COMMENTS_PAGE],
        "comments_page": cp, "more_comments": more_comments, "admin": admin})


def _set_paper_hidden(db: Session, arxiv_id: str, hidden: bool) -> None:
    pid = db.execute(update(Paper).where(Paper.arxiv_id == arxiv_id)
                     .values(hidden=hidden, modified_at=utcnow()).returning(Paper.id)).scalar()
    if pid is None:
        raise HTTPException(404, no_paper_here(arxiv_id))
    # /replies leaves out a hidden paper's comments: the badges that counted them follow.
    said = list(db.scalars(select(Comment.id).where(Comment.paper_id == pid, Comment.deleted_at.is_(None))))
    replies.recount_unread(db, replies.told_about(db, said))


@router.post("/papers/{arxiv_id:path}/hide")
def hide_paper(request: Request, arxiv_id: str, admin: User = Depends(require_admin), db: Session = Depends(get_db, scope="function")):
    _set_paper_hidden(db, arxiv_id, True)
    # Not back to the paper: its page is gone for everyone now. /admin lists it with Unhide.
    return RedirectResponse(with_notice("/admin#hidden-papers", "hidden"), status_code=303)


@router.post("/papers/{arxiv_id:path}/unhide")
def unhide_paper(request: Request, arxiv_id: str, admin: User = Depends(require_admin), db: Session = Depends(get_db, scope="function")):
    _set_paper_hidden(db, arxiv_id, False)
    return RedirectResponse(with_notice(referring_page(request, "/admin"), "unhidden"), status_code=303)


def _comment_hidden(request: Request, comment_id: int, hidden: bool):
    arxiv_id = set_comment_hidden(request.app.state.engine, comment_id, hidden)
    if arxiv_id is None:
        raise HTTPException(404, "No such comment.")
    back = referring_page(request, f"/papers/{arxiv_id}#comment-{comment_id}")
    if urlsplit(back).path == f"/papers/{arxiv_id}" and "#" not in back:
        # A Referer has no fragment: back at the comment, not the top of the paper's page
        # (a moderator hiding a wave of spam went down the page again for each).
        back += f"#comment-{comment_id}"
    return RedirectResponse(with_notice(back, "comment_hidden" if hidden else "comment_shown"), status_code=303)


@router.post("/comments/{comment_id:id}/hide")
def hide_comment(request: Request, comment_id: int, admin: User = Depends(require_admin)):
    return _comment_hidden(request, comment_id, True)


@router.post("/comments/{comment_id:id}/unhide")
def unhide_comment(request: Request, comment_id: int, admin: User = Depends(require_admin)):
    return _comment_hidden(request, comment_id, False)


def _suspend(db: Session, user_id: int, admin: User, value: bool) -> None:
    if user_id == admin.id:
        raise HTTPException(400, "You cannot suspend yourself.")
    if not db.execute(update(User).where(User.id == user_id).values(is_suspended=value)).rowcount:
        raise HTTPException(404, "No such account.")
    db.commit()
    forget_member(user_id)  # their next page shows it (other processes within MemberCache's ttl)


@router.post("/users/{user_id:id}/suspend")
def suspend(request: Request, user_id: int, hide_comments: str = Form(""), admin: User = Depends(require_admin),
            db: Session = Depends(get_db, scope="function")):
    """Suspend an account; with ``hide_comments``, a spammer's comments go with it, in one step."""
    _suspend(db, user_id, admin, True)
    if hide_comments:
        hide_comments_of(request.app.state.engine, user_id)
        return RedirectResponse(with_notice(referring_page(request, "/admin"), "suspended_hidden"), status_code=303)
    return RedirectResponse(with_notice(referring_page(request, "/admin"), "suspended"), status_code=303)


@router.post("/users/{user_id:id}/hide-comments")
def hide_member_comments(request: Request, user_id: int, admin: User = Depends(require_admin),
                         db: Session = Depends(get_db, scope="function")):
    if db.get(User, user_id) is None:
        raise HTTPException(404, "No such account.")
    db.commit()
    hide_comments_of(request.app.state.engine, user_id)
    return RedirectResponse(with_notice(referring_page(request, "/admin"), "comments_hidden"), status_code=303)


@router.post("/users/{user_id:id}/unsuspend")
def unsuspend(request: Request, user_id: int, admin: User = Depends(require_admin), db: Session = Depends(get_db, scope="function")):
    _suspend(db, user_id, admin, False)
    return RedirectResponse(with_notice(referring_page(request, "/admin"), "unsuspended"), status_code=303)
