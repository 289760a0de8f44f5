"""HTML pages: the daily/weekly/monthly feed, trending, a paper, search, authors, categories.

Every page works without JavaScript; static/app.js only enhances (votes without reload,
expanding abstracts, copying BibTeX). Bad parameters are answered with a friendly 4xx page
(see errors.py), never a 500.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import nh3
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from paperboy.index.query import parse_query
from paperboy.papers import queries as q
from paperboy.papers.ids import BadRecord, parse_arxiv_id
from paperboy.papers.taxonomy import category_name
from paperboy.papers.text import shorten
from paperboy.rank.trending import WINDOW_HALF_LIVES, explanation, reference_time, trending
from paperboy.web import (
    convertors,  # noqa: F401  (registers {x:arxiv})
    security,
)
from paperboy.web.bibtex import bibtex
from paperboy.web.cards import build_cards
from paperboy.web.deps import get_db, read_engine
from paperboy.web.mathtext import has_math, render_math_in_html
from paperboy.web.navigation import ONE_TIME_PARAMS, this_path
from paperboy.web.trendspark import topic_spark

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@dataclass
class Pager:
    page: int
    pages: int
    prev_url: str | None
    next_url: str | None
    total: int = 0
    size: int = PAGE_SIZE
    last_url: str | None = None

    @property
    def first_item(self) -> int:
        return min(self.total, (self.page - 1) * self.size + 1)

    @property
    def last_item(self) -> int:
        return min(self.total, self.page * self.size)

    @property
    def past_end(self) -> bool:
        """A page number beyond the last page (a stale link, a hand-edited URL)."""
        return self.page > self.pages


def page_url(request: Request, n: int) -> str:
    """This URL with page ``n`` (the first page has no ``p``), every other parameter kept
    but a one-time notice's."""
    params = {k: v for k, v in request.query_params.items() if k not in ONE_TIME_PARAMS}
    params["p"] = str(n)
    if n == 1:
        params.pop("p")
    return this_path(request) + ("?" + urlencode(params) if params else "")


def make_pager(request: Request, page: int, total: int, size: int) -> Pager:
    pages = max(1, math.ceil(total / size))
    prev_url = page_url(request, min(page - 1, pages)) if page > 1 else None
    next_url = page_url(request, page + 1) if page < pages else None
    return Pager(page, pages, prev_url, next_url, total, size, page_url(request, pages))


def get_page_db(request: Request) -> Iterator[Session]:
    """The request's session, opened after the member is known.

    Together with ``release`` this keeps a request from ever holding two pooled
    connections at once (the member look-up, the search service and features'
    template includes open their own), which under load would exhaust the pool.
    """
    security.current_user(request)
    yield from get_db(request)


def release(db: Session) -> None:
    """End the read transaction and give its connection back to the pool."""
    db.commit()


def render(request: Request, name: str, context: dict, db: Session | None = None, status_code: int = 200) -> HTMLResponse:
    if db is not None:
        release(db)
    return request.app.state.templates.TemplateResponse(request, name, context, status_code=status_code)


def bad(message: str) -> HTTPException:
    return HTTPException(status_code=422, detail=message)


def page_param(p: int = Query(1, ge=1, le=q.MAX_PAGE, description="Page number, from 1.")) -> int:
    return p


def user_of(request: Request):
    return security.current_user(request)


# --- feeds ------------------------------------------------------------------------

def feed_filters(category: str | None = Query(None, max_length=40, description="Only papers in this category, e.g. cs.LG."),
                 sort: str | None = Query(None, max_length=40, description="votes (the default) or newest.")) -> tuple[str | None, str]:
    try:
        return q.parse_category(category), q.parse_sort(sort)
    except q.BadParameter as exc:
        raise bad(str(exc)) from None


@router.get("/", response_class=HTMLResponse)
def home(request: Request, p: int = Depends(page_param), filters: tuple = Depends(feed_filters),
         db: Session = Depends(get_page_db, scope="function")) -> HTMLResponse:
    settings = request.app.state.settings
    day = q.latest_day(db, settings) or dt.date.today()
    return _feed(request, db, q.day_period(day), p, filters)


