"""JSON API. ``/api/daily_papers`` answers in Hugging Face's shape so HF clients work.

Items of ``/api/daily_papers`` and ``/api/papers/search``::

    {"paper": {"id", "authors": [{"name"}], "publishedAt", "submittedOnDailyAt", "title",
               "summary", "upvotes", "numComments", ...},
     "publishedAt", "title", "numComments", "submittedBy", "isAuthorParticipating"}

Pages are 0-based (``p=0`` is the first, as on HF); a ``Link: <...>; rel="next"`` header
points to the next page when there is one. Errors are ``{"error", "detail", "status"}``.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session

from paperboy.papers import queries as q
from paperboy.papers.ids import BadRecord, parse_arxiv_id
from paperboy.rank.trending import trending
from paperboy.web import convertors  # noqa: F401  (registers {x:arxiv})
from paperboy.web.deps import get_db, read_engine
from paperboy.web.paperjson import (
    ERRORS,
    DailyPaperOut,
    PaperOut,
    items_out,
    json_response,
    paper_out,
    submitters,
)

router = APIRouter(prefix="/api", tags=["api"])
docs_router = APIRouter(include_in_schema=False)
MAX_LIMIT = 100
MAX_QUERY = 10_000  # what the search service reads of a query (a pasted abstract fits)


# What the service accepts, as patterns, so the document and the parser agree: years
# q.MIN_YEAR..q.MAX_YEAR (1900..9000) and real calendar days (29 February in leap years).
_YEAR = r"(19\d\d|[2-8]\d\d\d|9000)"
_LEAP = r"((19|[2-8]\d)([02468][48]|[13579][26]|[2468]0)|(2[048]|3[26]|4[048]|5[26]|6[048]|7[26]|8[048])00)"
_MONTH_DAY = r"((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
DATE_PATTERN = rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP}-02-29)$"
# Weeks 01-52 exist in every year; week 53 only in long ISO years (also accepted).
WEEK_PATTERN = rf"^{_YEAR}-W(0[1-9]|[1-4]\d|5[0-3])$"  # W53 in the years that have one (the route checks)
MONTH_PATTERN = rf"^{_YEAR}-(0[1-9]|1[0-2])$"
# Search's from/to come from an HTML form too, where an empty field means "no limit".
OPTIONAL_DATE_PATTERN = rf"^$|{DATE_PATTERN}"


def _period(date, week, month) -> q.Period | None:
    try:
        return q.parse_period(date, week, month)
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None


def _arxiv(arxiv_id: str) -> str:
    try:
        return parse_arxiv_id(arxiv_id)[0]
    except BadRecord:
        raise HTTPException(404, f"{arxiv_id!r} is not an arXiv id") from None


# --- routes -------------------------------------------------------------------------

@router.get("/daily_papers", response_model=list[DailyPaperOut], responses=ERRORS,
            summary="Papers of a day, week or month (Hugging Face shape)")
def daily_papers(
    request: Request,
    date: str | None = Query(None, description="A day, YYYY-MM-DD (give at most one of date, week, month)",
                             json_schema_extra={"pattern": DATE_PATTERN}),
    week: str | None = Query(None, description="An ISO week, YYYY-Www (week 53 too in years that have one)",
                             json_schema_extra={"pattern": WEEK_PATTERN}),
    month: str | None = Query(None, description="A month, YYYY-MM", json_schema_extra={"pattern": MONTH_PATTERN}),
    sort: Literal["publishedAt", "trending", "newest"] = Query("publishedAt", description="publishedAt: newest day first, then most upvoted; trending: by trending score (without a period), or most upvoted within the period; newest: newest day first, then as arXiv numbered them, latest first (an order votes do not move: for a script that pages through a whole day)"),
    p: int = Query(0, ge=0, le=q.MAX_PAGE, description="Page, from 0"),
    limit: int = Query(50, ge=1, le=MAX_LIMIT, description=f"Items per page (at most {MAX_LIMIT})"),
    category: str | None = Query(None, max_length=40, description="Only papers in this arXiv category",
                                 json_schema_extra={"pattern": q.CATEGORY_PATTERN}),
    db: Session = Depends(get_db, scope="function"),
):
    settings = request.app.state.settings
    period = _period(date, week, month)
    category = _category(category)
    if period is None and sort == "trending":
        ids, scores = trending(db.connection(), limit=(p + 1) * limit + 1, category=category,
                               half_life_hours=settings.trending_half_life_hours)
        page_ids = ids[p * limit:(p + 1) * limit]
        papers = q.papers_by_ids(db, page_ids)
        data = items_out(db, papers, scores=dict(zip(ids, scores, strict=True)))
        return json_response(data, request=request, has_next=len(ids) > (p + 1) * limit, page=p)
    pin = None
    if period is None:
        latest = q.latest_day(db, settings)
        if latest is None:
            return json_response([])
        period = q.day_period(latest)
        pin = {"date": latest.isoformat()}  # the next page is of this day, even once a new one lands
    papers, total = q.feed_papers(db, settings, period, limit=limit, offset=p * limit,
                                  sort={"trending": "votes"}.get(sort, sort), category=category)
    return json_response(items_out(db, papers), request=request, page=p, total=total, limit=limit, pin=pin)


@router.get("/papers/search", response_model=list[DailyPaperOut], responses=ERRORS, summary="Search papers")
def search_papers(
    request: Request,
    q_: str = Query(..., alias="q", min_length=1, max_length=MAX_QUERY,
                    description="Query text in the search box's language (all words needed, \"phrases\", "
                                "author:, cat:, -word, year:); a pasted passage (a long text) finds papers like it"),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
    p: int = Query(0, ge=0, le=q.MAX_PAGE, description="Page, from 0"),
    category: str | None = Query(None, max_length=40, description="Only papers in this arXiv category",
                                 json_schema_extra={"pattern": q.CATEGORY_PATTERN}),
    date_from: str | None = Query(None, alias="from", description="YYYY-MM-DD; empty: no limit",
                                  json_schema_extra={"pattern": OPTIONAL_DATE_PATTERN}),
    date_to: str | None = Query(None, alias="to", description="YYYY-MM-DD; empty: no limit",
                                json_schema_extra={"pattern": OPTIONAL_DATE_PATTERN}),
    sort: Literal["relevance", "date", "votes"] = "relevance",
    mode: Literal["hybrid", "keyword", "semantic"] = Query(
        "hybrid", description="hybrid: words and meaning fused (keyword where the instance has no vectors); "
                              "keyword: the words alone; semantic: meaning alone"),
    db: Session = Depends(get_db, scope="function"),
):
    try:
        d_from = q.parse_date(date_from, "from") if date_from else None
        d_to = q.parse_date(date_to, "to") if date_to else None
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None
    if d_from and d_to and d_from > d_to:
        raise HTTPException(422, f"The range starts ({d_from}) after it ends ({d_to}).")
    category = _category(category)
    results = request.app.state.search.search(q_, limit=limit, offset=p * limit, category=category,
                                              date_from=d_from, date_to=d_to, author=None, sort=sort, mode=mode,
                                              reader=read_engine(request))
    if results.unsearchable:  # only punctuation or common words: say so, as the page does
        raise HTTPException(422, " ".join(results.messages) or "Nothing to search for.")
    if results.error:  # the engine failed (logged): not an empty answer a script would trust
        raise HTTPException(503, "Search failed just now; the error was logged. Try again shortly.")
    papers = q.papers_by_ids(db, [h.paper_id for h in results.hits])
    # A relevance score only where the results are in relevance's order: sorted by date or
    # votes, or a query of filters only (author:, cat:), the engine's sort key (a day as a
    # number) would read as one.
    scores = {h.paper_id: h.score for h in results.hits} if results.ranked and sort == "relevance" else None
    data = items_out(db, papers, scores=scores, highlights={h.paper_id: h.snippet for h in results.hits})
    return json_response(data, request=request, page=p, total=results.total, limit=limit)


@router.get("/papers/{arxiv_id:arxiv}/similar", response_model=list[PaperOut], responses=ERRORS,
            summary="Papers similar to one paper")
def similar_papers(
    request: Request,
    arxiv_id: str,
    limit: int = Query(10, ge=1, le=50),
    sort: Literal["relevance", "recent"] = Query(
        "relevance", description=f"relevance: most similar first; recent: the newest first (by announce day) "
                                 f"among the {q.SIMILAR_POOL} most similar"),
    db: Session = Depends(get_db, scope="function"),
):
    pid = _arxiv(arxiv_id)
    if q.paper_by_arxiv_id(db, pid) is None:
        raise HTTPException(404, f"no paper arXiv:{pid} here")
    db.commit()  # give the connection back before the search service takes its own
    hits = request.app.state.search.similar(pid, limit=q.similar_pool(sort, limit) + 1, fill_to=limit,
                                            reader=read_engine(request))
    papers = q.similar_papers(db, [h.paper_id for h in hits if h.arxiv_id != pid], sort=sort, limit=limit)
    names = submitters(db, papers)
    authors = q.author_names(db, papers)
    return json_response([paper_out(x, authors[x.id], names.get(x.submitted_by_id)) for x in papers])


@router.get("/papers/{arxiv_id:arxiv}", response_model=PaperOut, responses=ERRORS, summary="One paper")
def get_paper(arxiv_id: str, db: Session = Depends(get_db, scope="function")):
    pid = _arxiv(arxiv_id)
    paper = q.paper_by_arxiv_id(db, pid)
    if paper is None:
        raise HTTPException(404, f"no paper arXiv:{pid} here")
    authors = q.author_names(db, [paper])[paper.id]
    return json_response(paper_out(paper, authors, submitters(db, [paper]).get(paper.submitted_by_id)))


@router.get("/papers/{anything:path}", include_in_schema=False)
def not_a_paper(request: Request, anything: str):
    """An id in another form (``arXiv:2501.00001``, an abs or pdf link, a version on
    /similar) goes to the paper's own address (308), as the paper pages do; anything
    else is no arXiv id."""
    head, similar, _ = anything.rpartition("/similar") if anything.endswith("/similar") else (anything, "", "")
    try:
        pid = parse_arxiv_id(head)[0]
    except BadRecord:
        raise HTTPException(404, f"{anything!r} is not an arXiv id") from None
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/api/papers/{pid}{similar}{query}", status_code=308)


@router.get("/trending", response_model=list[DailyPaperOut], responses=ERRORS, summary="Trending papers with scores")
def trending_papers(request: Request, limit: int = Query(50, ge=1, le=MAX_LIMIT),
                    p: int = Query(0, ge=0, le=q.MAX_PAGE, description="Page, from 0"),
                    category: str | None = Query(None, max_length=40, description="Only papers in this arXiv category",
                                                 json_schema_extra={"pattern": q.CATEGORY_PATTERN}),
                    db: Session = Depends(get_db, scope="function")):
    settings = request.app.state.settings
    ids, scores = trending(db.connection(), limit=(p + 1) * limit + 1, category=_category(category),
                           half_life_hours=settings.trending_half_life_hours)
    page_ids = ids[p * limit:(p + 1) * limit]
    data = items_out(db, q.papers_by_ids(db, page_ids), scores=dict(zip(ids, scores, strict=True)))
    return json_response(data, request=request, has_next=len(ids) > (p + 1) * limit, page=p)


def _category(value: str | None) -> str | None:
    """A category parameter in arXiv's spelling (cs.lg is cs.LG); 422 for what is none."""
    try:
        return q.parse_category(value)
    except q.BadParameter as exc:
        raise HTTPException(422, str(exc)) from None


