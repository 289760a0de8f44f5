"""Sign up, verify, sign in/out, password reset, magic links, account settings.

Every answer about an address reads the same whether or not it is registered.
"""

from __future__ import annotations

import json
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from paperboy.community import account_data, accounts, api_tokens, replies
from paperboy.community.accounts import AccountError
from paperboy.store.models import User, utcnow
from paperboy.web import member_data, ratelimit
from paperboy.web.deps import get_db, get_primary_db, request_session
from paperboy.web.navigation import safe_next
from paperboy.web.security import (
    csrf_exempt,
    current_user,
    end_all_sessions,
    end_other_sessions,
    end_session,
    forget_current_user,
    message_page,
    require_user,
    set_cookie,
    start_session,
)

router = APIRouter()

CHECK_INBOX = ("If {email} can be used here, a message is on its way to it. "
               "Open the link in it to continue.")


def _page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, f"community/{name}", ctx, status_code=status)


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
    user = current_user(request)
    if user is not None:  # as /signin: a second account is made after signing out
        return _page(request, "signed_in.html", next="/", member=user, then="/signup")
    if not request.app.state.settings.signup_open:
        return _page(request, "signup_closed.html")
    return _page(request, "signup.html", domains=request.app.state.settings.signup_domain_list)


@router.post("/signup", response_class=HTMLResponse)
def signup(request: Request, email: str = Form(""), password: str = Form(""),
           display_name: str = Form(""), db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    if not settings.signup_open:  # said before anything is counted or checked
        return _page(request, "signup_closed.html", 403)
    ratelimit.check(request, "signup_ip", ratelimit.client_ip(request))
    domains = settings.signup_domain_list
    try:
        email = accounts.normalise_email(email)
        accounts.check_signup_domain(email, domains)
        accounts.check_password(password)
        display_name = accounts.check_display_name(db, display_name)
    except AccountError as exc:
        return _page(request, "signup.html", 400, error=str(exc), email=email, chosen_name=display_name,
                     domains=domains)
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
    # set whether or not the address was new, so the answer does not tell
    return _mark_signed_up(request, message_page(request, CHECK_INBOX.format(email=email), title="Check your inbox",
                                                 mailed=True), email)


def _mark_signed_up(request: Request, response: Response, email: str) -> Response:
    """Mark this browser as the one that gave the password for ``email``: the
    confirmation link, opened here, signs the member in (``verify``)."""
    set_cookie(request, response, accounts.SIGNED_UP_COOKIE, accounts.signed_up_mark(_secret(request), email),
               accounts.VERIFY_MAX_AGE)
    return response


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify(request: Request, token: str, db: Session = Depends(get_primary_db, scope="function")):
    found = accounts.read_verify_token(_secret(request), token)
    if found is not None:
        uid, email = found
        result = db.execute(update(User).where(User.id == uid, User.email == email,
                                               User.email_verified_at.is_(None))
                            .values(email_verified_at=utcnow()))
        user = db.get(User, uid)
        if user is not None and user.email == email and (result.rowcount or user.email_verified_at):
            me = current_user(request)
            if me is not None and me.id == uid:  # opened again, or in a browser signed in since
                db.commit()
                return RedirectResponse("/account?done=confirmed", status_code=303)
            if not accounts.signed_up_here(_secret(request), request.cookies.get(accounts.SIGNED_UP_COOKIE), email):
                return RedirectResponse("/signin?verified=1", status_code=303)
            # the browser that signed up: in, on the page where a new member starts
            db.commit()
            response = RedirectResponse("/for-you?done=welcome", status_code=303)
            start_session(request, response, uid)
            set_cookie(request, response, accounts.SIGNED_UP_COOKIE, "", 0)  # used once
            return response
    return message_page(request, "This confirmation link is invalid or has expired. Sign in to get a new one.",
                        400, title="Link not valid")


# --- password guesses: sign-in and the account forms that ask for the password share
# one count per address and per client, so a stolen session gets no extra guesses


def _count_password_guess(request: Request, email: str,
                          refused: str = "Too many failed sign-ins: wait a few minutes, or reset your password.",
                          ) -> dict[str, tuple[int, int]]:
    """Count one guess before the password is checked (concurrent guesses cannot all pass
    a limit that is only read first); raise RateLimited past the limits."""
    limits = request.app.state.rate_limits
    key_email = (email or "").strip().lower()[:254]
    keys = {f"signin_fail_email:{key_email}": limits["signin_fail_email"],
            f"signin_fail_ip:{ratelimit.client_ip(request)}": limits["signin_fail_ip"]}
    engine = request.app.state.engine
    allowed = [ratelimit.hit(engine, key, n, seconds) for key, (n, seconds) in keys.items()]
    if not all(allowed):
        raise ratelimit.RateLimited(ratelimit.retry_after(max(s for _, s in keys.values())), refused)
    return keys


def _give_back_guess(request: Request, keys: dict[str, tuple[int, int]]) -> None:
    """A right password gives its count back."""
    for key, (_n, seconds) in keys.items():
        ratelimit.undo(request.app.state.engine, key, seconds)


def _confirm_password(request: Request, db: Session, user: User, password: str) -> bool:
    """Whether ``password`` is the member's current one (counted as a sign-in guess).
    Must run before ``db`` is first used: the counts commit on their own."""
    keys = _count_password_guess(request, user.email,
                                 "Too many wrong passwords: wait a few minutes, or reset your password.")
    stored = db.scalar(select(User.password_hash).where(User.id == user.id))
    db.commit()  # hold no connection (nor SQLite's write lock) through argon2
    if not accounts.verify_password(stored, password or ""):
        return False
    _give_back_guess(request, keys)
    return True


# --- sign in / out -----------------------------------------------------------------


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/", verified: int = 0):
    user = current_user(request)
    if user is not None:
        # Already signed in (a bookmark, another tab, Back after signing in): say so and
        # offer the way on, rather than a form that would sign them in again.
        return _page(request, "signed_in.html", next=safe_next(next), member=user)
    notice = "Your address is confirmed: sign in to continue." if verified else ""
    return _page(request, "signin.html", next=safe_next(next), done_line=notice)


@router.get("/login")
def login_alias(next: str = "/"):
    """The vote script (static/app.js) sends anonymous voters to /login."""
    from urllib.parse import quote

    return RedirectResponse(f"/signin?next={quote(safe_next(next))}", status_code=303)


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
           db: Session = Depends(get_db, scope="function")):
    keys = _count_password_guess(request, email)
    user = accounts.find_for_signin(db, email)
    db.commit()  # hold no connection through argon2
    if not accounts.verify_password(user.password_hash if user else None, password or ""):
        return _page(request, "signin.html", 400, error="Wrong email or password.", wrong=True, email=email,
                     next=safe_next(next))
    _give_back_guess(request, keys)
    if accounts.needs_rehash(user.password_hash):
        new_hash = accounts.hash_password(password)
        db.execute(update(User).where(User.id == user.id).values(password_hash=new_hash))
        db.commit()
    if user.email_verified_at is None:
        if ratelimit.mail_allowed(request, user.email):
            send_verification(request, db, user)
        return _mark_signed_up(request, _page(
            request, "signin.html", 403, email=email, next=safe_next(next),
            error="Please confirm your email address first: we have sent you a new link."), user.email)
    response = RedirectResponse(safe_next(next), status_code=303)
    start_session(request, response, user.id)
    return response


