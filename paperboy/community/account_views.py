"""Sign up, verify, sign in/out, password reset, magic links, account settings.

Every answer about an address reads the same whether or not it is registered.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperboy.community import accounts
from paperboy.community.accounts import AccountError
from paperboy.store.models import User, utcnow
from paperboy.web import ratelimit
from paperboy.web.deps import get_db
from paperboy.web.security import (
    end_all_sessions,
    end_session,
    message_page,
    require_user,
    start_session,
)

router = APIRouter()

CHECK_INBOX = ("If {email} can be used here, a message is on its way to it. "
               "Open the link in it to continue.")


def _page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, f"community/{name}", ctx, status_code=status)


def safe_next(target: str | None) -> str:
    """Only local paths: never another host (no //host, no /\\host, no scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return "/"
    if any(ch in target for ch in "\r\n\t\\"):
        return "/"
    return target


def _secret(request: Request) -> str:
    return request.app.state.settings.resolved_secret_key()


def _link(request: Request, path: str) -> str:
    return request.app.state.settings.resolved_base_url + path


def send_verification(request: Request, db: Session, user: User) -> None:
    token = accounts.verify_token(_secret(request), user)
    accounts.send_account_mail(request.app, db, "verify", user.email,
                               {"name": user.display_name, "link": _link(request, f"/verify/{token}")})


# --- sign up -----------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request):
    return _page(request, "signup.html")


@router.post("/signup", response_class=HTMLResponse)
def signup(request: Request, email: str = Form(""), password: str = Form(""),
           display_name: str = Form(""), db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "signup_ip", ratelimit.client_ip(request))
    try:
        email = accounts.normalise_email(email)
        accounts.check_password(password)
    except AccountError as exc:
        return _page(request, "signup.html", 400, error=str(exc), email=email, chosen_name=display_name)
    registered = accounts.user_by_email(db, email) is not None
    db.commit()  # hold no connection (nor SQLite's write lock) through argon2
    password_hash = accounts.hash_password(password)  # the same work either way
    user = None
    if not registered:
        try:
            user = accounts.create_user(db, email, None, display_name, password_hash=password_hash)
            db.commit()
        except IntegrityError:  # the same address signed up concurrently
            db.rollback()
    if ratelimit.mail_allowed(request, email):
        if user is None:
            accounts.send_account_mail(request.app, db, "signup_exists", email, {})
        else:
            send_verification(request, db, user)
    return message_page(request, CHECK_INBOX.format(email=email), title="Check your inbox")


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    found = accounts.read_verify_token(_secret(request), token)
    if found is not None:
        uid, email = found
        result = db.execute(update(User).where(User.id == uid, User.email == email,
                                               User.email_verified_at.is_(None))
                            .values(email_verified_at=utcnow()))
        user = db.get(User, uid)
        if user is not None and user.email == email and (result.rowcount or user.email_verified_at):
            return RedirectResponse("/signin?verified=1", status_code=303)
    return message_page(request, "This confirmation link is invalid or has expired. Sign in to get a new one.",
                        400, title="Link not valid")


# --- sign in / out -----------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/", verified: int = 0):
    notice = "Your address is confirmed: sign in to continue." if verified else ""
    return _page(request, "signin.html", next=safe_next(next), notice=notice)


@router.get("/login")
def login_alias(next: str = "/"):
    """The web stage's vote script sends anonymous voters to /login."""
    from urllib.parse import quote

    return RedirectResponse(f"/signin?next={quote(safe_next(next))}", status_code=303)


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
           db: Session = Depends(get_db, scope="function")):
    limits = request.app.state.rate_limits
    engine = request.app.state.engine
    key_email = (email or "").strip().lower()[:254]
    keys = {f"signin_fail_email:{key_email}": limits["signin_fail_email"],
            f"signin_fail_ip:{ratelimit.client_ip(request)}": limits["signin_fail_ip"]}
    # Count the attempt before checking the password, so concurrent guesses cannot all
    # pass a limit that is only read first; a right password gives its count back.
    allowed = [ratelimit.hit(engine, key, n, seconds) for key, (n, seconds) in keys.items()]
    if not all(allowed):
        raise ratelimit.RateLimited(ratelimit.retry_after(max(s for _, s in keys.values())),
                                    "Too many failed sign-ins: wait a few minutes, or reset your password.")
    user = accounts.find_for_signin(db, email)
    db.commit()  # hold no connection through argon2
    if not accounts.verify_password(user.password_hash if user else None, password or ""):
        return _page(request, "signin.html", 400, error="Wrong email or password.", email=email, next=safe_next(next))
    for key, (_n, seconds) in keys.items():
        ratelimit.undo(engine, key, seconds)
    if accounts.needs_rehash(user.password_hash):
        new_hash = accounts.hash_password(password)
        db.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
        db.commit()
    if user.email_verified_at is None:
        if ratelimit.mail_allowed(request, user.email):
            send_verification(request, db, user)
        return _page(request, "signin.html", 403, email=email, next=safe_next(next),
                     error="Please confirm your email address first: we have sent you a new link.")
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, user.id)
    return response


