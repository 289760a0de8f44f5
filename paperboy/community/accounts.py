"""Accounts: argon2id password hashes, users, single-use emailed tokens, account mail."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import secrets
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from paperboy.community.models import AccountToken
from paperboy.config import get_settings
from paperboy.mail.addresses import AddressError, normalise_address
from paperboy.mail.render import render_email
from paperboy.store.models import User, utcnow
from paperboy.store.namekeys import name_key
from paperboy.web.security import public_name, token_hash

log = logging.getLogger(__name__)
EMAIL_TEMPLATES = Path(__file__).with_name("templates") / "email"
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
VERIFY_MAX_AGE = 3 * 86400
EMAIL_CHANGE_MAX_AGE = 86400
TOKEN_MINUTES = {"reset": 60, "magic": 15}

_dummy_hashes: dict[tuple[int, int], str] = {}


@functools.cache
def _hasher_with(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)


def _hasher() -> PasswordHasher:
    """argon2id with the configured cost (PAPERBOY_PASSWORD_HASH_*: by default the
    library's recommended parameters)."""
    s = get_settings()
    return _hasher_with(s.password_hash_time_cost, s.password_hash_memory_kib)


class AccountError(ValueError):
    """Bad input for an account action; the message is safe to show."""


def normalise_email(email: str) -> str:
    """Validated (``mail.addresses``) and lower-cased: one account per mailbox."""
    try:
        return normalise_address(email).lower()
    except AddressError as exc:
        # With the validator's reason ("… a special-use or reserved name", for a lab's
        # ana@lab.local): a bare "not valid" left the member guessing what to change.
        raise AccountError(f"Please enter a valid email address. {exc}".strip()) from None


def check_signup_domain(email: str, domains: list[str]) -> None:
    """Sign-up kept to a lab's own addresses (``PAPERBOY_SIGNUP_DOMAINS``): the address's
    domain is one of ``domains`` or under one (``cs.uni.example.edu`` under ``uni.example.edu``)."""
    if not domains:
        return
    domain = email.rsplit("@", 1)[-1].lower()
    if not any(domain == d or domain.endswith("." + d) for d in domains):
        listed = ", ".join(domains)
        raise AccountError(f"Sign-up here is for addresses at {listed}. Ask this instance's admins for an account "
                           "if yours is elsewhere.")


def check_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise AccountError(f"Passwords need at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError("That password is too long.")
    return password


def one_line(text: str, limit: int = 100) -> str:
    """A name a member typed, as stored: one line, runs of space as one, nothing
    unprintable, at most ``limit`` characters (display names, collections, API tokens)."""
    return "".join(ch for ch in " ".join((text or "").split()) if ch.isprintable())[:limit]


def clean_display_name(name: str) -> str:
    return one_line(name)


# What the site calls a member without a name (security.public_name), and one whose
# account is gone: nobody may call themselves that.
_RESERVED_NAME = re.compile(r"member\s*\d+|deleted member")


def check_display_name(db: Session, name: str, user_id: int | None = None) -> str:
    """The display name to store, cleaned; AccountError when it would pass for another
    member: one another member has, as it reads (``store.namekeys.name_key``: case,
    full-width forms and look-alike letters of other scripts folded), or the site's own
    "Member 12". One indexed look-up (``users.display_name_key``)."""
    name = clean_display_name(name)
    if not name:
        return name
    key = name_key(name)
    if _RESERVED_NAME.fullmatch(key):
        raise AccountError(f"“{name}” is how the site names members who have no display name; choose another.")
    taken = db.scalar(select(User.id).where(User.display_name_key == key, User.id != (user_id or 0)).limit(1))
    if taken is not None:
        raise AccountError(f"Another member is called “{name}”, or a name that reads the same; choose a name "
                           "that tells you apart.")
    return name


def display_name_values(name: str) -> dict:
    """The columns to write for a display name: the name and the key it is compared by."""
    return {"display_name": name, "display_name_key": name_key(name) if name else None}


def commenter_name(display_name: str | None, email: str | None, user_id: int | None) -> str:
    """How a member is named wherever others see them (comments, replies, profile,
    collections): ``security.public_name``; "deleted member" once the account is gone."""
    if display_name or (email and user_id):
        return public_name(display_name, user_id)
    return "deleted member"


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (a dummy hash of the configured
    cost stands in)."""
    hasher = _hasher()
    if not stored:
        key = (hasher.time_cost, hasher.memory_cost)
        if key not in _dummy_hashes:
            _dummy_hashes[key] = hasher.hash(secrets.token_urlsafe(16))
        stored, password = _dummy_hashes[key], password + "x"
        try:
            hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            pass
        return False
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.lower()))


def create_user(db: Session, email: str, password: str | None, display_name: str = "",
                is_admin: bool = False, verified: bool = False, password_hash: str | None = None) -> User:
    """A new account; ``password_hash`` lets a caller hash before taking a connection."""
    email = normalise_email(email)
    if password is not None:
        check_password(password)
        password_hash = hash_password(password)
    user = User(email=email, password_hash=password_hash,
                **display_name_values(clean_display_name(display_name)), is_admin=is_admin,
                email_verified_at=utcnow() if verified else None)
    db.add(user)
    db.flush()
    return user


def find_for_signin(db: Session, email: str) -> User | None:
    """The account an address signs in to (detached), or None for a malformed or
    unknown address: the caller checks the password with no connection held."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    user = user_by_email(db, email)
    if user is not None:
        db.expunge(user)
    return user


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def authenticate(db: Session, email: str, password: str) -> User | None:
    try:
        email = normalise_email(email)
    except AccountError:
        verify_password(None, password or "")
        return None
    user = user_by_email(db, email)
    if not verify_password(user.password_hash if user else None, password or ""):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


# --- signed verification links (idempotent, so a signature with an age is enough)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="paperboy-verify-email")


def verify_token(secret: str, user: User) -> str:
    return _serializer(secret).dumps([user.id, user.email])


def read_verify_token(secret: str, token: str) -> tuple[int, str] | None:
    try:
        uid, email = _serializer(secret).loads(token, max_age=VERIFY_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    return int(uid), str(email)


# --- this browser gave the password: the verification link opened in it signs in.
# A cookie set by the sign-up form (and by a sign-in refused for want of a confirmed
# address), naming the address signed; the link alone never signs anyone in (it can be
# forwarded, and mail scanners open it), and another site cannot set this cookie.
SIGNED_UP_COOKIE = "pb_signed_up"


def _signed_up_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="paperboy-signed-up-browser")


def signed_up_mark(secret: str, email: str) -> str:
    """The cookie's value for a browser that gave the password of the account at ``email``."""
    return _signed_up_serializer(secret).dumps(email)


def signed_up_here(secret: str, mark: str | None, email: str) -> bool:
    """Whether ``mark`` (the cookie) says this browser gave the password of the account at ``email``."""
    if not mark:
        return False
    try:
        return _signed_up_serializer(secret).loads(mark, max_age=VERIFY_MAX_AGE) == email
    except (BadSignature, ValueError, TypeError):
        return False


# --- signed links that move an account to a new address. Applying one is idempotent
# and it names the address it moves from, so once the address has changed (by this
# link or another) every outstanding link stops working. It also names the account's
# creation time: SQLite may give a deleted account's id to the next one.


def _email_change_serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="paperboy-change-email")


def email_change_token(secret: str, user: User, new: str) -> str:
    return _email_change_serializer(secret).dumps([user.id, user.created_at.isoformat(), user.email, new])


def read_email_change_token(secret: str, token: str) -> tuple[int, str, str, str] | None:
    """(user id, account created at, old address, new address) of a valid link, or None."""
    try:
        uid, created, old, new = _email_change_serializer(secret).loads(token, max_age=EMAIL_CHANGE_MAX_AGE)
    except (BadSignature, ValueError, TypeError):
        return None
    return int(uid), str(created), str(old), str(new)


# --- single-use tokens (reset, magic link): random, stored hashed, expire, used once


def issue_token(db: Session, user_id: int, purpose: str, minutes: int | None = None) -> str:
    """A new single-use token, stored (hashed) in the caller's transaction."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.execute(AccountToken.__table__.insert().values(
        id=token_hash(token), user_id=user_id, purpose=purpose, created_at=now,
        expires_at=now + dt.timedelta(minutes=minutes or TOKEN_MINUTES[purpose])))
    return token


def revoke_tokens(db: Session, user_id: int) -> None:
    """Every unused reset and magic link of the account stops working."""
    db.execute(update(AccountToken).where(AccountToken.user_id == user_id, AccountToken.used_at.is_(None))
               .values(used_at=utcnow()))


def peek_token(db: Session, token: str, purpose: str) -> AccountToken | None:
    """The token's row if it is valid now (unused, unexpired), without using it."""
    return db.scalar(select(AccountToken).where(
        AccountToken.id == token_hash(token), AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow()))


def consume_token(db: Session, token: str, purpose: str) -> int | None:
    """Use the token once: the guarded UPDATE lets exactly one request win."""
    h = token_hash(token)
    result = db.execute(update(AccountToken).where(
        AccountToken.id == h, AccountToken.purpose == purpose,
        AccountToken.used_at.is_(None), AccountToken.expires_at > utcnow(),
    ).values(used_at=utcnow()))
    if result.rowcount != 1:
        return None
    return db.scalar(select(AccountToken.user_id).where(AccountToken.id == h))


# --- mail ------------------------------------------------------------------------


def send_account_mail(app, db: Session, name: str, to: str, context: dict) -> None:
    """Render ``templates/email/<name>`` and queue it in ``db``'s transaction (the mail
    outbox sends it once that commits): the request's answer and its timing never
    depend on a mail server, nor on whether an address is registered."""
    settings = app.state.settings
    ctx = {"site_name": settings.site_name, "base_url": settings.resolved_base_url, **context}
    msg = render_email(EMAIL_TEMPLATES, name, ctx, to=to, sender=settings.mail_from)
    app.state.outbox.enqueue(db, msg, kind=name, to=to)
