"""Where a form sent without JavaScript takes the member next: a page of this site only.

Every feature's forms come back through these three, so an open redirect is closed in
one place (no other host, no ``//host`` or ``/\\host``, which browsers read as another
host) and every "back" behaves the same: the page the form was on, with its query and
fragment, and at the card the member clicked.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from starlette.requests import Request

from paperboy.web.cards import at_card

# Query parameters that carry a one-time message (a notice after a form, ?done= after an
# account change): left out of the links a page makes to itself (its pager), which would
# say it again on page 2.
ONE_TIME_PARAMS = frozenset({"notice", "who", "kind", "in", "done"})


def this_path(request: Request) -> str:
    """The request's path as an address again (Starlette's is decoded: an author's name
    holds spaces), for links to this page with other parameters."""
    return quote(request.url.path)


def local_or(target: str | None, fallback: str) -> str:
    """``target`` if it is a path of this site, else ``fallback``."""
    if not target or not target.startswith("/") or target.startswith("//") or target.startswith("/\\"):
        return fallback
    if any(ch in target for ch in "\r\n\t\\"):
        return fallback
    return target


def safe_next(target: str | None) -> str:
    """``target`` if it is a path of this site, else ``/``."""
    return local_or(target, "/")


def referring_page(request: Request, fallback: str) -> str:
    """The page the form was sent from (its ``Referer``: path, query and fragment) when it
    is a page of this site; else ``fallback``."""
    ref = request.headers.get("referer")
    if ref:
        parts = urlsplit(ref)
        if parts.netloc in ("", request.headers.get("host", "")):
            return local_or(urlunsplit(("", "", parts.path, parts.query, parts.fragment)), fallback)
    return fallback


def back_at_card(url: str, arxiv_id: str) -> str:
    """``url`` at the paper's card (``cards.at_card``), unless it is the paper's own page,
    which has no card of the paper to scroll to."""
    if urlsplit(url).path == f"/papers/{arxiv_id}":
        return url.split("#", 1)[0]
    return at_card(url, arxiv_id)