@router.post("/signout")
def signout(request: Request, next: str = Form("/")):
    response = RedirectResponse(safe_next(next), status_code=303)
    end_session(request, response)
    return response


# --- password reset ----------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request):
    return _page(request, "reset_request.html")


@router.post("/reset", response_class=HTMLResponse)
def reset_request(request: Request, email: str = Form(""), db: Session = Depends(get_db, scope="function")):
    return _mail_a_link(request, db, email, "reset", "reset_request.html", "/reset/")


def _mail_a_link(request: Request, db: Session, email: str, kind: str, form: str, path: str):
    """Mail a one-time link of ``kind`` (reset, magic) to the member with this address,
    if there is one and the address is within its mail limit; the answer is the same
    either way, so the form does not tell who is a member."""
    try:
        email = accounts.normalise_email(email)
    except AccountError as exc:
        return _page(request, form, 400, error=str(exc))
    if ratelimit.mail_allowed(request, email):
        user = accounts.user_by_email(db, email)
        if user is not None:
            token = accounts.issue_token(db, user.id, kind)
            accounts.send_account_mail(request.app, db, kind, user.email, {"link": _link(request, path + token)})
    return message_page(request, CHECK_INBOX.format(email=email), title="Check your inbox", mailed=True)


_BAD_LINK = "This link is invalid, was already used or has expired. Ask for a new one."
_NEW_LINK = {"reset": {"link": "/reset", "link_text": "Ask for a new reset link"},
             "magic": {"link": "/signin/magic", "link_text": "Ask for a new sign-in link"}}


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    if accounts.peek_token(db, token, "reset") is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid", **_NEW_LINK["reset"])
    return _page(request, "reset_form.html", token=token)


