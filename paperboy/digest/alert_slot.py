"""The search page's "Alert me", per member: a search results page is shared by members
(``web/cache.py``), so whether *this* search is already one of *my* alerts is a slot
(``web/slots.py``), filled from my subscription's row as each response goes out.

A member who has the search as an alert sees that, and where it goes (or that the digest
is paused or off), instead of a button that would only tell them so after a press.
"""

from __future__ import annotations

import json

from markupsafe import escape

from paperboy.digest.services import search_alert
from paperboy.web.slots import FeatureSlot, Visitor, token_input

# One row, "status alerts-as-JSON", of the member's subscription (none without one).
ROWS = "status || ' ' || CAST(alerts AS TEXT) FROM subscriptions WHERE user_id = {user}"

_WHERE = {
    "active": "New papers for this search come in your digest.",
    "pending": "It is sent once you confirm your digest.",
    "paused": "Your digest is paused: it is sent when you resume it.",
    "unsubscribed": "Your digest is off: it is sent if you turn it on again.",
}


def _prepare(q: str, category: str = "") -> tuple:
    alert = search_alert(q, category)
    return (alert.casefold(), str(escape(" ".join(q.split()))), str(escape(category.strip())))


def _subscription(v: Visitor) -> tuple[str, set[str]] | None:
    """The member's digest status and alerts (casefolded), read once per response."""
    if "alert" not in v.menus:
        found = None
        for row in v.rows.get("alert", ()):
            status, _, alerts = str(row).partition(" ")
            try:
                found = (status, {str(a).casefold() for a in json.loads(alerts) or ()})
            except ValueError:  # a row written by hand: as if it held no alert
                found = (status, set())
        v.menus["alert"] = found
    return v.menus["alert"]


def fill(v: Visitor, alert: str, q: str, category: str) -> bytes:
    if v.member is None or v.member.is_suspended:
        return b""
    sub = _subscription(v)
    if sub is not None and alert in sub[1]:
        status = sub[0]
        return ('<p class="alert-me alert-on" role="status">✓ This search is one of your alerts. '
                f'{_WHERE.get(status, "")} <a href="/account/digest#alert-previews-title">What it found lately</a> · '
                '<a href="/account/digest#alerts">Change your alerts</a></p>').encode()
    hidden = f'<input type="hidden" name="category" value="{category}">' if category else ""
    return (f'<form method="post" action="/account/digest/alerts" class="alert-me inline-form">{token_input(v)}'
            f'<input type="hidden" name="q" value="{q}">{hidden}<button type="submit" class="button-small">Alert me'
            '</button> <span class="muted">New papers with all these words (or very close in meaning) in my '
            'digest</span></form>').encode()


SLOT = FeatureSlot("alert", fill=fill, rows=ROWS, prepare=_prepare)
