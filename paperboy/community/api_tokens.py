"""Making, listing and revoking a member's personal API tokens (``/account#tokens``).

How a request is signed in by one is the foundation's (``web/apitokens.py``); this is
the member's side: a token is shown once, when it is made, and only its SHA-256 is kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from paperboy.community.accounts import one_line
from paperboy.store.models import ApiToken, utcnow
from paperboy.web.apitokens import new_token, token_hash

MAX_PER_MEMBER = 20
EXPIRY_DAYS: dict[str, int | None] = {"30": 30, "90": 90, "365": 365, "never": None}
DEFAULT_EXPIRY = "90"


class TokenRefused(ValueError):
    """The token cannot be made; the message says why."""


@dataclass(frozen=True)
class Made:
    token: str  # the only time it exists outside the member's hands
    row: ApiToken


def clean_name(name: str) -> str:
    name = one_line(name)
    if not name:
        raise TokenRefused("Give the token a name, such as the script that will use it.")
    return name


def make(db: Session, user_id: int, name: str, *, can_write: bool, expires: str) -> Made:
    """A new token for the member, in the caller's transaction."""
    name = clean_name(name)
    if expires not in EXPIRY_DAYS:
        raise TokenRefused("Choose when the token expires: in 30 days, 90 days, a year, or never.")
    held = db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id))
    if held >= MAX_PER_MEMBER:
        raise TokenRefused(f"You have {held} tokens, the most one account may hold. Revoke one you no longer use first.")
    days = EXPIRY_DAYS[expires]
    now = utcnow()
    token = new_token()
    row = ApiToken(user_id=user_id, token_hash=token_hash(token), name=name, hint=token[-4:], can_write=can_write,
                   created_at=now, expires_at=now + dt.timedelta(days=days) if days else None)
    db.add(row)
    db.flush()
    return Made(token, row)


def listed(db: Session, user_id: int) -> list[ApiToken]:
    """The member's tokens, newest first (expired ones too, until revoked: the member
    sees what stopped working)."""
    return list(db.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                           .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke(db: Session, user_id: int, token_id: int, hint: str | None = None) -> str | None:
    """End one of the member's tokens at once; its name, or None if they hold no such token.
    ``hint`` (the token's last four characters, as the page showed them) must match too:
    SQLite gives a revoked token's id to the next one made, and a Revoke button left open
    in another tab must not end that new token."""
    match = [ApiToken.id == token_id, ApiToken.user_id == user_id]
    if hint is not None:
        match.append(ApiToken.hint == hint)
    return db.scalar(delete(ApiToken).where(*match).returning(ApiToken.name))


def remove_all(db: Session, user_id: int) -> int:
    """End every token of the member (their account is deleted, or its password reset); how many."""
    return db.execute(delete(ApiToken).where(ApiToken.user_id == user_id)).rowcount or 0
