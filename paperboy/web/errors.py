"""Errors as a friendly HTML page for people and as JSON for the API.

A request gets JSON when its path is under /api/ or it asks for JSON (Accept), else the
error page. Validation errors (bad query parameters) become one readable sentence.
"""

from __future__ import annotations

import html
import logging
from http import HTTPStatus
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from paperboy.papers.ids import BadRecord, parse_arxiv_id
from paperboy.web.navigation import referring_page, this_path

log = logging.getLogger(__name__)


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_response(request: Request, status: int, message: str, headers: dict | None = None, errors=None,
                   retry_url: str | None = None):
    if wants_json(request):
        body = {"error": _reason(status), "detail": message, "status": status}
        if errors is not None:
            body["errors"] = errors
        return JSONResponse(body, status_code=status, headers=headers)
    templates = request.app.state.templates
    reason = {400: "Bad request", 404: "Not found", 422: "Invalid request"}.get(status, _reason(status))
    # A refused form: back to the page it was sent from (Back keeps what was typed).
    form_page = referring_page(request, "") if request.method == "POST" and status < 500 else ""
    return templates.TemplateResponse(request, "error.html", {
        "status_code": status, "reason": reason, "message": message, "retry_url": retry_url,
        "retry_what": "them" if errors and len(errors) > 1 else "it",
        "form_page": form_page,
    }, status_code=status, headers=headers)


def _plain(err: dict) -> str:
    """pydantic's wording for a bad parameter, said as a person would say it."""
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "int_parsing":
        return "should be a whole number"
    if kind == "float_parsing":
        return "should be a number"
    if kind == "greater_than_equal":
        return f"should be {ctx.get('ge')} or more"
    if kind == "less_than_equal":
        return f"should be {ctx.get('le')} or less"
    if kind == "string_too_long":
        return f"should be at most {ctx.get('max_length')} characters long"
    if kind == "missing":
        return "is required"
    if kind == "too_short":
        n = ctx.get("min_length")
        return f"should have at least {n} item{'' if n == 1 else 's'}"
    if kind == "too_long":
        n = ctx.get("max_length")
        return f"should have at most {n:,} item{'' if n == 1 else 's'}" if isinstance(n, int) else "has too many items"
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return f"should be at least {n} character{'' if n == 1 else 's'} long"
    if kind == "bool_type":
        return "should be true or false (JSON's, not a string)"
    msg = err.get("msg", "is invalid")
    return "should" + msg[len("Input should"):] if msg.startswith("Input should") else msg


def _shown(value) -> str:
    """A sent value, briefly: a long string cut inside its quotes, a list by its size."""
    text = repr(value)
    if len(text) <= 60:
        return text
    if isinstance(value, list | tuple):
        return f"[{len(value):,} items]"
    return text[:57] + ("…'" if isinstance(value, str) else "…")


def describe_validation(exc: RequestValidationError) -> tuple[str, list[dict]]:
    parts, errors = [], []
    for err in exc.errors():
        raw_loc = tuple(err.get("loc", ()))
        loc = [str(p) for p in raw_loc if p not in ("query", "path", "body")]
        name = ".".join(loc) or "request"
        value = err.get("input")
        msg = _plain(err)
        if err.get("type") == "json_invalid":  # loc is ("body", character offset)
            at = raw_loc[1] if len(raw_loc) > 1 else 0
            why = (err.get("ctx") or {}).get("error", "")
            name, value, msg = "body", None, f"is not valid JSON (at character {at}{': ' + why if why else ''})"
        elif raw_loc == ("body",) and err.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            name, value, msg = "body", None, "should be a JSON object, sent with Content-Type: application/json"
        elif raw_loc == ("body",) and err.get("type") == "missing":
            name, value, msg = "body", None, "is required: a JSON object, sent with Content-Type: application/json"
        parts.append(f"{name}={_shown(value)} {msg}" if value is not None and not isinstance(value, dict) else f"{name} {msg}")
        errors.append({"param": name, "message": msg, "type": err.get("type", "")})
    return "Invalid parameter: " + "; ".join(parts) + ".", errors


def without_params(request: Request, names: set[str]) -> str | None:
    """This page's address without the named query parameters: where a person who
    mistyped one can go on (None where the page cannot be had that way)."""
    if request.method != "GET" or not names & set(request.query_params):
        return None
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in names]
    return this_path(request) + ("?" + urlencode(kept) if kept else "")


# Set by the CSRF middleware on a request whose body is over its route's cap: the message.
TOO_LARGE = "paperboy.too_large"
# Set by the CSRF middleware on a form it refuses (another site's, or a wrong token): the message.
FORBIDDEN = "paperboy.forbidden"


def refuse_too_large(request: Request) -> None:
    """A global dependency, first: a body over its route's cap (never read), or a form the
    CSRF check refused, is refused here, before anything of the route runs, so the answer
    is an ordinary error page (or the API's JSON)."""
    message = request.scope.get(TOO_LARGE)
    if message is not None:
        raise StarletteHTTPException(413, message)
    message = request.scope.get(FORBIDDEN)
    if message is not None:
        raise StarletteHTTPException(403, message)


