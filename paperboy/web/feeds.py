"""RSS 2.0 and Atom, as every feed of the site is written (the pages' daily, trending,
category and search feeds; a member's private For you feed).

Every feed is paged, ``ITEMS`` entries a page (``?page=2``…), and says where it stops:
the channel/feed carries RFC 5005 ``first``/``previous``/``next``/``last`` links (both
formats, as ``atom:link`` in RSS), its description says "items 1–50 of 243", and when
more follow, a last entry "193 more papers" links to the page where they can be read
(most feed readers ignore paging links, but every reader shows an entry).

XML is built with ElementTree (so it is always well-formed) from plain text: math stays
as TeX, and characters XML 1.0 forbids are dropped.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Literal
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from paperboy.papers import queries as q
from paperboy.papers.mathplain import plain_text
from paperboy.store.models import Paper
from paperboy.web.navigation import this_path

ITEMS = 50
Format = Literal["rss", "atom"]
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
ET.register_namespace("atom", ATOM_NS)
ET.register_namespace("dc", DC_NS)


def _x(text: str | None) -> str:
    return _BAD_XML.sub("", text or "")


def _when(p: Paper) -> dt.datetime:
    day = p.featured_on or p.announced_on
    if day:
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return p.submitted_at or p.created_at


def _revised(p: Paper) -> dt.datetime:
    """When an entry's content last changed: its arXiv version's date, never before the
    day it was listed. Not ``modified_at``, which every vote moves: a reader would bring
    the paper back as updated at each vote."""
    listed = _when(p)
    return max(listed, p.updated_at) if p.updated_at else listed


def _html_text(text: str) -> str:
    """Plain text as the HTML an RSS ``description`` is read as: escaped (an abstract's
    "<O, classify, x>" would otherwise vanish as a tag), its paragraphs kept."""
    paragraphs = [part.strip() for part in text.split("\n\n") if part.strip()]
    return "".join(f"<p>{html.escape(part)}</p>" for part in paragraphs)


def _sub(parent, tag: str, text: str | None = None, **attrs) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = _x(text)
    return el


@dataclass
class FeedPage:
    """Where a feed page sits: its number, whether more follow, and how many in all (when known)."""
    page: int
    has_next: bool
    total: int | None = None
    more_url: str = "/"  # the HTML page where what this feed page leaves out can be read
    # Parameters the request left to the server (the day it resolved as the latest), put in
    # the paging links so that page 2 is of the same day even once a new one lands.
    pin: dict[str, str] = field(default_factory=dict)

    @property
    def last(self) -> int | None:
        return max(1, -(-self.total // ITEMS)) if self.total is not None else None

    def summary(self, shown: int) -> str:
        first = (self.page - 1) * ITEMS + 1
        span = f"items {first}–{first + shown - 1}" if shown else "no items"
        return f"{span} of {self.total}" if self.total is not None else span

    def more(self) -> str:
        if self.total is not None:
            n = self.total - self.page * ITEMS
            return f"{n} more paper{'' if n == 1 else 's'}"
        return "More papers"


def page_param(page: int = Query(1, ge=1, le=q.MAX_PAGE, description=f"Feed page, from 1 ({ITEMS} items a page).")) -> int:
    return page


def _feed_url(request: Request, base: str, page: int, pin: dict[str, str] | None = None) -> str:
    params = {**{k: v for k, v in request.query_params.items() if k != "page"}, **(pin or {})}
    if page > 1:
        params["page"] = str(page)
    return base + this_path(request) + ("?" + urlencode(params) if params else "")


def _paging_links(request: Request, base: str, paging: FeedPage) -> list[tuple[str, str]]:
    links = [("first", _feed_url(request, base, 1, paging.pin))]
    if paging.page > 1:
        links.append(("previous", _feed_url(request, base, paging.page - 1, paging.pin)))
    if paging.has_next:
        links.append(("next", _feed_url(request, base, paging.page + 1, paging.pin)))
    if paging.last is not None:
        links.append(("last", _feed_url(request, base, paging.last, paging.pin)))
    return links


def render_feed(request: Request, db: Session, fmt: str, title: str, page_path: str, papers: list[Paper],
                paging: FeedPage, notes: dict[int, str] | None = None, headers: dict[str, str] | None = None) -> Response:
    """The feed of ``papers`` in ``fmt``; ``notes`` (by paper id) are put before an entry's
    abstract, as a paragraph of their own (For you's why lines)."""
    settings = request.app.state.settings
    notes = notes or {}

    def summary_of(p: Paper) -> str:
        abstract = plain_text(p.abstract)
        return f"{notes[p.id]}\n\n{abstract}" if p.id in notes else abstract

    authors = q.author_names(db, papers)
    base = settings.resolved_base_url
    self_url = base + this_path(request) + (f"?{request.url.query}" if request.url.query else "")
    page_url = base + page_path
    full_title = f"{settings.site_name}: {title}"
    # The feed changed when its newest entry did (never older than an entry's updated).
    updated = max((_revised(p) for p in papers), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    summary = f"{title}, from {settings.site_name}: {paging.summary(len(papers))}"
    more_url = base + paging.more_url
    next_feed = _feed_url(request, base, paging.page + 1, paging.pin)
    # The "N more papers" entry is new whenever the feed is (a reader that keys entries by
    # id shows it again the next day); the feed's own id is its first page as asked.
    more_id = f"{next_feed}#{updated.isoformat()}"
    feed_id = _feed_url(request, base, 1)
    if paging.has_next:
        summary += f"; {paging.more()[0].lower()}{paging.more()[1:]} at {more_url}"
    more_text = (f"This feed shows {ITEMS} papers a page and stops here. Read the rest at {more_url}; "
                 f"the next page of this feed is {next_feed}")
    mime = "application/rss+xml" if fmt == "rss" else "application/atom+xml"
    links = _paging_links(request, base, paging)
    if fmt == "rss":
        rss = ET.Element("rss", {"version": "2.0"})
        ch = _sub(rss, "channel")
        _sub(ch, "title", full_title)
        _sub(ch, "link", page_url)
        _sub(ch, "description", _html_text(summary))
        _sub(ch, "language", "en")
        _sub(ch, "lastBuildDate", format_datetime(updated))
        _sub(ch, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type="application/rss+xml")
        for rel, href in links:
            _sub(ch, f"{{{ATOM_NS}}}link", href=href, rel=rel, type=mime)
        for p in papers:
            item = _sub(ch, "item")
            url = f"{base}/papers/{p.arxiv_id}"
            _sub(item, "title", plain_text(p.title))
            _sub(item, "link", url)
            _sub(item, "guid", url, isPermaLink="true")
            _sub(item, "pubDate", format_datetime(_when(p)))
            _sub(item, "description", _html_text(summary_of(p)))
            for name in authors[p.id]:
                _sub(item, f"{{{DC_NS}}}creator", name)
            for cat in p.category_list:
                _sub(item, "category", cat)
        if paging.has_next:
            item = _sub(ch, "item")
            _sub(item, "title", paging.more())
            _sub(item, "link", more_url)
            _sub(item, "guid", more_id, isPermaLink="false")
            _sub(item, "pubDate", format_datetime(updated))
            _sub(item, "description", _html_text(more_text))
        body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
        return Response(body, media_type="application/rss+xml; charset=utf-8", headers=headers)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, f"{{{ATOM_NS}}}id", feed_id)
    _sub(feed, f"{{{ATOM_NS}}}title", full_title)
    _sub(feed, f"{{{ATOM_NS}}}updated", updated.isoformat())
    _sub(feed, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type="application/atom+xml")
    _sub(feed, f"{{{ATOM_NS}}}link", href=page_url, rel="alternate", type="text/html")
    for rel, href in links:
        _sub(feed, f"{{{ATOM_NS}}}link", href=href, rel=rel, type=mime)
    _sub(feed, f"{{{ATOM_NS}}}subtitle", summary)
    author = _sub(feed, f"{{{ATOM_NS}}}author")
    _sub(author, f"{{{ATOM_NS}}}name", settings.site_name)
    for p in papers:
        url = f"{base}/papers/{p.arxiv_id}"
        entry = _sub(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, f"{{{ATOM_NS}}}id", url)
        _sub(entry, f"{{{ATOM_NS}}}title", plain_text(p.title))
        _sub(entry, f"{{{ATOM_NS}}}link", href=url, rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM_NS}}}updated", _revised(p).isoformat())
        _sub(entry, f"{{{ATOM_NS}}}published", _when(p).isoformat())
        for name in authors[p.id] or ["Unknown"]:
            a = _sub(entry, f"{{{ATOM_NS}}}author")
            _sub(a, f"{{{ATOM_NS}}}name", name)
        for cat in p.category_list:
            _sub(entry, f"{{{ATOM_NS}}}category", term=cat)
        _sub(entry, f"{{{ATOM_NS}}}summary", summary_of(p), type="text")
    if paging.has_next:
        entry = _sub(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, f"{{{ATOM_NS}}}id", more_id)
        _sub(entry, f"{{{ATOM_NS}}}title", paging.more())
        _sub(entry, f"{{{ATOM_NS}}}link", href=more_url, rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM_NS}}}updated", updated.isoformat())
        _sub(entry, f"{{{ATOM_NS}}}summary", more_text, type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)
