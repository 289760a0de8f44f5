"""Sessions, current user and CSRF.

Contract used by every feature:
- ``install(app)`` adds the session/CSRF middleware and the error pages.
- ``current_user(request) -> User | None``; ``csrf_input(request) -> Markup``.
- ``template_globals()`` gives templates ``current_user``, ``csrf_input``,
  ``csrf_token`` and the community helpers (``comments_for``, ``user_collections``...).
- FastAPI dependencies ``require_user`` (signed in), ``require_member`` (signed in and
  not suspended) and ``require_admin``.

Sessions are server-side (table ``user_sessions``): the ``pb_session`` cookie holds a
random token and the table only its SHA-256. Cookies are HttpOnly, SameSite=Lax, and
Secure when base_url is https.

CSRF: every POST, PUT, PATCH and DELETE that a route takes is judged by what the
browser says about where it comes from (``cross_origin_verdict``, as datasette's csrf
and Go's ``net/http`` CrossOriginProtection): ``Sec-Fetch-Site: same-origin`` (or
``none``, typed by the user) passes, any other value is refused; without it, an
``Origin`` equal to this host passes and any other is refused. Only a request with
neither header (browsers from before ~2020, scripts) needs the token: every browser
shown a form gets a ``pb_csrf`` cookie (random), and the token in forms and in the
``X-CSRF-Token`` header is an HMAC of it under the secret key, compared in constant
time. Forms carry the token through a slot (``web/slots.py``), filled per response, so
cached HTML never holds one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.routing import Match

from paperboy.store.db import write_tx
from paperboy.store.models import User, UserSession, UTCDateTime, utcnow
from paperboy.web import apitokens, errors, reads
from paperboy.web.deps import BodyTooLarge, read_body, read_engine, replaying, request_session
from paperboy.web.ratelimit import DEFAULT_LIMITS, RateLimited
from paperboy.web.slots import UNKNOWN, Member, slot

log = logging.getLogger(__name__)

SESSION_COOKIE = "pb_session"
CSRF_COOKIE = "pb_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SESSION_DAYS = 30
CSRF_MAX_AGE = 365 * 86400  # outlives browser restarts, so pages kept in the HTTP cache still post
SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
MAX_FORM_BYTES = 1_000_000
_CTX = "paperboy.auth"
_UNSET = object()


token_hash = apitokens.token_hash  # sessions and API tokens: only the SHA-256 is stored


def csrf_exempt(endpoint):
    """Mark a route as needing no CSRF token (only for requests with no ambient
    credentials, e.g. RFC 8058 one-click unsubscribe POSTs from mail clients)."""
    endpoint.csrf_exempt = True
    return endpoint


def takes_uploads(max_bytes: int, too_large: str = ""):
    """Mark a route as taking a file upload of up to ``max_bytes`` (a BibTeX export): its
    body may be that large, where other forms stop at ``MAX_FORM_BYTES``. ``too_large``
    is what a larger one is told (the file's limit, which the member chose the file by)."""
    def mark(endpoint):
        endpoint.max_form_bytes = max_bytes
        endpoint.too_large_message = too_large
        return endpoint
    return mark


# --- errors raised by the dependencies ---------------------------------------------


class AuthError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def message_page(request: Request, message: str, status: int = 200, title: str = "",
                 mailed: bool = False, link: str | None = None, link_text: str = "") -> HTMLResponse:
    """A titled notice; ``mailed``: it says a message was sent (and where it went, when
    the console sender prints mail instead of sending it); ``link``: the way on it names."""
    return request.app.state.templates.TemplateResponse(
        request, "community/message.html",
        {"message": message, "title": title, "mailed": mailed, "link": link, "link_text": link_text},
        status_code=status)


def _api_refusal(status: int, message: str) -> dict:
    """The API's body for a request that may not act: signed out (401, and how a script
    signs in) or not permitted (403)."""
    signed_out = status == 401
    return {"error": "Unauthorized" if signed_out else "Forbidden",
            "detail": f"{message} {apitokens.NO_TOKEN}" if signed_out else message, "status": status}


async def _auth_error(request: Request, exc: AuthError):
    if request.url.path.startswith("/api/"):  # scripts: the API's error shape, never a redirect
        return JSONResponse(_api_refusal(exc.status, exc.message), status_code=exc.status,
                            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None)
    if wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=exc.status)
    if exc.status == 401:
        from urllib.parse import quote, urlsplit

        target = request.url.path
        if request.method != "GET":
            ref = urlsplit(request.headers.get("referer", ""))
            target = ref.path or "/"
            if ref.query:
                target += "?" + ref.query
        return RedirectResponse(f"/signin?next={quote(target)}", status_code=303)
    return message_page(request, exc.message, exc.status, title="Not allowed" if exc.status == 403 else "Please sign in")