@router.post("/reset/{token}", response_class=HTMLResponse)
def reset_password(request: Request, token: str, password: str = Form(""), db: Session = Depends(get_db, scope="function")):
    try:
        accounts.check_password(password)
    except AccountError as exc:
        if accounts.peek_token(db, token, "reset") is None:
            return message_page(request, _BAD_LINK, 400, title="Link not valid", **_NEW_LINK["reset"])
        return _page(request, "reset_form.html", 400, token=token, error=str(exc))
    password_hash = accounts.hash_password(password)  # before the write lock is taken
    uid = accounts.consume_token(db, token, "reset")
    if uid is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid", **_NEW_LINK["reset"])
    db.execute(update(User).where(User.id == uid).values(
        password_hash=password_hash,
        email_verified_at=func.coalesce(User.email_verified_at, utcnow())))  # the mail reached its owner
    # A new password ends everything the old one (or a leaked link) may have opened:
    # every other reset and magic link, every session, and every API token (a reset is how
    # a member takes back an account someone else used; a routine change keeps them).
    accounts.revoke_tokens(db, uid)
    end_all_sessions(db, uid)
    revoked = api_tokens.remove_all(db, uid)
    db.commit()
    # The account page says what happened: a reset that ends on today's papers, silently,
    # leaves the member wondering whether it worked.
    response = RedirectResponse("/account?done=reset_tokens#tokens" if revoked else "/account?done=reset",
                                status_code=303)
    start_session(request, response, uid)
    return response


# --- magic sign-in links -------------------------------------------------------------


@router.get("/signin/magic", response_class=HTMLResponse)
def magic_request_form(request: Request):
    return _page(request, "magic_request.html")


@router.post("/signin/magic", response_class=HTMLResponse)
def magic_request(request: Request, email: str = Form(""), db: Session = Depends(get_db, scope="function")):
    return _mail_a_link(request, db, email, "magic", "magic_request.html", "/signin/magic/")


