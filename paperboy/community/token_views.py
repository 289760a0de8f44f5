"""The member's API tokens on ``/account#tokens``: make one (shown once), revoke one.

These are pages, not API routes: a token can never make or revoke tokens
(``web/apitokens.py``), so one that leaks cannot keep itself alive.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from paperboy.community import accounts, api_tokens
from paperboy.community.account_views import account_response
from paperboy.store.models import User
from paperboy.web import ratelimit
from paperboy.web.convertors import MAX_ID  # noqa: F401  (importing it registers {x:id})
from paperboy.web.deps import get_db
from paperboy.web.security import require_member, require_user

router = APIRouter()


@router.post("/account/tokens", response_class=HTMLResponse)
def make_token(request: Request, name: str = Form(""), access: str = Form("read"),
               expires: str = Form(api_tokens.DEFAULT_EXPIRY), once: str = Form(""),
               user: User = Depends(require_member), db: Session = Depends(get_db, scope="function")):
    ratelimit.check(request, "write", str(user.id))
    # The page answers the POST itself (the token is shown once, never kept to show
    # after a redirect), so a reload would send the form again: each form carries a
    # one-time value, and a second sending of it makes nothing.
    if once and not ratelimit.hit(request.app.state.engine, f"token-form:{user.id}:{once[:43]}", 1, 7 * 86400):
        return account_response(request, user, 409, token_error=(
            "That form was sent already: the token it made is listed above, and its value was shown once. "
            "If you did not copy it, revoke it and make another."))
    if access not in ("read", "write"):
        return account_response(request, user, 422, token_error="Choose read access, or read and write.",
                                token_name=name[:100])
    try:
        made = api_tokens.make(db, user.id, name, can_write=access == "write", expires=expires)
    except api_tokens.TokenRefused as exc:
        return account_response(request, user, 422, token_error=str(exc), token_name=name[:100])
    _mail_token_made(request, db, user, made.row)
    db.commit()
    response = request.app.state.templates.TemplateResponse(
        request, "community/token_made.html",
        {"token": made.token, "row": made.row, "base_url": request.app.state.settings.resolved_base_url})
    # Shown once: no cache, no history entry that keeps it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _mail_token_made(request: Request, db: Session, user: User, row) -> None:
    """Tell the member a token was made, in the transaction that stores it: if it was not
    them (a session left open somewhere), they learn it at once, with the link to revoke."""
    settings = request.app.state.settings
    expires = f"expires {row.expires_at.strftime('%B %-d, %Y')}" if row.expires_at else "never expires"
    accounts.send_account_mail(request.app, db, "token_made", user.email, {
        "name": user.display_name, "token_name": row.name, "hint": row.hint, "expires": expires,
        "access": "read and write" if row.can_write else "read only",
        "can": "read your votes, collections, follows and picks, and vote, save and follow" if row.can_write
        else "read your votes, collections, follows and picks",
        "tokens_link": f"{settings.resolved_base_url}/account#tokens"})


@router.post("/account/tokens/{token_id:id}/revoke")
def revoke_token(request: Request, token_id: int, hint: str | None = Form(None), user: User = Depends(require_user),
                 db: Session = Depends(get_db, scope="function")):
    if api_tokens.revoke(db, user.id, token_id, hint) is None:
        raise HTTPException(404, "You have no such token (it may be revoked already).")
    return RedirectResponse("/account?done=token_revoked#tokens", status_code=303)


@router.post("/account/tokens/revoke-all")
def revoke_all_tokens(request: Request, user: User = Depends(require_user),
                      db: Session = Depends(get_db, scope="function")):
    """End every token at once: a member who thinks one leaked need not guess which."""
    api_tokens.remove_all(db, user.id)
    return RedirectResponse("/account?done=tokens_revoked#tokens", status_code=303)