async def _rate_limited(request: Request, exc: RateLimited):
    headers = {"Retry-After": str(exc.retry_after)}
    if request.url.path.startswith("/api/"):  # scripts: the API's error shape, whatever they accept
        return JSONResponse({"error": "Too Many Requests", "detail": exc.message, "status": 429},
                            status_code=429, headers=headers)
    if wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=429, headers=headers)
    resp = message_page(request, exc.message, 429, title="Slow down")
    resp.headers.update(headers)
    return resp


# --- the middleware ------------------------------------------------------------------


def _cookie_header(settings, name: str, value: str, max_age: int | None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if settings.resolved_base_url.startswith("https://"):
        parts.append("Secure")
    return "; ".join(parts)


def set_cookie(request: Request, response, name: str, value: str, max_age: int) -> None:
    """Set one of the site's cookies on ``response`` (``max_age`` 0 deletes it): HttpOnly,
    SameSite=Lax, and Secure where the site is served over https."""
    response.raw_headers.append(
        (b"set-cookie", _cookie_header(request.app.state.settings, name, value, max_age).encode()))


def request_cookies(headers: Headers) -> dict[str, str]:
    """The request's cookies by name, the first of a name winning (as the session reads them)."""
    out: dict[str, str] = {}
    for raw in headers.getlist("cookie"):
        for part in raw.split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                out.setdefault(k.strip(), v.strip())
    return out


def flat_routes(routes):
    """(route, endpoint) pairs in matching order, looking inside included routers
    (FastAPI >= 0.16x keeps them nested; older versions flatten them)."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                yield (ctx.starlette_route or ctx.original_route), (ctx.endpoint or getattr(ctx.original_route, "endpoint", None))
        else:
            yield route, getattr(route, "endpoint", None)


class CommunityMiddleware:
    """Reads the cookies once per request and refuses unsafe requests without a valid token."""

    def __init__(self, app, fastapi_app) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    def _route_for(self, scope):
        """The endpoint of the route that takes the request, or ``NO_ROUTE``. A method or
        path no route takes runs nothing: the router answers it (405 with Allow, or 404)."""
        for route, endpoint in flat_routes(self.fastapi_app.router.routes):
            match, _ = route.matches(scope)
            if match == Match.FULL:
                return endpoint
        return NO_ROUTE

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cookies = request_cookies(headers)
        # A script's request with a personal API token is judged by the token alone
        # (web/apitokens.py): its cookies are ignored and it needs no CSRF token.
        by_token = scope["path"].startswith("/api/") and "authorization" in headers
        ctx = {"csrf_cookie": cookies.get(CSRF_COOKIE) or None,
               "session_token": None if by_token else cookies.get(SESSION_COOKIE) or None,
               "new_csrf": None, "user": _UNSET, "api_token": None}
        scope[_CTX] = ctx
        settings = self.fastapi_app.state.settings
        # Only an unsafe request that reaches a route can write: CSRF and a read-only
        # token are judged for those (the route is looked up once).
        endpoint = self._route_for(scope) if scope["method"] not in SAFE_METHODS else NO_ROUTE
        writes = endpoint is not NO_ROUTE
        if by_token and not await self._token_allows(scope, headers, ctx, writes, send):
            return

        protected = writes and not getattr(endpoint, "csrf_exempt", False)
        if protected and not by_token and not ctx["session_token"] and scope["path"].startswith("/api/"):
            # A script that sent no credentials at all (no token, no session): every write
            # of the API is a member's, so it is told to sign in, not that a CSRF token is
            # missing (there is no ambient credential for one to protect).
            await _json(send, 401, _api_refusal(401, SIGN_IN_FIRST), [(b"www-authenticate", b"Bearer")])
            return
        if protected and not by_token and headers.get("authorization", "").lower().startswith("bearer "):
            # A script's token sent to a form of the site: tokens act on /api/ only (they
            # cannot change a password, an address or the tokens themselves).
            await self._refuse(scope, receive, send, "Personal API tokens work on /api/ only; this address is "
                                                     "a form of the site, for a signed-in browser. The API's "
                                                     "operations are listed at /docs.")
            return
        verdict = ALLOW if by_token else cross_origin_verdict(headers, settings) if protected else ALLOW
        if verdict == REFUSE:
            await self._refuse(scope, receive, send, "Cross-origin request refused: this form or request came "
                                                     "from another site.")
            return
        if protected:
            limit = getattr(endpoint, "max_form_bytes", MAX_FORM_BYTES)
            try:  # the size cap holds whatever decides the CSRF question
                body = await read_body(receive, limit)
            except BodyTooLarge:
                # Refused inside the app (errors.refuse_too_large, before the route runs), so
                # the page is the site's own with this member's header (the page cache fills
                # it), or JSON for a script. The body is not read, and no CSRF check is
                # needed: nothing is done but saying no.
                scope[errors.TOO_LARGE] = (getattr(endpoint, "too_large_message", "")
                                           or f"Request too large: this address takes at most {limit / 1e6:g} MB.")
                await self.app(scope, replaying(b"", receive), send)
                return
            if body is None:
                return
            if verdict == TOKEN:
                token = headers.get(CSRF_HEADER) or await _form_token(scope, body, headers)
                if not check_csrf(self.fastapi_app, ctx["csrf_cookie"], token):
                    if scope["path"].startswith("/api/"):  # a browser's script on its session
                        message = (f"This request carries the session cookie but not its CSRF token: send the "
                                   f"{CSRF_COOKIE} cookie's value in an X-CSRF-Token header, or use a personal "
                                   f"API token (Authorization: Bearer) instead of the session.")
                    else:
                        message = ("This form is out of date or was not sent from this site (its CSRF token is "
                                   "missing or wrong): reload the page and send it again.")
                    await self._refuse(scope, receive, send, message)
                    return
            receive = replaying(body, receive)

        async def send_with_cookies(message):
            if message["type"] == "http.response.start" and ctx["new_csrf"]:
                out = MutableHeaders(scope=message)
                already = any(v.startswith(f"{CSRF_COOKIE}=") for v in out.getlist("set-cookie"))
                if not already:
                    out.append("set-cookie", _cookie_header(settings, CSRF_COOKIE, ctx["new_csrf"], CSRF_MAX_AGE))
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookies)
        finally:
            if ctx.get("touch"):
                await run_in_threadpool(touch_session, self.fastapi_app.state.engine, ctx["touch"])
            if ctx["api_token"] is not None and ctx["api_token"].stale:
                await run_in_threadpool(apitokens.record_use, self.fastapi_app.state.engine, ctx["api_token"].id)

    async def _refuse(self, scope, receive, send, message: str) -> None:
        """403 for a form this check refuses, answered inside the app (errors.FORBIDDEN,
        before anything of the route runs): the site's own error page, or JSON for a
        script. Its body is not read, and nothing is done but saying no."""
        scope[errors.FORBIDDEN] = message
        await self.app(scope, replaying(b"", receive), send)

    async def _token_allows(self, scope, headers: Headers, ctx: dict, writes: bool, send) -> bool:
        """Sign the request in by its API token; answer 401 for a bad token and 403 for
        a read-only token's attempt to change something (False: answered here)."""
        token = apitokens.bearer(headers["authorization"])
        if not token:
            await _api_error(send, 401, BAD_HEADER, bearer_error="invalid_request")
            return False
        found = await run_in_threadpool(apitokens.authenticate, self.fastapi_app.state.engine, token)
        if found is None:
            await _api_error(send, 401, apitokens.BAD_TOKEN, bearer_error="invalid_token")
            return False
        ctx["user"], ctx["api_token"] = found
        # A script carries no pb_lsn cookie (web/reads.py) to read its own writes on a
        # replica; scripts are few, so their reads go to the primary.
        reads.use_primary(scope)
        if writes and not found[1].can_write:
            await _api_error(send, 403, apitokens.READ_ONLY, bearer_error="insufficient_scope")
            return False
        return True


ALLOW, REFUSE, TOKEN = "allow", "refuse", "token"
NO_ROUTE = object()  # CommunityMiddleware._route_for: no route takes the request


def cross_origin_verdict(headers: Headers, settings) -> str:
    """ALLOW, REFUSE, or TOKEN (the browser said nothing: the CSRF token decides).

    ``Sec-Fetch-Site`` is set by the browser and cannot be forged by a page; ``Origin``
    is its older equivalent. ``same-site`` is refused too: a sibling subdomain is not
    this application."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return ALLOW if site in ("same-origin", "none") else REFUSE
    origin = headers.get("origin")
    if origin is None:
        return TOKEN
    return ALLOW if origin_matches(origin, headers.get("host", ""), settings) else REFUSE


def origin_matches(origin: str, host: str, settings) -> bool:
    """Whether ``Origin`` names this site: its host:port equals the request's Host (as
    Go compares them), or it equals the configured public URL's origin."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file:), or garbage
    if host and parts.netloc.lower() == host.lower():
        return True
    if settings.base_url:
        base = urlsplit(settings.resolved_base_url)
        return (parts.scheme, parts.netloc.lower()) == (base.scheme, base.netloc.lower())
    return False