@router.get("/signin/magic/{token}", response_class=HTMLResponse)
def magic_confirm(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    # A GET only shows a button: mail scanners that follow links must not use the token.
    if accounts.peek_token(db, token, "magic") is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid", **_NEW_LINK["magic"])
    return _page(request, "magic_confirm.html", token=token)


@router.post("/signin/magic/{token}")
def magic_signin(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    uid = accounts.consume_token(db, token, "magic")
    if uid is None:
        return message_page(request, _BAD_LINK, 400, title="Link not valid", **_NEW_LINK["magic"])
    db.execute(update(User).where(User.id == uid, User.email_verified_at.is_(None)).values(email_verified_at=utcnow()))
    db.commit()
    response = RedirectResponse("/", status_code=303)
    start_session(request, response, uid)
    return response


# --- account settings --------------------------------------------------------------

# What a finished action says when the browser lands back on /account (?done=...).
DONE = {
    "reply_mails_on": "You will be mailed about replies to your comments and comments on papers you submitted.",
    "reply_mails_off": "You will not be mailed about replies to your comments nor comments on papers you submitted.",
    "name": "Your display name is saved.",
    "confirmed": "Your address is confirmed.",
    "password": "Your password is changed. Every other browser signed in to this account is signed out.",
    "token_revoked": "The token is revoked: scripts using it are refused from now on.",
    "tokens_revoked": "Every token is revoked: scripts using any of them are refused from now on.",
    "reset": "Your password is reset, and you are signed in. Every other browser is signed out.",
    "reset_tokens": ("Your password is reset. Every other browser is signed out, and your API tokens are "
                     "revoked, in case someone else made them: make new ones below for your scripts."),
}
WRONG_PASSWORD = "That is not your current password."


def account_response(request: Request, user: User, status: int = 200, **ctx) -> HTMLResponse:
    """The account page; its API tokens are read through the request's session (the
    route's ``get_db``, which gives the connection back before the response is sent)."""
    tokens = api_tokens.listed(request_session(request), user.id)
    return _page(request, "account.html", status, user=user, tokens=tokens, now=utcnow(),
                 expiry_choices=api_tokens.EXPIRY_DAYS, default_expiry=api_tokens.DEFAULT_EXPIRY,
                 token_form_once=secrets.token_urlsafe(16), **ctx)



@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, done: str = "", user: User = Depends(require_user),
                 db: Session = Depends(get_db, scope="function")):  # closed before the slots are filled
    return account_response(request, user, done_line=DONE.get(done, ""))


@router.post("/account", response_class=HTMLResponse)
def account_update(request: Request, display_name: str = Form(""), user: User = Depends(require_user),
                   db: Session = Depends(get_db, scope="function")):
    try:
        name = accounts.check_display_name(db, display_name, user.id)
    except AccountError as exc:
        return account_response(request, user, 422, name_error=str(exc), chosen_name=display_name[:100])
    db.execute(update(User).where(User.id == user.id).values(**accounts.display_name_values(name)))
    return RedirectResponse("/account?done=name", status_code=303)


@router.post("/account/reply-mails")
def reply_mails_setting(request: Request, on: str = Form(""), user: User = Depends(require_user),
                        db: Session = Depends(get_db, scope="function")):
    """Whether the member is mailed about replies to their comments (a checkbox: sent
    as ``on=1`` when ticked, absent when not)."""
    replies.set_reply_mails(db, user.id, bool(on))
    return RedirectResponse(f"/account?done=reply_mails_{'on' if on else 'off'}#mail", status_code=303)


_BAD_OFF_LINK = "This link is not valid (or its address has changed since)."


@router.get("/account/reply-mails/off/{signed}", response_class=HTMLResponse)
def reply_mails_off_page(request: Request, signed: str, db: Session = Depends(get_db, scope="function")):
    """The link in every reply mail: a button, since opening a link (a mail scanner
    does) must change nothing."""
    if _reply_mails_member(request, db, signed) is None:
        return message_page(request, _BAD_OFF_LINK, 404, title="Link not valid")
    return _page(request, "reply_mails_off.html", action=request.url.path)


@router.post("/account/reply-mails/off/{signed}", response_class=HTMLResponse)
@csrf_exempt
def reply_mails_off(request: Request, signed: str, db: Session = Depends(get_db, scope="function")):
    """The page's button and RFC 8058 one-click from a mail client (no cookie, no CSRF
    token: exempt by design, it only ever turns these mails off)."""
    user_id = _reply_mails_member(request, db, signed)
    if user_id is None:
        return message_page(request, _BAD_OFF_LINK, 404, title="Link not valid")
    replies.set_reply_mails(db, user_id, False)
    return message_page(request, "You will not be mailed about replies to your comments nor comments on papers you submitted any more. "
                        "Your account page can turn these mails on again.", title="No more reply mails")


def _reply_mails_member(request: Request, db: Session, signed: str) -> int | None:
    """The member a reply mail's off link names, if it is still theirs (same address)."""
    named = replies.member_of_off_link(request.app.state.settings, signed)
    if named is None:
        return None
    user_id, email = named
    return user_id if db.scalar(select(User.id).where(User.id == user_id, User.email == email)) else None


@router.post("/account/password", response_class=HTMLResponse)
def change_password(request: Request, current_password: str = Form(""), new_password: str = Form(""),
                    user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    try:
        accounts.check_password(new_password)
    except AccountError as exc:
        return account_response(request, user, 400, password_error=str(exc))
    if not _confirm_password(request, db, user, current_password):
        return account_response(request, user, 400, password_error=WRONG_PASSWORD)
    if new_password == current_password:
        return account_response(request, user, 400, password_error="The new password is the one you have: "
                                                                   "choose another.")
    password_hash = accounts.hash_password(new_password)  # before the write lock is taken
    db.execute(update(User).where(User.id == user.id).values(password_hash=password_hash))
    # As after a reset: whatever the old password (or a link mailed under it) opened ends,
    # except this browser, which just proved it knows both.
    accounts.revoke_tokens(db, user.id)
    end_other_sessions(request, db, user.id)
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/account/email", response_class=HTMLResponse)
def change_email_request(request: Request, new_email: str = Form(""), password: str = Form(""),
                         user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    """Mail a confirmation link to the new address and a notice to the current one; the
    address changes only when the link is opened. The answer is the same whether or not
    the new address already has an account (it then gets no link)."""
    try:
        new = accounts.normalise_email(new_email)
    except AccountError as exc:
        return account_response(request, user, 400, email_error=str(exc), new_email=new_email)
    if new == user.email:
        return account_response(request, user, 400, email_error="That is already your address.", new_email=new_email)
    if not _confirm_password(request, db, user, password):
        return account_response(request, user, 400, email_error=WRONG_PASSWORD, new_email=new_email)
    if ratelimit.mail_allowed(request, new):
        if accounts.user_by_email(db, new) is None:
            token = accounts.email_change_token(_secret(request), user, new)
            accounts.send_account_mail(request.app, db, "email_change", new, {
                "name": user.display_name, "old": user.email, "link": _link(request, f"/account/email/{token}")})
        accounts.send_account_mail(request.app, db, "email_change_notice", user.email, {
            "name": user.display_name, "new": new, "reset_link": _link(request, "/reset")})
    return message_page(request, f"A confirmation link is on its way to {new}. Your address stays {user.email} "
                        "until you open it (within a day).", title="Check your inbox", mailed=True)


def _email_change(request: Request, db: Session, token: str) -> tuple[int, str, str] | None:
    """The link's (user id, old, new) while it can still be used: the account it was
    made for still has the address it moves from."""
    found = accounts.read_email_change_token(_secret(request), token)
    if found is None:
        return None
    uid, created, old, new = found
    row = db.execute(select(User.email, User.created_at).where(User.id == uid)).first()
    if row is None or row.email != old or row.created_at.isoformat() != created:
        return None
    return uid, old, new


_BAD_CHANGE_LINK = "This link is invalid, was already used or has expired. Ask for a new one on your account page."


@router.get("/account/email/{token}", response_class=HTMLResponse)
def change_email_confirm_form(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    # A GET only shows a button: mail scanners that follow links must not change anything.
    found = _email_change(request, db, token)
    if found is None:
        return message_page(request, _BAD_CHANGE_LINK, 400, title="Link not valid")
    return _page(request, "email_confirm.html", old=found[1], new=found[2], action=request.url.path)


@router.post("/account/email/{token}", response_class=HTMLResponse)
def change_email_confirm(request: Request, token: str, db: Session = Depends(get_db, scope="function")):
    found = _email_change(request, db, token)
    if found is None:
        return message_page(request, _BAD_CHANGE_LINK, 400, title="Link not valid")
    uid, old, new = found
    taken = "Another account uses that address now, so this account keeps its address."
    if accounts.user_by_email(db, new) is not None:
        return message_page(request, taken, 409, title="Address in use")
    try:
        with db.begin_nested():
            db.execute(update(User).where(User.id == uid, User.email == old)
                       .values(email=new, email_verified_at=utcnow()))
    except IntegrityError:  # claimed by a sign-up at the same moment
        return message_page(request, taken, 409, title="Address in use")
    # Links mailed to the old address (reset, magic sign-in) must not open the account now.
    accounts.revoke_tokens(db, uid)
    member_data.address_changed(db, uid, old, new)
    return message_page(request, f"This account's address is now {new}.", title="Address changed")


@router.post("/account/export")
def export_data(request: Request, user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    """Everything stored about the member, as a JSON file to keep."""
    ratelimit.check(request, "account_export", str(user.id))
    data = account_data.export_account(db, user.id)
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="my-account-data.json"',
                             "Cache-Control": "no-store"})


@router.post("/account/delete", response_class=HTMLResponse)
def delete_account(request: Request, password: str = Form(""), comments: str = Form(""),
                   user: User = Depends(require_user), db: Session = Depends(get_db, scope="function")):
    if comments not in ("keep", "remove"):
        return account_response(request, user, 400, delete_error="Choose whether your comments stay or go.")
    if not _confirm_password(request, db, user, password):
        return account_response(request, user, 400, delete_error=WRONG_PASSWORD, comments=comments)
    account_data.delete_account(db, user.id, keep_comments=comments == "keep")
    db.commit()
    forget_current_user(request)
    response = message_page(request, "Your account is deleted, and you are signed out. "
                            + ("Your comments stay, signed \u201cdeleted member\u201d." if comments == "keep"
                               else "Your comments are removed."), title="Account deleted")
    end_session(request, response)
    return response