@router.get("/papers", response_class=HTMLResponse)
def papers(request: Request, date: str | None = None, week: str | None = None, month: str | None = None,
           p: int = Depends(page_param), filters: tuple = Depends(feed_filters),
           db: Session = Depends(get_page_db, scope="function")) -> HTMLResponse:
    try:
        period = q.parse_period(date, week, month)
    except q.BadParameter as exc:
        raise bad(str(exc)) from None
    if period is None:
        settings = request.app.state.settings
        period = q.day_period(q.latest_day(db, settings) or dt.date.today())
    return _feed(request, db, period, p, filters)


def _with_filters(url: str, category: str | None, sort: str) -> str:
    """A period link that keeps the chosen category and sort (defaults are left out)."""
    extra = {k: v for k, v in (("category", category), ("sort", sort)) if v and not (k == "sort" and v == "votes")}
    return url + ("&" + urlencode(extra) if extra else "")


def _neighbour_label(period: q.Period, neighbour: q.Period | None, direction: int) -> str:
    """"Previous week" for the adjacent one; past empty ones, the one it leads to."""
    if neighbour is None:
        return ""
    if neighbour == period.shifted(direction):
        return f"{'Previous' if direction < 0 else 'Next'} {period.kind}"
    return f"Week of {neighbour.start:%b %-d}" if period.kind == "week" else f"{neighbour.start:%B %Y}"


def _feed(request: Request, db: Session, period: q.Period, page: int, filters: tuple[str | None, str]) -> HTMLResponse:
    settings = request.app.state.settings
    category, sort = filters
    papers, total = q.feed_papers(db, settings, period, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE,
                                  sort=sort, category=category)
    categories = q.period_categories(db, settings, period.start, period.end)
    latest = q.latest_day(db, settings)
    if period.kind == "date":
        before = q.neighbour_day(db, settings, period.start, -1)
        after = q.neighbour_day(db, settings, period.start, +1)
        prev_url = f"/papers?date={before.isoformat()}" if before else None
        next_url = f"/papers?date={after.isoformat()}" if after else None
        prev_label = before.strftime("%b %-d") if before else ""
        next_label = after.strftime("%b %-d") if after else ""
    else:
        # The nearest week (month) with papers, as the day view's arrows skip empty days:
        # an instance that skipped a week of ingest, or a holiday, is not a dead end.
        around = q.week_period if period.kind == "week" else q.month_period
        day_before = q.neighbour_day(db, settings, period.start, -1)
        day_after = q.neighbour_day(db, settings, period.end, +1)
        before = around(day_before) if day_before else None
        after = around(day_after) if day_after else None
        prev_url = f"/papers?{period.kind}={before.value}" if before else None
        next_url = f"/papers?{period.kind}={after.value}" if after else None
        prev_label = _neighbour_label(period, before, -1)
        next_label = _neighbour_label(period, after, +1)
    anchor = period.start if period.kind == "date" else min(period.end, latest or period.end)
    pager = make_pager(request, page, total, PAGE_SIZE)
    cards = build_cards(db, papers, user_of(request))
    if settings.feed_mode == "submitted":  # here a paper's day is the day it was featured
        for card in cards:
            card.day = card.featured_on
    link = lambda url: _with_filters(url, category, sort) if url else None  # noqa: E731
    return render(request, "feed.html", db=db, status_code=404 if pager.past_end and total else 200, context={
        "nav": "daily", "period": period, "heading": period.label, "total": total,
        "cards": cards, "pager": pager, "category": category, "sort": sort, "sorts": q.SORTS,
        "categories": categories, "category_known": category is None or category in dict(categories),
        "prev_url": link(prev_url), "next_url": link(next_url), "prev_label": prev_label, "next_label": next_label,
        "anchor": anchor, "week_value": q.week_period(anchor).value, "month_value": q.month_period(anchor).value,
        "latest": latest, "max_day": latest, "settings_mode": settings.feed_mode,
        "day_url": link(f"/papers?date={anchor.isoformat()}"),
        "week_url": link(f"/papers?week={q.week_period(anchor).value}"),
        "month_url": link(f"/papers?month={q.month_period(anchor).value}"),
    })


# --- trending ---------------------------------------------------------------------

TRENDING_SIZE = 50


