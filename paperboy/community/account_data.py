"""A member's own data: everything we hold about them as one JSON document, and the
deletion of the account.

Deletion happens in the caller's transaction, so it is all or nothing. Counters on
paper rows (``upvotes``, ``num_comments``) move in the same transaction as the rows
they count, as everywhere else. Comments are never deleted as rows: replies by other
members hang under them (``parent_id`` cascades), so a removed comment is blanked and
keeps its place, as when its author deletes it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from paperboy.community import api_tokens, replies
from paperboy.community.models import (
    AccountToken,
    Comment,
    Submission,
)
from paperboy.ingest import wanted
from paperboy.store.models import (
    Collection,
    CollectionItem,
    Follow,
    Paper,
    User,
    UserSession,
    Vote,
    utcnow,
)
from paperboy.web import member_data
from paperboy.web.uploads import forget_outcomes

EXPORT_FORMAT = 1

def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def export_account(db: Session, user_id: int) -> dict[str, Any]:
    """Everything stored about the member, in plain JSON types (ISO dates, arXiv ids)."""
    user = db.get(User, user_id)
    if user is None:
        raise LookupError(user_id)
    votes = db.execute(select(Paper.arxiv_id, Vote.created_at).join(Paper, Paper.id == Vote.paper_id)
                       .where(Vote.user_id == user_id).order_by(Vote.created_at)).all()
    comments = db.execute(select(Comment, Paper.arxiv_id).join(Paper, Paper.id == Comment.paper_id)
                          .where(Comment.user_id == user_id).order_by(Comment.created_at, Comment.id)).all()
    collections = db.scalars(select(Collection).where(Collection.user_id == user_id).order_by(Collection.id)).all()
    items = db.execute(select(CollectionItem.collection_id, Paper.arxiv_id, CollectionItem.added_at)
                       .join(Paper, Paper.id == CollectionItem.paper_id)
                       .join(Collection, Collection.id == CollectionItem.collection_id)
                       .where(Collection.user_id == user_id)
                       .order_by(CollectionItem.added_at, Paper.arxiv_id)).all()
    by_collection: dict[int, list[dict]] = {}
    for cid, arxiv_id, added in items:
        by_collection.setdefault(cid, []).append({"arxiv_id": arxiv_id, "added_at": _iso(added)})
    follows = db.scalars(select(Follow).where(Follow.user_id == user_id).order_by(Follow.created_at)).all()
    submissions = db.execute(select(Paper.arxiv_id, Submission.created_at).join(Paper, Paper.id == Submission.paper_id)
                             .where(Submission.user_id == user_id).order_by(Submission.created_at)).all()
    return {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(utcnow()),
        "profile": {
            "email": user.email,
            "display_name": user.display_name,
            "email_verified_at": _iso(user.email_verified_at),
            "created_at": _iso(user.created_at),
            "is_admin": user.is_admin,
            "is_suspended": user.is_suspended,
            "reply_mails": user.reply_mails,
        },
        "votes": [{"arxiv_id": a, "created_at": _iso(t)} for a, t in votes],
        "comments": [
            {"id": c.id, "arxiv_id": a, "parent_id": c.parent_id, "body": c.body, "created_at": _iso(c.created_at),
             "edited_at": _iso(c.edited_at), "deleted_at": _iso(c.deleted_at), "hidden_by_moderators": c.hidden}
            for c, a in comments
        ],
        "collections": [
            {"name": c.name, "public": c.is_public, "created_at": _iso(c.created_at),
             "items": by_collection.get(c.id, []), "being_fetched": (w := wanted.waiting(db, user_id, c.id)).fetching,
             "not_fetched": w.given_up, "titles_being_looked_up": w.matching,
             "titles_not_found": [t for t, _why in w.unmatched]}
            for c in collections
        ],
        "follows": [{"kind": f.kind, "target": f.target, "created_at": _iso(f.created_at)} for f in follows],
        "submissions": [{"arxiv_id": a, "created_at": _iso(t)} for a, t in submissions],
        # What each token is, never the secret (only its hash is stored anyway).
        "api_tokens": [{"name": t.name, "ends_with": t.hint, "write": t.can_write, "created_at": _iso(t.created_at),
                        "last_used_at": _iso(t.last_used_at), "expires_at": _iso(t.expires_at)}
                       for t in reversed(api_tokens.listed(db, user_id))],
        **{part.name: part.export(db, user_id) for part in member_data.parts()},
    }


# papers.num_comments counts a paper's comments that are neither deleted nor hidden
# (as paper_views.recount_comments does), correlated to the paper row being updated.
_visible_comments = (select(func.count()).select_from(Comment)
                     .where(Comment.paper_id == Paper.id, Comment.deleted_at.is_(None), Comment.hidden.is_(False))
                     .scalar_subquery())


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def delete_account(db: Session, user_id: int, *, keep_comments: bool) -> None:
    """Remove the account and what hangs on it, in ``db``'s transaction.

    ``keep_comments``: comments stay readable, signed "deleted member"; otherwise they
    are blanked like comments their author deleted. Either way they no longer point at
    the account. The address and the name are free for a new account afterwards.
    """
    now = utcnow()
    # Votes: the rows go first (their deletion is the write that decides), then each
    # paper loses exactly the one vote that was removed.
    voted = list(db.scalars(delete(Vote).where(Vote.user_id == user_id).returning(Vote.paper_id)))
    for chunk in _chunks(sorted(voted)):
        db.execute(update(Paper).where(Paper.id.in_(chunk)).values(upvotes=Paper.upvotes - 1, modified_at=now))

    commented = sorted(db.scalars(select(Comment.paper_id).distinct().where(Comment.user_id == user_id)))
    for chunk in _chunks(commented):
        # Lock the papers first (as every comment write does), then change the comments.
        db.execute(update(Paper).where(Paper.id.in_(chunk)).values(modified_at=now))
    if keep_comments:
        db.execute(update(Comment).where(Comment.user_id == user_id).values(user_id=None))
    else:
        said = list(db.scalars(select(Comment.id).where(Comment.user_id == user_id, Comment.deleted_at.is_(None))))
        told = set().union(*(replies.told_about(db, chunk) for chunk in _chunks(said))) - {user_id}
        db.execute(update(Comment).where(Comment.user_id == user_id).values(
            user_id=None, body="", body_html="", deleted_at=func.coalesce(Comment.deleted_at, now)))
        replies.recount_unread(db, told)  # the badges that counted their replies
        for chunk in _chunks(commented):
            db.execute(update(Paper).where(Paper.id.in_(chunk)).values(num_comments=_visible_comments))

    own = select(Collection.id).where(Collection.user_id == user_id).scalar_subquery()
    db.execute(delete(CollectionItem).where(CollectionItem.collection_id.in_(own)))
    db.execute(delete(Collection).where(Collection.user_id == user_id))
    db.execute(delete(Follow).where(Follow.user_id == user_id))
    wanted.forget_member(db, user_id)  # papers being fetched for their collections or seeds
    forget_outcomes(db, user_id)  # what their imports came to
    for part in member_data.parts():
        part.remove(db, user_id)
    db.execute(update(Paper).where(Paper.submitted_by_id == user_id).values(submitted_by_id=None, modified_at=now))
    db.execute(delete(Submission).where(Submission.user_id == user_id))
    db.execute(delete(AccountToken).where(AccountToken.user_id == user_id))
    db.execute(delete(UserSession).where(UserSession.user_id == user_id))
    api_tokens.remove_all(db, user_id)
    db.execute(delete(User).where(User.id == user_id))
