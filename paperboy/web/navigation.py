"""Where a form sent without JavaScript takes the member next: a page of this site only.

Every feature's forms come back through these three, so an open redirect is closed in
one place (no other host, no ``//host`` or ``/\\host``, which browsers read as another
host) and every "back" behaves the same: the page the form was on, with its query and
fragment, and at the card the member clicked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from paperboy.web.cards import at_card


def safe_next(target: str | None) -> str:
    """``target`` if it is a path of this site, else ``/``."""
    if not target or not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return "/"
    if any(ch in target for ch in "\r\n\t\\"):
        return "/"
    return target


def referring_page(request: Request, fallback: str) -> str:
    """The page the form was sent from (its ``Referer``: path, query and fragment) when it
    is a page of this site; else ``fallback``."""
    ref = request.headers.get("referer")
    if ref:
        parts = urlsplit(ref)
        if parts.netloc in ("", request.headers.get("host", "")):
            local = safe_next(parts.path + (f"?{parts.query}" if parts.query else "")
                              + (f"#{parts.fragment}" if parts.fragment else ""))
            if local != "/" or parts.path == "/":
                return local
    return fallback


def back_at_card(url: str, arxiv_id: str) -> str:
    """``url`` at the paper's card (``cards.at_card``), unless it is the paper's own page,
    which has no card of the paper to scroll to."""
    if urlsplit(url).path == f"/papers/{arxiv_id}":
        return url.split("#", 1)[0]
    return at_card(url, arxiv_id)
