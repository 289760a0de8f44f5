"""RSS 2.0 and Atom feeds: the daily feed, trending, each category and any search.

    /feeds/daily.rss|atom[?date=YYYY-MM-DD][&category=cs.LG]   the latest day (or that day)
    /feeds/trending.rss|atom[?category=cs.LG]
    /feeds/categories/{cat}.rss|atom
    /feeds/search.rss|atom?q=...

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
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from paperboy.papers import queries as q
from paperboy.papers.textclean import clean_tex
from paperboy.rank.trending import trending
from paperboy.store.models import Paper
from paperboy.web.deps import get_db, read_engine
from paperboy.web.mathtext import plain_text

router = APIRouter(prefix="/feeds", include_in_schema=False)
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


def _feed_url(request: Request, base: str, page: int) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "page"}
    if page > 1:
        params["page"] = str(page)
    return base + request.url.path + ("?" + urlencode(params) if params else "")


def _paging_links(request: Request, base: str, paging: FeedPage) -> list[tuple[str, str]]:
    links = [("first", _feed_url(request, base, 1))]
    if paging.page > 1:
        links.append(("previous", _feed_url(request, base, paging.page - 1)))
    if paging.has_next:
        links.append(("next", _feed_url(request, base, paging.page + 1)))
    if paging.last is not None:
        links.append(("last", _feed_url(request, base, paging.last)))
    return links


def render_feed(request: Request, db: Session, fmt: str, title: str, page_path: str, papers: list[Paper],
                paging: FeedPage) -> Response:
    settings = request.app.state.settings
    authors = q.author_names(db, papers)
    base = settings.resolved_base_url
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page_url = base + page_path
    full_title = f"{settings.site_name}: {title}"
    updated = max((_when(p) for p in papers), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    summary = f"{title}, from {settings.site_name}: {paging.summary(len(papers))}"
    more_url = base + paging.more_url
    next_feed = _feed_url(request, base, paging.page + 1)
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
        _sub(ch, "description", summary)
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
            _sub(item, "description", clean_tex(p.abstract))
            for name in authors[p.id]:
                _sub(item, f"{{{DC_NS}}}creator", name)
            for cat in p.category_list:
                _sub(item, "category", cat)
        if paging.has_next:
            item = _sub(ch, "item")
            _sub(item, "title", paging.more())
            _sub(item, "link", more_url)
            _sub(item, "guid", next_feed, isPermaLink="false")
            _sub(item, "description", more_text)
        body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
        return Response(body, media_type="application/rss+xml; charset=utf-8")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, f"{{{ATOM_NS}}}id", self_url)
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
        _sub(entry, f"{{{ATOM_NS}}}updated", (p.modified_at or _when(p)).isoformat())
        _sub(entry, f"{{{ATOM_NS}}}published", _when(p).isoformat())
        for name in authors[p.id] or ["Unknown"]:
            a = _sub(entry, f"{{{ATOM_NS}}}author")
            _sub(a, f"{{{ATOM_NS}}}name", name)
        for cat in p.category_list:
            _sub(entry, f"{{{ATOM_NS}}}category", term=cat)
        _sub(entry, f"{{{ATOM_NS}}}summary", clean_tex(p.abstract), type="text")
    if paging.has_next:
        entry = _sub(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, f"{{{ATOM_NS}}}id", next_feed)
        _sub(entry, f"{{{ATOM_NS}}}title", paging.more())
        _sub(entry, f"{{{ATOM_NS}}}link", href=more_url, rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM_NS}}}updated", updated.isoformat())
        _sub(entry, f"{{{ATOM_NS}}}summary", more_text, type="text")
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/daily.{fmt}")
def daily_feed(request: Request, fmt: Format, date: str | None = None, category: str | None = Query(None, max_length=40),
               page: int = Depends(page_param), db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    try:
        day = q.parse_date(date) if date else q.latest_day(db, settings)
        category = q.parse_category(category)
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None
    papers, total = [], 0
    if day:
        papers, total = q.feed_papers(db, settings, q.day_period(day), limit=ITEMS, offset=(page - 1) * ITEMS,
                                      category=category)
    label = day.strftime("%B %-d, %Y") if day else "no papers yet"
    if category:
        label += f", {category}"
    html = "/"
    if day:
        params = {"date": day.isoformat(), **({"category": category} if category else {})}
        html = f"/papers?{urlencode(params)}"
    paging = FeedPage(page, page * ITEMS < total, total, html + (f"&p={page + 1}" if day else ""))
    return render_feed(request, db, fmt, f"daily papers, {label}", html, papers, paging)


@router.get("/trending.{fmt}")
def trending_feed(request: Request, fmt: Format, category: str | None = Query(None, max_length=40),
                  page: int = Depends(page_param), db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    try:
        category = q.parse_category(category)
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None
    ids, _ = trending(db.connection(), limit=page * ITEMS + 1, category=category,
                      half_life_hours=settings.trending_half_life_hours)
    title = f"trending in {category}" if category else "trending papers"
    html = f"/trending?{urlencode({'category': category})}" if category else "/trending"
    paging = FeedPage(page, len(ids) > page * ITEMS, None, html)
    papers = q.papers_by_ids(db, ids[(page - 1) * ITEMS:page * ITEMS])
    return render_feed(request, db, fmt, title, html, papers, paging)


@router.get("/categories/{cat}.{fmt}")
def category_feed(request: Request, cat: str, fmt: Format, page: int = Depends(page_param),
                  db: Session = Depends(get_db, scope="function")):
    papers, total = q.category_papers(db, cat, limit=ITEMS, offset=(page - 1) * ITEMS)
    if total == 0:
        raise HTTPException(404, f"No papers in category {cat!r} here.")
    html = f"/categories/{quote(cat)}"
    paging = FeedPage(page, page * ITEMS < total, total, f"{html}?p={page + 1}")
    return render_feed(request, db, fmt, f"new in {cat}", html, papers, paging)


@router.get("/search.{fmt}")
def search_feed(request: Request, fmt: Format, q_: str = Query(..., alias="q", min_length=1),
                page: int = Depends(page_param), db: Session = Depends(get_db, scope="function")):
    # No length limit: the search page links here for any query it shows (a pasted
    # abstract too), and the service cuts the text at 10,000 characters.
    results = request.app.state.search.search(q_, limit=ITEMS, offset=(page - 1) * ITEMS, category=None,
                                              date_from=None, date_to=None, author=None, sort="date",
                                              reader=read_engine(request))
    papers = q.papers_by_ids(db, [h.paper_id for h in results.hits])
    html = f"/search?{urlencode({'q': q_, 'sort': 'date'})}"
    paging = FeedPage(page, page * ITEMS < results.total, results.total, html)
    named = " ".join(q_.split())
    named = named if len(named) <= 80 else named[:79] + "…"  # a pasted abstract, named briefly
    return render_feed(request, db, fmt, f"search “{named}”", html, papers, paging)
