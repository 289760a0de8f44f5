"""Security headers on every response (pages, API, feeds, static files, errors), and
``Cache-Control: private, no-store`` on a signed-in member's pages and JSON.

The policy follows what Django's SecurityMiddleware and PyPI's warehouse send: scripts
only from this site (no inline script, no eval), no plugins, no framing, forms post
only here, and the referrer reduced to the origin when leaving the site. No page uses
inline styles either; the one exception is the digest preview, which shows a mail exactly
as mailed, and mail clients only understand inline styles. HSTS is sent only when the
public URL is https, since a browser that saw it would refuse plain http for a year.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, MutableHeaders

from paperboy.web.security import SESSION_COOKIE, request_cookies

_CSP_REST = [
    "img-src 'self' data: https:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]
CSP = "; ".join(["default-src 'self'", "script-src 'self'", "style-src 'self'", *_CSP_REST])
# The digest preview (a mail as mailed) may style inline; scripts stay as strict.
MAIL_CSP = "; ".join(["default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", *_CSP_REST])
MAIL_PAGES = re.compile(r"^/subscriptions/[^/]+/preview$")
HSTS = "max-age=31536000; includeSubDomains"
# A signed-in member's pages and JSON hold what is theirs (their address and tokens,
# picks, collections, votes): no shared cache may keep them, and neither may the
# browser, so that Back after signing out on a shared computer asks the server again
# (and gets the signed-out answer) instead of showing the account page from memory.
# The page cache is inside this middleware, so it still keeps them.
MEMBER_CACHE_CONTROL = "private, no-store"
_PERSONAL_TYPES = (b"text/html", b"application/json")


def security_headers(https: bool, csp: str = CSP) -> list[tuple[str, str]]:
    headers = [
        ("content-security-policy", csp),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cross-origin-opener-policy", "same-origin"),
    ]
    if https:
        headers.append(("strict-transport-security", HSTS))
    return headers


class SecurityHeadersMiddleware:
    """Adds the headers to every HTTP response that does not set its own."""

    def __init__(self, app, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https)
        self.mail_headers = security_headers(https, MAIL_CSP)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = self.mail_headers if MAIL_PAGES.match(scope.get("path", "")) else self.headers
        # A session cookie with a value, read as the session reads it (signing out empties it),
        # or a script's personal token: what comes back is that member's.
        request_headers = Headers(scope=scope)
        member = bool(request_cookies(request_headers).get(SESSION_COOKIE)) or "authorization" in request_headers

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in headers:
                    if name not in out:
                        out[name] = value
                if member and "cache-control" not in out and out.get("content-type", "").encode().startswith(
                        _PERSONAL_TYPES):
                    out["cache-control"] = MEMBER_CACHE_CONTROL
            await send(message)

        await self.app(scope, receive, send_with_headers)