# --- /docs: the OpenAPI document as a page (no CDN, no JavaScript) --------------------

EXAMPLES = {
    "/api/daily_papers": "/api/daily_papers?limit=5",
    "/api/papers/search": "/api/papers/search?q=diffusion&limit=5",
    "/api/trending": "/api/trending?limit=5",
}


def _type(schema: dict) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " | ".join(_type(s) for s in schema["anyOf"])
    if schema.get("type") == "array":
        return f"list[{_type(schema.get('items', {}))}]"
    if "enum" in schema:
        return " | ".join(repr(v) for v in schema["enum"])
    return schema.get("type", "any") + (f" ({schema['format']})" if "format" in schema else "")


@docs_router.get("/docs")
def api_docs(request: Request):
    spec = request.app.openapi()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            params = [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                       "type": _type(p.get("schema", {})), "description": p.get("description") or p.get("schema", {}).get("description", "")}
                      for p in op.get("parameters", [])]
            responses = [(code, r.get("description", "")) for code, r in op.get("responses", {}).items()]
            body = op.get("requestBody", {}).get("content", {})
            operations.append({"id": op.get("operationId", path), "method": method.upper(), "path": path,
                               "summary": op.get("summary", ""), "description": op.get("description", ""),
                               "params": params, "responses": responses, "example": EXAMPLES.get(path),
                               "body": [(kind, _type(c.get("schema", {}))) for kind, c in body.items()],
                               "member": bool(op.get("security"))})
    schemas = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        fields = [(f, _type(fs), fs.get("description", "")) for f, fs in schema.get("properties", {}).items()]
        schemas.append((name, fields))
    return request.app.state.templates.TemplateResponse(request, "api_docs.html", {
        "spec": spec, "operations": operations, "schemas": schemas})
