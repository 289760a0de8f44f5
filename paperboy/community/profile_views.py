"""``/members/{id}``: what a member has done in public, one page: the papers they
submitted, their public collections and their latest comments. Nothing private (votes,
private collections, follows, the address) is on it; comment authors link here."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community.accounts import commenter_name
from paperboy.community.models import Comment
from paperboy.papers.visibility import visible
from paperboy.store.models import Collection, CollectionItem, Paper, User
from paperboy.web.convertors import MAX_ID  # noqa: F401  (importing it registers {x:id})
from paperboy.web.deps import get_db
from paperboy.web.security import current_user

router = APIRouter()
SHOWN = 20  # of each kind; the paper and collection pages hold the rest


@router.get("/members/{user_id:id}", response_class=HTMLResponse)
def member_profile(request: Request, user_id: int, db: Session = Depends(get_db, scope="function")):
    user = db.get(User, user_id)
    if user is None:
        raise HTTPException(404, "No such member (the account may have been deleted).")
    submitted = db.execute(
        select(Paper.arxiv_id, Paper.title, Paper.featured_on, Paper.upvotes)
        .where(Paper.submitted_by_id == user_id, Paper.featured_on.is_not(None), visible())
        .order_by(Paper.featured_on.desc(), Paper.id.desc()).limit(SHOWN)).all()
    collections = db.execute(
        select(Collection.id, Collection.name, func.count(Paper.id))
        .outerjoin(CollectionItem, CollectionItem.collection_id == Collection.id)
        .outerjoin(Paper, (Paper.id == CollectionItem.paper_id) & visible())
        .where(Collection.user_id == user_id, Collection.is_public.is_(True))
        .group_by(Collection.id).order_by(Collection.updated_at.desc()).limit(SHOWN)).all()
    # A member's own page also lists their comments a moderator hid, flagged: the paper's
    # page no longer shows them, and this is where their author finds out (and the text).
    me = current_user(request)
    own = me is not None and me.id == user_id
    comments = db.execute(
        select(Comment.id, Comment.body_html, Comment.created_at, Comment.hidden, Paper.arxiv_id, Paper.title)
        .join(Paper, Paper.id == Comment.paper_id)
        .where(Comment.user_id == user_id, Comment.deleted_at.is_(None), visible(),
               *(() if own else (Comment.hidden.is_(False),)))
        .order_by(Comment.created_at.desc(), Comment.id.desc()).limit(SHOWN)).all()
    return request.app.state.templates.TemplateResponse(request, "community/member.html", {
        "member": user, "name": commenter_name(user.display_name, user.email, user.id), "own": own,
        "submitted": submitted, "collections": collections, "comments": comments})
