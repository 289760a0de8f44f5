"""The digest's part of a member's account: their subscriptions in the data export,
removed with the account, and following the account to a newly verified address.

Handed to the app factory as the digest feature's ``member_data`` (``web.member_data``),
so the community feature's account pages never import the digest.
"""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from paperboy.digest.models import OutboxEntry, Subscription
from paperboy.web.member_data import MemberDataPart


def export_subscriptions(db: Session, user_id: int) -> list[dict]:
    subs = db.scalars(select(Subscription).where(Subscription.user_id == user_id).order_by(Subscription.id))
    return [
        {"email": s.email, "status": s.status, "frequency": s.frequency, "weekday": s.weekday,
         "send_hour": s.send_hour, "timezone": s.timezone, "top_n": s.top_n, "categories": s.category_list,
         "include_follows": s.include_follows, "alerts": list(s.alerts or []), "skip_empty": s.skip_empty,
         "created_at": s.created_at.isoformat() if s.created_at else None}
        for s in subs
    ]


def delete_subscriptions(db: Session, user_id: int) -> None:
    """The member's digests stop: their queued digests and their subscriptions go."""
    own = select(Subscription.id).where(Subscription.user_id == user_id).scalar_subquery()
    db.execute(delete(OutboxEntry).where(OutboxEntry.subscription_id.in_(own)))
    db.execute(delete(Subscription).where(Subscription.user_id == user_id))


def move_subscription(db: Session, user_id: int, old: str, new: str) -> None:
    """The member's digest follows their account to its new, verified address, unless
    that address already has a subscription of its own (which then stays as it is)."""
    taken = exists().where(Subscription.email == new)
    db.execute(update(Subscription).where(Subscription.user_id == user_id, Subscription.email == old, ~taken)
               .values(email=new))


PART = MemberDataPart("subscriptions", export_subscriptions, delete_subscriptions, move_subscription)
