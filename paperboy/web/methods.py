"""An unknown method on a known path is answered 405 with Allow, before anything else.

The CSRF check (community/security.py) runs before routing, so without this a DELETE on
a GET-only page was refused 403 as if it were a forged form. This middleware sits
outside it and asks the router the same question routing would: does some route take
this path, and with which methods?
"""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from paperboy.web.errors import error_response

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class MethodNotAllowedMiddleware:
    def __init__(self, app: ASGIApp, fastapi_app) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    def _takes(self, scope: Scope, method: str) -> bool:
        probe = {**scope, "method": method}
        return any(route.matches(probe)[0] is Match.FULL for route in self.fastapi_app.router.routes)

    def _allowed(self, scope: Scope) -> set[str] | None:
        """The methods some route takes on this path, when none takes this request's
        method; None when one does, or when no route knows the path (that is a 404)."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or self._takes(scope, scope["method"]):
            return None  # safe methods pass the CSRF check and the router answers 405 itself
        return {m for m in METHODS if self._takes(scope, m)} or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = self._allowed(scope)
        if not allowed:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        request = Request(scope, receive)
        request.scope["app"] = self.fastapi_app  # templates and settings for the error page
        allow = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
        response = error_response(request, 405, f"{scope['method']} is not allowed here; use {allow}.",
                                  headers={"Allow": allow})
        await response(scope, receive, send)