@router.get("/trending", response_class=HTMLResponse)
def trending_page(request: Request, category: str | None = Query(None, max_length=40),
                  db: Session = Depends(get_page_db, scope="function")) -> HTMLResponse:
    settings = request.app.state.settings
    try:
        category = q.parse_category(category)
    except q.BadParameter as exc:
        raise bad(str(exc)) from None
    h = settings.trending_half_life_hours
    ids, scores = trending(db.connection(), limit=TRENDING_SIZE, category=category, half_life_hours=h)
    now = dt.datetime.now(dt.UTC)
    ref = reference_time(db.connection(), now)
    window_start = (ref - dt.timedelta(hours=h * WINDOW_HALF_LIVES)).date()
    categories = q.period_categories(db, settings, window_start, ref.date())
    by_id = dict(zip(ids, scores, strict=True))
    cards = build_cards(db, q.papers_by_ids(db, ids), user_of(request))
    for card in cards:
        card.score = by_id[card.paper_id]
    return render(request, "trending.html", db=db, context={
        "nav": "trending", "cards": cards, "category": category, "categories": categories,
        "category_known": category is None or category in dict(categories),
        # On an old corpus the list is as of its newest papers; say so instead of implying "now".
        "as_of": ref.date() - dt.timedelta(days=1) if now - ref > dt.timedelta(days=1) else None,
        "explanation": explanation(h),
    })


# --- one paper --------------------------------------------------------------------

def canonical_id(arxiv_id: str) -> tuple[str, int | None]:
    try:
        return parse_arxiv_id(arxiv_id)
    except BadRecord:
        raise HTTPException(404, f"{arxiv_id!r} is not an arXiv id") from None


def html_url(arxiv_id: str) -> str | None:
    """arXiv's HTML rendering of the paper, offered only for papers from December 2023 on
    (new-style ids 2312 and later), the papers arXiv renders; older ones have none."""
    head, _, tail = arxiv_id.partition(".")
    if "/" in arxiv_id or not tail or len(head) != 4 or not head.isdigit() or head < "2312":
        return None
    return f"https://arxiv.org/html/{arxiv_id}"


SIMILAR_SHOWN = 6  # similar papers on a paper's page


@router.get("/papers/{arxiv_id:arxiv}", response_class=HTMLResponse)
def paper_page(request: Request, arxiv_id: str, sort: str = "relevance",
               db: Session = Depends(get_page_db, scope="function")):
    pid, version = canonical_id(arxiv_id)
    sort = sort if sort in q.SIMILAR_SORTS else "relevance"  # an unknown order shows the usual one
    if pid != arxiv_id:
        return RedirectResponse(f"/papers/{pid}" + ("?sort=recent" if sort == "recent" else ""), status_code=301)
    paper = q.paper_by_arxiv_id(db, pid)
    if paper is None:
        raise HTTPException(404, f"No paper arXiv:{pid} here. It may not be imported yet; try https://arxiv.org/abs/{pid}")
    user = user_of(request)
    card = build_cards(db, [paper], user)[0]
    similar, similar_message = [], None
    release(db)
    try:
        hits = request.app.state.search.similar(pid, limit=q.similar_pool(sort, SIMILAR_SHOWN) + 1, fill_to=SIMILAR_SHOWN,
                                                reader=read_engine(request))
        ids = [h.paper_id for h in hits if h.arxiv_id != pid]
        similar = build_cards(db, q.similar_papers(db, ids, sort=sort, limit=SIMILAR_SHOWN), user)
    except DBAPIError:  # the database, not the index: the request is read again (web/reads.py)
        raise
    except Exception:  # the page stays useful when the index is missing or broken
        log.exception("similar papers for %s failed", pid)
        similar_message = "Similar papers are unavailable right now."
    when = paper.submitted_at.date() if paper.submitted_at else paper.announced_on
    return render(request, "paper.html", db=db, context={
        "paper": paper, "card": card, "similar": similar, "similar_message": similar_message, "similar_sort": sort,
        "bibtex": bibtex(card, paper), "citation_date": when.strftime("%Y/%m/%d") if when else None,
        "abs_url": card.links[0][1], "pdf_url": card.links[1][1], "html_url": html_url(pid),
        "base_url": request.app.state.settings.resolved_base_url,
    })


# --- search -----------------------------------------------------------------------

SNIPPET_TAGS = {"mark", "b", "em"}


