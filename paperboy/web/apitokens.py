"""Personal API tokens: how a member's script acts as the member on ``/api/``.

A token is ``pb_`` and 40 random URL-safe characters, sent as
``Authorization: Bearer pb_…``. Only its SHA-256 is stored (``api_tokens``), as with
session cookies; the member sees it once, when it is made (``community/api_tokens.py``).

A token works on ``/api/`` only. The pages and their forms (password, address, deleting
the account, making more tokens) take a browser session, so a token that leaks cannot
take the account over. A token is read-only unless it was made with write access, and
it expires when its member chose (or never); revoking it ends it at once.

A request that carries a token is judged by the token alone: the cookies it may also
carry are ignored, and it needs no CSRF token. CSRF abuses credentials that a browser
adds by itself; a page on another site cannot add an ``Authorization`` header to a
request here without a CORS preflight, which this service never grants. A wrong,
revoked or expired token is answered 401 on every ``/api/`` route, public ones too,
so a script with a typo learns it at once instead of reading as nobody.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from paperboy.store.db import write_tx
from paperboy.store.models import ApiToken, User, utcnow

log = logging.getLogger(__name__)

PREFIX = "pb_"
TOKEN_SHAPE = re.compile(r"pb_[A-Za-z0-9_-]{40}")
USE_EVERY = dt.timedelta(hours=1)  # how stale ``last_used_at`` may be: one write an hour, not one a request

NO_TOKEN = "Send a personal API token as 'Authorization: Bearer pb_…' (make one on /account#tokens)."
BAD_TOKEN = "This API token is not valid: it is mistyped, revoked or expired. Make a new one on /account#tokens."
READ_ONLY = "This API token is read-only; make one with write access on /account#tokens to change things."


def new_token() -> str:
    """A fresh token (240 random bits)."""
    return PREFIX + secrets.token_urlsafe(30)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str) -> str:
    """The token of an ``Authorization`` header; "" when the header is not a bearer
    token of our shape (any other scheme, or garbage): such a request is refused."""
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not TOKEN_SHAPE.fullmatch(value):
        return ""
    return value


@dataclass(frozen=True)
class TokenUse:
    """The token a request was made with (``security.request_token``)."""

    id: int
    name: str
    can_write: bool
    expires_at: dt.datetime | None
    stale: bool  # its last use is older than USE_EVERY: record this one


def authenticate(engine: Engine, token: str) -> tuple[User, TokenUse] | None:
    """The member and the token, or None for an unknown or expired token. Read on the
    primary: a token made a moment ago works at once."""
    if not token:
        return None
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:
        row = db.execute(
            select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(token),
                   or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
        ).first()
        if row is None:
            return None
        tok, user = row
        db.expunge(user)
    stale = tok.last_used_at is None or now - tok.last_used_at > USE_EVERY
    return user, TokenUse(tok.id, tok.name, bool(tok.can_write), tok.expires_at, stale)


def record_use(engine: Engine, token_id: int) -> None:
    """Note that the token was used (best effort: the next request tries again)."""
    try:
        with write_tx(engine) as conn:
            conn.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=utcnow()))
    except OperationalError as exc:
        log.warning("could not record an API token's use: %s", exc)
