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

How a feed is written (paging, XML) is the foundation's: ``paperboy.web.feeds``.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from paperboy.papers import queries as q
from paperboy.papers.taxonomy import category_name
from paperboy.rank.trending import trending
from paperboy.web.deps import get_db, read_engine
from paperboy.web.feeds import ITEMS, FeedPage, Format, page_param, render_feed

router = APIRouter(prefix="/feeds", include_in_schema=False)


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
    paging = FeedPage(page, page * ITEMS < total, total, html + (f"&p={page + 1}" if day else ""),
                      pin={"date": day.isoformat()} if day and not date else {})
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
        # As the category's page: another spelling goes to the proper one, and an arXiv
        # category with no paper here yet is an empty feed (a reader keeps it), not gone.
        name = category_name(db, cat)
        if name is None:
            raise HTTPException(404, f"No papers in category {cat!r} here, and arXiv has no such category.")
        if name != cat:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/feeds/categories/{quote(name)}.{fmt}{query}", status_code=308)
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