def clean_snippet(snippet: str) -> Markup:
    return Markup(nh3.clean(snippet or "", tags=SNIPPET_TAGS, attributes={}))


def _search_date(value: str | None, name: str, messages: list[str]) -> dt.date | None:
    if not value:
        return None
    try:
        return q.parse_date(value, name)
    except q.BadParameter as exc:
        messages.append(f"{exc}; ignored.")
        return None


def _search_page_number(value: str | None, messages: list[str]) -> int:
    if value is None or value == "":
        return 1
    try:
        number = int(value)
    except ValueError:
        messages.append(f"'{value[:20]}' is not a page number; showing the first page.")
        return 1
    if not 1 <= number <= q.MAX_PAGE:
        messages.append(f"Pages run from 1 to {q.MAX_PAGE:,}; showing page {min(max(number, 1), q.MAX_PAGE):,}.")
    return min(max(number, 1), q.MAX_PAGE)


MAX_CATEGORY_CHARS = 40
SEARCH_SORTS = ("relevance", "date", "votes")


# Every parameter is read leniently here: a person who pastes an abstract or edits the
# address gets the results page with a message, never a 4xx page (the JSON API keeps its
# 422s for programs). The service cuts the text at 10,000 characters, with a message.
@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, q_: str = Query("", alias="q"),
                category: str | None = Query(None),
                from_: str | None = Query(None, alias="from"), to: str | None = None,
                sort: str = Query("relevance", description="relevance, date or votes"),
                p: str | None = Query(None, description="Page number, from 1."),
                match: str = Query("", description="all: every word required or close in meaning, as an alert "
                                                    "matches (a digest's alert links here)"),
                db: Session = Depends(get_page_db, scope="function")):
    text = q_.strip()
    messages: list[str] = []
    date_from, date_to = _search_date(from_, "from", messages), _search_date(to, "to", messages)
    category = (category or "").strip() or None
    if category and len(category) > MAX_CATEGORY_CHARS:
        messages.append(f"'{category[:MAX_CATEGORY_CHARS]}…' is not an arXiv category (like cs.LG); ignored.")
        category = None
    if sort not in SEARCH_SORTS:
        messages.append(f"Unknown sort '{sort[:20]}'; sorted by relevance.")
        sort = "relevance"
    page = _search_page_number(p, messages)
    size = 20
    as_alert = match == "all"
    context = {"nav": "search", "q": text, "match": "all" if as_alert else "", "q_short": shorten(text, 80), "category": category,
               "date_from": date_from.isoformat() if date_from else "", "date_to": date_to.isoformat() if date_to else "",
               "sort": sort, "cards": [], "total": 0, "related": 0, "messages": messages, "pager": None,
               "top_categories": q.top_categories(db)}
    if not text:
        return render(request, "search.html", context, db)
    try:
        pid, _ = parse_arxiv_id(text)
    except BadRecord:
        pid = None
    if pid and q.paper_by_arxiv_id(db, pid):
        return RedirectResponse(f"/papers/{pid}", status_code=303)
    context["is_paper_id"] = pid is not None
    release(db)
    if as_alert:
        # The papers an alert of these words sends (a digest's "see them all"): every word
        # required, or close in meaning; ranked as the alert ranks them.
        results = request.app.state.search.alert_search(
            f"{text} cat:{category}" if category else text, limit=page * size,  # the service caps it
            date_from=date_from, date_to=date_to, min_similarity=request.app.state.settings.alert_min_similarity)
        results.hits = results.hits[(page - 1) * size:]
        messages.append("Every word required, or close in meaning: the papers an alert of these words sends.")
    else:
        results = request.app.state.search.search(
            text, limit=size, offset=(page - 1) * size, category=category,
            date_from=date_from, date_to=date_to, author=None, sort=sort, reader=read_engine(request))
    redirect = getattr(results, "redirect_arxiv_id", None)
    if redirect and q.paper_by_arxiv_id(db, redirect):
        return RedirectResponse(f"/papers/{redirect}", status_code=303)
    papers = q.papers_by_ids(db, [h.paper_id for h in results.hits])
    cards = build_cards(db, papers, user_of(request))
    by_id = {h.paper_id: h for h in results.hits}
    titles = {p.id: p.title for p in papers}
    for card in cards:
        hit = by_id.get(card.paper_id)
        if hit is None:
            continue
        if hit.snippet:
            card.snippet = render_math_in_html(clean_snippet(hit.snippet))
        # Matched words are marked in titles too, unless the title has math: its MathML
        # rendering wins over highlighting.
        if "<mark>" in hit.title_html and not has_math(titles.get(card.paper_id)):
            card.title_html = clean_snippet(hit.title_html)
    if not results.total:
        messages += _unknown_categories(db, text, category)
    # An arXiv id that is not here is reported once, by the search service.
    topic = f"{text} cat:{category}" if category else text
    context.update(spark=topic_spark(request.app.state.search.trends, topic) if results.total else None)
    context.update(cards=cards, total=results.total, related=getattr(results, "related", 0),
                   unsearchable=results.unsearchable,
                   messages=messages + list(results.messages or []),
                   pager=make_pager(request, page, results.total, size))
    return render(request, "search.html", context, db,
                  status_code=404 if context["pager"].past_end and results.total and not cards else 200)