async def _form_token(scope, body: bytes, headers: Headers) -> str | None:
    ctype = headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        for k, v in parse_qsl(body.decode("latin-1"), keep_blank_values=True):
            if k == CSRF_FIELD:
                return v
        return None
    if ctype.startswith("multipart/form-data"):
        sent = False

        async def once():
            nonlocal sent
            if sent:
                return {"type": "http.request", "body": b"", "more_body": False}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        req = Request(scope, receive=once)
        try:
            form = await req.form()
            value = form.get(CSRF_FIELD)
            await form.close()
        except Exception:  # malformed body: no token
            return None
        return value if isinstance(value, str) else None
    return None


BAD_HEADER = "The Authorization header must be 'Bearer ' and a personal API token (pb_ and 40 characters)."


async def _api_error(send, status: int, text: str, bearer_error: str) -> None:
    """The API's error shape, with the RFC 6750 challenge that says what was wrong."""
    await _json(send, status, {"error": "Unauthorized" if status == 401 else "Forbidden", "detail": text,
                               "status": status},
                [(b"www-authenticate", f'Bearer error="{bearer_error}"'.encode())])


async def _json(send, status: int, data: dict, headers: list | None = None) -> None:
    body = json.dumps(data, separators=(",", ":")).encode()  # compact, as the app's own JSON
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _csrf_for(app, cookie: str) -> str:
    return hmac.new(app.state.csrf_key, b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()


def csrf_pair(app) -> tuple[str, str]:
    """A fresh (cookie, token) pair, as a browser gets them (for scripts and tests)."""
    cookie = secrets.token_urlsafe(32)
    return cookie, _csrf_for(app, cookie)


def check_csrf(app, cookie: str | None, token: str | None) -> bool:
    if not cookie or not token:
        return False
    return hmac.compare_digest(_csrf_for(app, cookie), token)


def install(app) -> None:
    settings = app.state.settings
    app.state.csrf_key = hashlib.sha256(b"paperboy-csrf|" + settings.resolved_secret_key().encode()).digest()
    app.state.rate_limits = dict(DEFAULT_LIMITS)
    app.add_middleware(CommunityMiddleware, fastapi_app=app)
    app.add_exception_handler(AuthError, _auth_error)
    app.add_exception_handler(RateLimited, _rate_limited)


# --- CSRF in templates -------------------------------------------------------------


def csrf_token(request: Request) -> str:
    ctx = request.scope.get(_CTX)
    if ctx is None:
        return ""
    cookie = ctx["new_csrf"] or ctx["csrf_cookie"]
    if not cookie:
        cookie = ctx["new_csrf"] = secrets.token_urlsafe(32)
    return _csrf_for(request.app, cookie)


def csrf_input(request: Request) -> Markup:
    """The token input of a form, as a slot: filled with this visitor's token when the
    response is sent, so a cached page holds no one's token."""
    return slot(request, "csrf")


# --- sessions --------------------------------------------------------------------


def current_user(request: Request) -> User | None:
    """The signed-in member of this request (detached ORM object), or None.

    Read through the request's one session; a session seen again after 12 hours is
    extended once the response is out (``touch_session``), so a read-only request
    never writes."""
    ctx = request.scope.get(_CTX)
    if ctx is None:
        return None
    if ctx["user"] is not _UNSET:
        return ctx["user"]
    user = None
    token = ctx["session_token"]
    if token:
        now = utcnow()
        stmt = (select(UserSession.id, UserSession.last_seen_at, User).join(User, User.id == UserSession.user_id)
                .where(UserSession.id == token_hash(token), UserSession.expires_at > now))
        db = request_session(request)
        if db.in_transaction():  # the request's connection is held: read through it
            row = db.execute(stmt).first()
            if row is not None:
                db.expunge(row[2])
        else:
            # Usually the first query of a request: a short read of its own, so a write
            # request's unit of work (which takes SQLite's write lock when it begins)
            # has not begun yet, and rate-limit counts can still commit on their own.
            with Session(read_engine(request), expire_on_commit=False) as own:
                row = own.execute(stmt).first()
                if row is not None:
                    own.expunge(row[2])
        if row is not None:
            sid, last_seen, user = row
            if now - last_seen > dt.timedelta(hours=12):
                ctx["touch"] = sid
    ctx["user"] = user
    return user


def request_token(request: Request) -> apitokens.TokenUse | None:
    """The personal API token this request was made with, or None (a browser session)."""
    ctx = request.scope.get(_CTX)
    return ctx and ctx.get("api_token")


def public_name(display_name: str | None, user_id: int) -> str:
    """How a member is named to others: their display name, else "Member 12" (never their
    address's local part: john.smith.1985 is half an address)."""
    return display_name or f"Member {user_id}"


def as_member(user: User | None) -> Member | None:
    if user is None:
        return None
    return Member(user.id, public_name(user.display_name, user.id), bool(user.is_admin), bool(user.is_suspended),
                  user.unread_replies or 0)


def member_query(*extra):
    """The session's member (and ``extra`` columns), to build once: building a
    statement costs more than running this one. Parameters: ``session_params``."""
    return (select(User.id, User.display_name, User.email, User.is_admin, User.is_suspended, User.unread_replies, *extra)
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.id == bindparam("sid"), UserSession.expires_at > bindparam("now", type_=UTCDateTime)))


