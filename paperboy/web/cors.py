"""Cross-origin reads of the API and the feeds: a lab's dashboard or a member's page on
another site may fetch them from the browser.

Only ``/api/`` and ``/feeds/`` answer with ``Access-Control-Allow-Origin: *``, and never
with credentials: a browser sends no cookie of this site on such a request, so a
cross-origin script acts as nobody, or as the member whose personal token it holds
(``Authorization: Bearer``, which is no ambient credential: CSRF does not apply to it).
Pages and forms are not opened to other origins. Preflights for the API's writes are
answered here, before the method and CSRF checks, which would refuse an OPTIONS.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware

PREFIXES = ("/api/", "/feeds/")
# What a script reads beside the body: paging, caching, rate limits, a new address.
EXPOSED = ["Link", "ETag", "X-Total-Count", "Retry-After", "Location", "WWW-Authenticate"]


class PublicCorsMiddleware:
    """CORS for the API and feeds only; everything else passes as it came."""

    def __init__(self, app) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=["*"], allow_credentials=False,
                                   allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
                                   allow_headers=["Authorization", "Content-Type", "If-None-Match"],
                                   expose_headers=EXPOSED, max_age=86400)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(PREFIXES):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