async def no_nul_characters(request: Request) -> None:
    """A global dependency: NUL characters in the URL or in a form's fields are refused
    before any query runs (PostgreSQL cannot even compare text containing them)."""
    if "\x00" in request.url.path or b"%00" in request.scope.get("query_string", b"") \
            or any("\x00" in v for v in request.query_params.values()):
        raise StarletteHTTPException(400, "The address contains a NUL character.")
    ctype = request.headers.get("content-type", "")
    if request.method in ("POST", "PUT", "PATCH") and ctype.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached on the request: the route reads the same
        for name, value in form.multi_items():
            if "\x00" in name or (isinstance(value, str) and "\x00" in value):
                raise StarletteHTTPException(400, f"The form field {name.replace(chr(0), '')!r} contains a NUL character.")


def _paper_address(request: Request) -> str | None:
    """/papers/arXiv:2501.01234 or /papers/https://arxiv.org/abs/... (an id pasted after
    /papers/ as arXiv writes it): the paper's own address, where no route took it."""
    path = request.url.path
    if request.method not in ("GET", "HEAD") or not path.startswith("/papers/"):
        return None
    rest = path[len("/papers/"):]
    if rest.startswith(("http:/", "https:/")) and "://" not in rest:
        rest = rest.replace(":/", "://", 1)  # a proxy may fold the address's // into one
    try:
        pid, _version = parse_arxiv_id(rest)
    except BadRecord:
        return None
    return f"/papers/{pid}" if f"/papers/{pid}" != path else None


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route takes on this path (the router names only the first
    route's), and HEAD wherever GET is taken (web/head.py serves it).

    A ``{arxiv_id:path}`` parameter matches anything below it too: the paper's GET route
    ``/api/papers/{arxiv_id:path}`` matches ``/api/papers/2401.00001/vote`` with the id
    ``2401.00001/vote``, which it then answers 404. So only the routes that match with
    the fewest ``/`` inside their parameters count: the ones this path is written for."""
    slashes: dict[str, int] = {}
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        # From the app's root (a mount, /static, moved it) and without the matched route's parameters.
        probe = {**request.scope, "method": method, "path_params": {},
                 "root_path": request.scope.get("app_root_path", "")}
        # Each route of the included routers on its own (their matches hold path_params).
        for route in iter_route_contexts(request.app.router.routes):
            if route.methods is None and method != "GET":
                continue  # a mount matches any method; ours (the static files) serves GET and HEAD
            match, child = route.matches(probe)
            if match is Match.FULL:
                inside = sum(str(v).count("/") for v in child.get("path_params", {}).values())
                slashes[method] = min(inside, slashes.get(method, inside))
    fewest = min(slashes.values(), default=0)
    allowed = {method for method, inside in slashes.items() if inside == fewest}
    return allowed | ({"HEAD"} if "GET" in allowed else set())


DATABASE_DOWN = "The database is not answering just now; please try again in a moment."


def _database_down(exc: BaseException) -> bool:
    """An error of the database's availability (not reachable, its file gone, a full disk,
    a dropped connection), not of Paperboy's queries."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DBAPIError) and bool(exc.connection_invalidated))


class DatabaseDownMiddleware:
    """A request that meets the database down is answered 503 with Retry-After (the site's
    page, or the API's JSON), and logged in one line: it was a 500 "something went wrong"
    with two tracebacks (ours and the server's) per request, for an outage the operator
    already sees in /healthz."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if not _database_down(exc) or started:
                raise
            log.warning("database unavailable on %s: %s", scope.get("path", ""), str(exc).splitlines()[0][:300])
            request = Request(scope)
            headers = {"Retry-After": "10"}
            if wants_json(request) or scope.get("path", "").startswith("/api/"):
                response = JSONResponse({"error": _reason(503), "detail": DATABASE_DOWN, "status": 503},
                                        status_code=503, headers=headers)
            else:  # a page of its own: the site's templates fill parts from the database
                site = html.escape(request.app.state.settings.site_name)
                response = HTMLResponse(_DOWN_PAGE.format(site=site, message=DATABASE_DOWN), 503, headers=headers)
            await response(scope, receive, send)


_DOWN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unavailable · {site}</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main id="main" class="container"><h1>{site} is unavailable</h1><p>{message}</p>
<p><a href="">Try again</a></p></main></body></html>
"""


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else _reason(exc.status_code)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and message == "Not Found":
            moved = _paper_address(request)
            if moved:
                return RedirectResponse(moved, status_code=301)
            message = f"There is no page at {request.url.path}."
        if exc.status_code == 404 and request.method in ("GET", "HEAD"):
            # GET /api/papers/2401.00001/vote: a catch-all GET route (an id in another form)
            # answered for an address that is another method's (the vote's PUT and DELETE).
            allowed = _allowed_methods(request)
            if allowed and "GET" not in allowed:
                exc = StarletteHTTPException(405)
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
            message = f"{request.method} is not allowed here; use {headers['Allow']}."
            if request.method in ("GET", "HEAD") and not wants_json(request):
                # A person who opened a button's address (a vote, a follow) by hand or by link.
                message = ("This address is a button's (it changes something), not a page to open: "
                           "use the button on the page it belongs to.")
        return error_response(request, exc.status_code, message, headers=headers or None)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        message, errors = describe_validation(exc)
        if not wants_json(request) and all(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
            # /feeds/daily.xyz: for a page or a feed reader, an address with no resource
            # at it (the API keeps its documented 422).
            return error_response(request, 404, f"There is no page at {request.url.path}: "
                                  + message.removeprefix("Invalid parameter: "))
        retry = without_params(request, {e["param"] for e in errors})
        return error_response(request, 422, message, errors=errors, retry_url=retry)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, 500, "Something went wrong on our side; it has been logged.")