def _unknown_categories(db: Session, text: str, category: str | None) -> list[str]:
    """Why a search limited to categories found nothing, when one of them is none this
    instance holds (``cat:cs.FAKE``): said, not left to look like a search with no match.
    Categories match whatever their case, as the search does."""
    asked = parse_query(text).categories + (category.split() if category else [])
    known = {c.lower() for c in q.top_categories(db, ALL_CATEGORIES)}
    return [f"No paper here is in the category '{c}' (categories look like cs.LG; the category menu "
            "lists this instance's)." for c in dict.fromkeys(asked) if c.lower() not in known]


# arXiv has about 160 categories; more than that is every category an instance holds.
ALL_CATEGORIES = 1000


# --- authors and categories -------------------------------------------------------

@router.get("/authors/{name:path}", response_class=HTMLResponse)
def author_page(request: Request, name: str, p: int = Depends(page_param), db: Session = Depends(get_page_db, scope="function")):
    if not name.strip() or len(name) > 300:
        raise HTTPException(404, "No such author")
    papers, total, found = q.author_papers(db, name, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    if found is None:
        raise HTTPException(404, f"No papers by an author named {name!r} here.")
    pager = make_pager(request, p, total, PAGE_SIZE)
    return render(request, "listing.html", db=db, status_code=404 if pager.past_end else 200, context={
        "heading": found, "eyebrow": "Author", "total": total, "feed_url": None,
        "follow_kind": "author", "follow_target": found,
        "spark": topic_spark(request.app.state.search.trends, 'author:"{}"'.format(found.replace('"', " "))),
        "cards": build_cards(db, papers, user_of(request)), "pager": pager,
    })


@router.get("/categories/{cat}", response_class=HTMLResponse)
def category_page(request: Request, cat: str, p: int = Depends(page_param), db: Session = Depends(get_page_db, scope="function")):
    if len(cat) > 40:
        raise HTTPException(404, "No such category")
    papers, total = q.category_papers(db, cat, limit=PAGE_SIZE, offset=(p - 1) * PAGE_SIZE)
    if total == 0:
        # cs.cl or CS.CL, typed or pasted: the category as arXiv or a stored paper writes it.
        proper = category_name(db, cat)
        if proper is None:
            raise HTTPException(404, f"No papers in category {cat!r} here.")
        if proper != cat:
            return RedirectResponse(f"/categories/{proper}" + (f"?{request.url.query}" if request.url.query else ""),
                                    status_code=308)
        # One of arXiv's categories this instance has no paper of (yet): a member may follow
        # it, and the Following page links here, so it is a page with the way to unfollow.
    pager = make_pager(request, p, total, PAGE_SIZE)
    empty = (f"No paper in {cat} has come to this instance yet. Followed, its new papers appear on your "
             "Following page when they come.") if total == 0 else ""
    return render(request, "listing.html", db=db, status_code=404 if pager.past_end else 200, context={
        "heading": cat, "eyebrow": "Category", "empty_text": empty, "total": total,
        "feed_url": f"/feeds/categories/{cat}",
        "follow_kind": "category", "follow_target": cat,
        "spark": topic_spark(request.app.state.search.trends, f"cat:{cat}"),
        "cards": build_cards(db, papers, user_of(request)), "pager": pager,
    })