@router.post("/signout")
def signout(request: Request):
    response = RedirectResponse("/", status_code=303)
    end_session(request, response)
    return response


# --- password reset ----------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request):
    return _page(request, "reset_request.html")


@router.post("/reset", response_class=HTMLResponse)
def reset_request(request: Request, email: str = Form(""), db: Session = Depends(get_db, scope="function")):
    try:
        email = accounts.normalise_email(email)
    except AccountError as exc:
        return _page(request, "reset_request.html", 400, error=str(exc))
    if ratelimit.mail_allowed(request, email):
        user = accounts.user_by_email(db, email)
        if user is not None:
            token = accounts.issue_token(db, user.id, "reset")
            accounts.send_account_mail(request.app, db, "reset", user.email, {"link": _link(request, f"/reset/{token}")})
    return message_page(request, CHECK_INBOX.format(email=email), title="Check your inbox")


_BAD_LINK = "This link is invalid, was already used or has expired. Ask for a new one."


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    if accounts.peek_token(db, token, "reset") is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid")
    return _page(request, "reset_form.html", token=token)


@router.post("/reset/{token}", response_class=HTMLResponse)
def reset_password(request: Request, token: str, password: str = Form(""), db: Session = Depends(get_db, scope="function")):
    try:
        accounts.check_password(password)
    except AccountError as exc:
        if accounts.peek_token(db, token, "reset") is None:
            return message_page(request, _BAD_LINK, 400, title="Link not valid")
        return _page(request, "reset_form.html", 400, token=token, error=str(exc))
    password_hash = accounts.hash_password(password)  # before the write lock is taken
    uid = accounts.consume_token(db, token, "reset")
    if uid is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid")
    db.execute(update(User).where(User.id == uid).values(
        password_hash=password_hash,
        email_verified_at=func.coalesce(User.email_verified_at, utcnow())))  # the mail reached its owner
    # A new password ends everything the old one (or a leaked link) may have opened:
    # every other reset and magic link, and every session.
    accounts.revoke_tokens(db, uid)
    end_all_sessions(db, uid)
    db.commit()
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, uid)
    return response


# --- magic sign-in links -------------------------------------------------------------


@router.get("/signin/magic", response_class=HTMLResponse)
def magic_request_form(request: Request):
    return _page(request, "magic_request.html")


@router.post("/signin/magic", response_class=HTMLResponse)
def magic_request(request: Request, email: str = Form(""), db: Session = Depends(get_db, scope="function")):
    try:
        email = accounts.normalise_email(email)
    except AccountError as exc:
        return _page(request, "magic_request.html", 400, error=str(exc))
    if ratelimit.mail_allowed(request, email):
        user = accounts.user_by_email(db, email)
        if user is not None:
            token = accounts.issue_token(db, user.id, "magic")
            accounts.send_account_mail(request.app, db, "magic", user.email,
                                       {"link": _link(request, f"/signin/magic/{token}")})
    return message_page(request, CHECK_INBOX.format(email=email), title="Check your inbox")


@router.get("/signin/magic/{token}", response_class=HTMLResponse)
def magic_confirm(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    # A GET only shows a button: mail scanners that follow links must not use the token.
    if accounts.peek_token(db, token, "magic") is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid")
    return _page(request, "magic_confirm.html", token=token)


@router.post("/signin/magic/{token}")
def magic_signin(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    uid = accounts.consume_token(db, token, "magic")
    if uid is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid")
    db.execute(update(User).where(User.id == uid, User.email_verified_at.is_(None)).values(email_verified_at=utcnow()))
    db.commit()
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, uid)
    return response


# --- account settings --------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: User = Depends(require_user)):
    return _page(request, "account.html", user=user)


@router.post("/account", response_class=HTMLResponse)
def account_update(request: Request, display_name: str = Form(""), user: User = Depends(require_user),
                   db: Session = Depends(get_db, scope="function")):
    name = accounts.clean_display_name(display_name)
    db.execute(update(User).where(User.id == user.id).values(display_name=name))
    return RedirectResponse("/account", status_code=303)