def session_params(scope) -> dict | None:
    ctx = scope.get(_CTX)
    token = ctx and ctx["session_token"]
    return {"sid": token_hash(token), "now": utcnow()} if token else None


def member_from_row(row) -> Member:
    uid, name, email, is_admin, is_suspended, unread = row[:6]
    return Member(uid, public_name(name, uid), bool(is_admin), bool(is_suspended), unread or 0)


_MEMBER_SQL = member_query()


class MemberCache:
    """Members by session token hash, for the page cache, each kept ``ttl`` seconds.

    Signing out (``end_session``) and signing out everywhere (``end_all_sessions``)
    forget the entries at once in this process. Another process keeps showing a
    signed-out or suspended session its member's cached pages for at most ``ttl``
    seconds; anything it would change goes through ``current_user``, which reads the
    session table every time."""

    def __init__(self, ttl: float = 2.0, max_entries: int = 100_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[Member | None, float]] = {}

    def get(self, conn, scope) -> Member | None:
        member = self.cached(scope)
        if member is not UNKNOWN:
            return member
        params = session_params(scope)
        now = time.monotonic()
        row = conn.execute(_MEMBER_SQL, params).first()
        member = member_from_row(row) if row else None
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[params["sid"]] = (member, now)
        return member

    def cached(self, scope):
        """The member if known without a query (this request's, or one looked up less
        than ``ttl`` seconds ago); else ``UNKNOWN``."""
        ctx = scope.get(_CTX)
        if ctx is None:
            return None
        if ctx["user"] is not _UNSET:
            return as_member(ctx["user"])
        if not ctx["session_token"]:
            return None
        hit = self._entries.get(token_hash(ctx["session_token"]))
        if hit is not None and time.monotonic() - hit[1] < self.ttl:
            return hit[0]
        return UNKNOWN

    def forget(self, session_id: str) -> None:
        self._entries.pop(session_id, None)

    def forget_user(self, user_id: int) -> None:
        for sid, (member, _) in list(self._entries.items()):
            if member is not None and member.id == user_id:
                self._entries.pop(sid, None)


