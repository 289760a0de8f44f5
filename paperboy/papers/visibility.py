"""Which papers readers see: the one rule, used by every read (pages, API, feeds,
search, similar papers, trending, digests, collections, follows, submissions).

A paper an administrator hid is kept (votes, comments and collections stay attached,
and it can be unhidden) but is shown nowhere except on the admin page."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false

from paperboy.store.models import Paper


def visible() -> ColumnElement[bool]:
    """The WHERE condition of a paper readers may see."""
    return Paper.hidden == false()
