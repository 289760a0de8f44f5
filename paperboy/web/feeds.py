"""RSS 2.0 and Atom feeds: the daily feed, trending, each category and any search.

    /feeds/daily.rss|atom[?date=YYYY-MM-DD]     the latest day (or that day)
    /feeds/trending.rss|atom[?category=cs.LG]
    /feeds/categories/{cat}.rss|atom
    /feeds/search.rss|atom?q=...

XML is built with ElementTree (so it is always well-formed) from plain text: math stays
as TeX, and characters XML 1.0 forbids are dropped.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from paperboy.rank.trending import trending
from paperboy.store.models import Paper
from paperboy.textclean import clean_tex
from paperboy.web import queries as q
from paperboy.web.deps import get_db
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


def render_feed(request: Request, db: Session, fmt: str, title: str, page_path: str, papers: list[Paper]) -> Response:
    settings = request.app.state.settings
    authors = q.author_names(db, papers)
    base = settings.resolved_base_url
    self_url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    page_url = base + page_path
    full_title = f"{settings.site_name}: {title}"
    updated = max((_when(p) for p in papers), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    if fmt == "rss":
        rss = ET.Element("rss", {"version": "2.0"})
        ch = _sub(rss, "channel")
        _sub(ch, "title", full_title)
        _sub(ch, "link", page_url)
        _sub(ch, "description", f"{title}, from {settings.site_name}")
        _sub(ch, "language", "en")
        _sub(ch, "lastBuildDate", format_datetime(updated))
        _sub(ch, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type="application/rss+xml")
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
        body = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
        return Response(body, media_type="application/rss+xml; charset=utf-8")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, f"{{{ATOM_NS}}}id", self_url)
    _sub(feed, f"{{{ATOM_NS}}}title", full_title)
    _sub(feed, f"{{{ATOM_NS}}}updated", updated.isoformat())
    _sub(feed, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type="application/atom+xml")
    _sub(feed, f"{{{ATOM_NS}}}link", href=page_url, rel="alternate", type="text/html")
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
    body = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return Response(body, media_type="application/atom+xml; charset=utf-8")


@router.get("/daily.{fmt}")
def daily_feed(request: Request, fmt: Format, date: str | None = None, db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    try:
        day = q.parse_date(date) if date else q.latest_day(db, settings)
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None
    papers = []
    if day:
        papers, _ = q.feed_papers(db, settings, q.day_period(day), limit=200)
    label = day.strftime("%B %-d, %Y") if day else "no papers yet"
    return render_feed(request, db, fmt, f"daily papers, {label}", f"/papers?date={day}" if day else "/", papers)


@router.get("/trending.{fmt}")
def trending_feed(request: Request, fmt: Format, category: str | None = Query(None, max_length=40),
                  db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    ids, _ = trending(db.connection(), limit=ITEMS, category=category or None,
                      half_life_hours=settings.trending_half_life_hours)
    title = f"trending in {category}" if category else "trending papers"
    return render_feed(request, db, fmt, title, "/trending", q.papers_by_ids(db, ids))


@router.get("/categories/{cat}.{fmt}")
def category_feed(request: Request, cat: str, fmt: Format, db: Session = Depends(get_db, scope="function")):
    papers, total = q.category_papers(db, cat, limit=ITEMS, offset=0)
    if total == 0:
        raise HTTPException(404, f"No papers in category {cat!r} here.")
    return render_feed(request, db, fmt, f"new in {cat}", f"/categories/{cat}", papers)


@router.get("/search.{fmt}")
def search_feed(request: Request, fmt: Format, q_: str = Query(..., alias="q", min_length=1),
                db: Session = Depends(get_db, scope="function")):
    # No length limit: the search page links here for any query it shows (a pasted
    # abstract too), and the service cuts the text at 10,000 characters.
    results = request.app.state.search.search(q_, limit=ITEMS, offset=0, category=None, date_from=None,
                                              date_to=None, author=None, sort="date")
    papers = q.papers_by_ids(db, [h.paper_id for h in results.hits])
    from urllib.parse import quote

    named = " ".join(q_.split())
    named = named if len(named) <= 80 else named[:79] + "…"  # a pasted abstract, named briefly
    return render_feed(request, db, fmt, f"search “{named}”", f"/search?q={quote(q_)}", papers)