MEMBERS = MemberCache()


def known_member(scope):
    """The member, if known without a query: None without a session cookie, the one
    ``current_user`` found if it ran, else ``slots.UNKNOWN``."""
    ctx = scope.get(_CTX)
    if ctx is None or not ctx["session_token"]:
        return None
    if ctx["user"] is not _UNSET:
        return as_member(ctx["user"])
    return UNKNOWN


# Renders a page shared by all ordinary members: it stands in for the real one, so
# nothing a template reads from ``current_user`` can be someone's own (web/cache.py).
STAND_IN_ID = 0  # no account has it: row ids start at 1


def stand_in_member() -> User:
    return User(id=STAND_IN_ID, email="member@invalid", display_name="", is_admin=False, is_suspended=False)


MEMO = "paperboy.memo"  # per-request results of template helpers (dropped when a page is re-rendered)
PERSONAL = "paperboy.personal"  # set when a shared rendering read a member's own state


def member_state_user(request: Request) -> User | None:
    """``current_user`` for a helper that reads the member's *own* state (votes, saves,
    follows) outside a slot. In a rendering shared by members that state would be the
    stand-in's, so the rendering is marked personal: the cache then serves this page to
    each member rendered for them (``web/cache.py``), never the shared copy."""
    user = current_user(request)
    if user is not None and user.id == STAND_IN_ID:
        request.scope[PERSONAL] = True
    return user


