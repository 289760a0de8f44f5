"""The JSON shape of papers, shared by every feature that answers in JSON (the API, the
"For you" endpoints): Hugging Face's ``daily_papers`` item, its paper, and the error.

Every answer is built as one of these models and dumped by its own serialisers, so the
OpenAPI document and the bytes sent cannot disagree (tests/web/test_api_schema.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, PlainSerializer, TypeAdapter, WithJsonSchema
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperboy.papers import queries as q
from paperboy.store.models import Paper, User
from paperboy.web.cards import safe_url


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    """Hugging Face's timestamp form: UTC, milliseconds, Z (``2025-01-15T00:00:00.000Z``)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


# A day (a date) is the start of that day in UTC.
Timestamp = Annotated[dt.datetime | dt.date | None, PlainSerializer(_iso, return_type=str | None),
                      WithJsonSchema({"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]})]


class AuthorOut(BaseModel):
    name: str


class PaperOut(BaseModel):
    id: str = Field(description="arXiv id without version, e.g. 2501.01234 or hep-th/9901001")
    authors: list[AuthorOut]
    publishedAt: Timestamp = Field(description="First submitted to arXiv (UTC); the announce day when unknown")
    submittedOnDailyAt: Timestamp = Field(description="Start of the paper's day in the daily feed (UTC)")
    title: str
    summary: str
    upvotes: int
    numComments: int
    version: int
    categories: list[str]
    primaryCategory: str | None
    arxivUrl: str
    pdfUrl: str
    githubRepo: str | None = None
    projectPage: str | None = None
    comment: str | None = None
    journalRef: str | None = None
    doi: str | None = None


class SubmittedByOut(BaseModel):
    name: str
    fullname: str
    type: str = "user"


class DailyPaperOut(BaseModel):
    paper: PaperOut
    publishedAt: Timestamp
    title: str
    numComments: int
    submittedBy: SubmittedByOut | None
    isAuthorParticipating: bool = False
    score: float | None = Field(None, description="Trending score (sort=trending), or search relevance "
                                                  "(search with sort=relevance; absent when sorted by date or votes)")
    highlight: str | None = Field(None, description="Search only: HTML snippet with <mark> around matches")


class ErrorOut(BaseModel):
    error: str
    detail: str
    status: int
    errors: list[dict] | None = Field(None, description="Validation errors only: one {param, message} per bad parameter")


ERRORS = {404: {"model": ErrorOut, "description": "Not found"}, 422: {"model": ErrorOut, "description": "Bad parameter"}}


# --- serialisation: every answer is built as its documented model -------------------

def paper_out(p: Paper, authors: list[str], submitted_by: str | None = None) -> PaperOut:
    links = p.links or []
    code = next((safe_url(link.get("url")) for link in links if isinstance(link, dict) and link.get("kind") == "code"), None)
    project = next((safe_url(link.get("url")) for link in links if isinstance(link, dict) and link.get("kind") == "project"), None)
    day = p.featured_on if (submitted_by and p.featured_on) else p.announced_on
    return PaperOut(
        id=p.arxiv_id,
        authors=[AuthorOut(name=n) for n in authors],
        publishedAt=p.submitted_at or p.announced_on,
        submittedOnDailyAt=day,
        title=p.title,
        summary=p.abstract or "",
        upvotes=p.upvotes or 0,
        numComments=p.num_comments or 0,
        version=p.version or 1,
        categories=p.category_list,
        primaryCategory=p.primary_category,
        arxivUrl=safe_url(p.abs_url) or f"https://arxiv.org/abs/{p.arxiv_id}",
        pdfUrl=safe_url(p.pdf_url) or f"https://arxiv.org/pdf/{p.arxiv_id}",
        githubRepo=code,
        projectPage=project,
        comment=p.comment,
        journalRef=p.journal_ref,
        doi=p.doi,
    )


def submitters(db: Session, papers: list[Paper]) -> dict[int, str]:
    ids = {p.submitted_by_id for p in papers if p.submitted_by_id and p.featured_on}
    if not ids:
        return {}
    return {i: (n or "member") for i, n in db.execute(select(User.id, User.display_name).where(User.id.in_(ids)))}


def items_out(db: Session, papers: list[Paper], scores: dict[int, float] | None = None,
              highlights: dict[int, str] | None = None) -> list[DailyPaperOut]:
    names = submitters(db, papers)
    authors = q.author_names(db, papers)
    out = []
    for p in papers:
        by = names.get(p.submitted_by_id) if p.submitted_by_id and p.featured_on else None
        paper = paper_out(p, authors[p.id], by)
        extra = {}  # set only where the endpoint has them, so other answers leave them out
        if scores is not None:
            extra["score"] = scores.get(p.id)
        if highlights is not None:
            extra["highlight"] = highlights.get(p.id) or None
        out.append(DailyPaperOut(
            paper=paper, publishedAt=paper.submittedOnDailyAt, title=p.title, numComments=paper.numComments,
            submittedBy=SubmittedByOut(name=by, fullname=by, type="user") if by else None, isAuthorParticipating=False, **extra))
    return out


_ADAPTERS: dict[type, TypeAdapter] = {}


def _dump(data: BaseModel | list) -> bytes:
    """JSON of a model or a list of models, by the model's own serialisers (unset
    optional fields, such as a score outside trending and search, are left out)."""
    kind = type(data) if isinstance(data, BaseModel) else list[type(data[0])] if data else list[BaseModel]
    adapter = _ADAPTERS.get(kind)
    if adapter is None:
        adapter = _ADAPTERS[kind] = TypeAdapter(kind)
    return adapter.dump_json(data, exclude_unset=True)


def json_response(data: BaseModel | list[BaseModel], *, request: Request | None = None, has_next: bool = False,
                  page: int = 0, total: int | None = None, limit: int | None = None,
                  pin: dict[str, str] | None = None) -> Response:
    """JSON of ``data``; for a page of a list, RFC 8288 links to the pages beside it. With
    ``total`` and ``limit``, the list's size (``X-Total-Count``) and its last page too, and a
    page past the end points back to the last one. ``pin`` adds parameters the request
    left to the server (the day it resolved as the latest), so that ``next`` reads the
    same list even when a new day lands between two pages."""
    headers = {}
    last = max(0, -(-total // limit) - 1) if total is not None and limit else None
    if total is not None:
        headers["X-Total-Count"] = str(total)
        has_next = page < last if last is not None else has_next
    if request is not None and (has_next or page > 0):
        params = {**request.query_params, **(pin or {})}

        def at(p: int) -> str:
            return f"{request.url.path}?{urlencode({**params, 'p': str(p)})}"

        # Next first (what most clients look for), then prev, first and last.
        links = [(at(page + 1), "next")] if has_next else []
        if page > 0:
            links += [(at(min(page - 1, last) if last is not None else page - 1), "prev"), (at(0), "first")]
        if last is not None and last > 0:
            links.append((at(last), "last"))
        headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
    return Response(_dump(data), media_type="application/json", headers=headers)
