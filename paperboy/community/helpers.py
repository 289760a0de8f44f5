"""Template helpers: one query per request each, cached on the request.

Templates of every feature may call these (they are Jinja globals):
``comments_for(request, paper)``, ``user_collections(request)``,
``saved_in(request, paper_id)``, ``is_following(request, kind, target)``,
``user_votes(request)`` (set of paper ids the member voted for),
(``notice``, the message after a form sent without JavaScript, comes from ``notices``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from paperboy.community.accounts import commenter_name
from paperboy.community.models import Comment
from paperboy.papers.authors import author_identity
from paperboy.store.models import Collection, CollectionItem, Follow, User, Vote
from paperboy.web.deps import request_session
from paperboy.web.security import current_user, member_state_user, memo


def _user(request):
    """The member whose own state a helper reads (see ``security.member_state_user``)."""
    return member_state_user(request)


@dataclass
class ThreadItem:
    comment: Comment
    author: str
    author_id: int | None
    depth: int
    children: list[ThreadItem] = field(default_factory=list)
    reply_to: str = ""  # the author of the comment it answers (said to screen readers)

    @property
    def removed(self) -> bool:
        return self.comment.deleted_at is not None or self.comment.hidden


def comments_for(request, paper) -> list[ThreadItem]:
    """The paper's comments as a flat list in thread order (each with its depth).

    Deleted and hidden comments stay as placeholders when they have replies, so the
    thread keeps its shape; moderators see hidden ones.
    """
    user = current_user(request)  # only whether they moderate: admins are never shared
    db = request_session(request)
    rows = db.execute(
        select(Comment, User.display_name, User.email)
        .outerjoin(User, User.id == Comment.user_id)
        .where(Comment.paper_id == paper.id)
        .order_by(Comment.created_at, Comment.id)
    ).all()
    items = {c.id: ThreadItem(c, commenter_name(name, email, c.user_id), c.user_id, 0) for c, name, email in rows}
    roots: list[ThreadItem] = []
    for item in items.values():
        parent = items.get(item.comment.parent_id) if item.comment.parent_id else None
        (parent.children if parent else roots).append(item)
        if parent is not None:
            item.reply_to = "a deleted comment" if parent.removed else parent.author
    out: list[ThreadItem] = []
    is_mod = bool(user and user.is_admin)

    def walk(item: ThreadItem, depth: int) -> bool:
        item.depth = depth
        start = len(out)
        out.append(item)
        kept_child = False
        for child in item.children:
            kept_child = walk(child, depth + 1) or kept_child
        if item.removed and not kept_child and not (is_mod and item.comment.hidden and item.comment.deleted_at is None):
            del out[start:]
            return False
        return True

    for root in roots:
        walk(root, 0)
    return out


def user_collections(request) -> list[Collection]:
    cache = memo(request)
    if "collections" not in cache:
        user = _user(request)
        if user is None:
            cache["collections"] = []
        else:
            db = request_session(request)
            cache["collections"] = list(db.scalars(
                select(Collection).where(Collection.user_id == user.id).order_by(Collection.name)))
    return cache["collections"]


def saved_in(request, paper_id: int) -> set[int]:
    """Ids of the member's collections holding this paper."""
    cache = memo(request)
    if "saved" not in cache:
        saved: dict[int, set[int]] = {}
        ids = [c.id for c in user_collections(request)]
        if ids:
            db = request_session(request)
            for cid, pid in db.execute(select(CollectionItem.collection_id, CollectionItem.paper_id)
                                       .where(CollectionItem.collection_id.in_(ids))):
                saved.setdefault(pid, set()).add(cid)
        cache["saved"] = saved
    return cache["saved"].get(paper_id, set())


def follows(request) -> set[tuple[str, str]]:
    """The member's follows as (kind, key): an author's key is its identity."""
    cache = memo(request)
    if "follows" not in cache:
        user = _user(request)
        result: set[tuple[str, str]] = set()
        if user is not None:
            db = request_session(request)
            result = {(k, _key(k, t)) for k, t in db.execute(
                select(Follow.kind, Follow.target).where(Follow.user_id == user.id))}
        cache["follows"] = result
    return cache["follows"]


def _key(kind: str, target: str) -> str:
    return author_identity(target) if kind == "author" else target


def is_following(request, kind: str, target: str) -> bool:
    """Whether the member follows this author (by identity: any spelling) or category."""
    return (kind, _key(kind, target)) in follows(request)


def user_votes(request) -> set[int]:
    cache = memo(request)
    if "votes" not in cache:
        user = _user(request)
        result: set[int] = set()
        if user is not None:
            db = request_session(request)
            result = set(db.scalars(select(Vote.paper_id).where(Vote.user_id == user.id)))
        cache["votes"] = result
    return cache["votes"]


def display_name(user: User | None) -> str:
    if user is None:
        return ""
    return commenter_name(user.display_name, user.email, user.id)


def template_globals() -> dict:
    return {
        "comments_for": comments_for,
        "user_collections": user_collections,
        "saved_in": saved_in,
        "is_following": is_following,
        "user_votes": user_votes,
        "display_name": display_name,
    }