def memo(request: Request) -> dict:
    """A dict for this request's template helpers to keep what they read."""
    return request.scope.setdefault(MEMO, {})


def forget_user(scope) -> None:
    """Make ``current_user`` look the member up again (after a stand-in rendering)."""
    ctx = scope.get(_CTX)
    if ctx is not None:
        ctx["user"] = _UNSET


def render_as(scope, user: User | None) -> None:
    """Make ``current_user`` answer ``user`` for the rest of this request."""
    ctx = scope.get(_CTX)
    if ctx is not None:
        ctx["user"] = user


def has_session_cookie(scope) -> bool:
    ctx = scope.get(_CTX)
    return bool(ctx and ctx["session_token"])


def touch_session(engine, session_id: str) -> None:
    """Extend a session that is in use (best effort: the next request tries again)."""
    now = utcnow()
    try:
        with write_tx(engine) as conn:
            conn.execute(update(UserSession).where(UserSession.id == session_id).values(
                last_seen_at=now, expires_at=now + dt.timedelta(days=SESSION_DAYS)))
    except OperationalError as exc:
        log.warning("could not extend a session: %s", exc)


def start_session(request: Request, response, user_id: int) -> None:
    """Sign in: a brand-new session id (any old one is dropped) and a new CSRF cookie."""
    engine = request.app.state.engine
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with write_tx(engine) as conn:
        old = (request.scope.get(_CTX) or {}).get("session_token")
        if old:
            conn.execute(delete(UserSession).where(UserSession.id == token_hash(old)))
        conn.execute(UserSession.__table__.insert().values(
            id=token_hash(token), user_id=user_id, created_at=now, last_seen_at=now,
            expires_at=now + dt.timedelta(days=SESSION_DAYS)))
        if secrets.randbelow(50) == 0:
            conn.execute(delete(UserSession).where(UserSession.expires_at < now))
    set_cookie(request, response, SESSION_COOKIE, token, SESSION_DAYS * 86400)
    set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(32), CSRF_MAX_AGE)


def end_session(request: Request, response) -> None:
    token = (request.scope.get(_CTX) or {}).get("session_token")
    if token:
        with write_tx(request.app.state.engine) as conn:
            conn.execute(delete(UserSession).where(UserSession.id == token_hash(token)))
        MEMBERS.forget(token_hash(token))
    set_cookie(request, response, SESSION_COOKIE, "", 0)
    set_cookie(request, response, CSRF_COOKIE, secrets.token_urlsafe(32), CSRF_MAX_AGE)


def end_all_sessions(db, user_id: int) -> None:
    """Sign the account out everywhere, in the caller's transaction."""
    db.execute(delete(UserSession).where(UserSession.user_id == user_id))
    MEMBERS.forget_user(user_id)


def end_other_sessions(request: Request, db, user_id: int) -> None:
    """Sign the account out everywhere but in this browser, in the caller's transaction."""
    token = (request.scope.get(_CTX) or {}).get("session_token")
    keep = token_hash(token) if token else ""
    db.execute(delete(UserSession).where(UserSession.user_id == user_id, UserSession.id != keep))


def forget_member(user_id: int) -> None:
    """Look the member up again on their next request in this process (what the header
    shows of them changed)."""
    MEMBERS.forget_user(user_id)


def forget_current_user(request: Request) -> None:
    """The rest of this request renders as signed out (the account was just deleted)."""
    ctx = request.scope.get(_CTX)
    if ctx is not None:
        ctx["user"] = None


# --- dependencies ------------------------------------------------------------------

SUSPENDED = "Your account is suspended: you cannot vote, comment or submit. Contact the administrators if you think this is a mistake."


SIGN_IN_FIRST = "Please sign in first."


def require_user(request: Request) -> User:
    """Any signed-in account (suspended ones too: they may still read and sign out)."""
    user = current_user(request)
    if user is None:
        raise AuthError(401, SIGN_IN_FIRST)
    return user


def require_member(request: Request) -> User:
    """A signed-in account allowed to act (not suspended)."""
    user = require_user(request)
    if user.is_suspended:
        raise AuthError(403, SUSPENDED)
    return user


def require_admin(request: Request) -> User:
    user = require_user(request)
    if not user.is_admin or user.is_suspended:
        raise AuthError(403, "Only administrators may do this.")
    return user


def template_globals() -> dict:
    return {"current_user": current_user, "csrf_input": csrf_input, "csrf_token": csrf_token, "slot": slot}
