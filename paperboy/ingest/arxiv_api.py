"""The arXiv API (``/api/query``, Atom): searches paged by ``start``, and id look-ups.

* ``search`` pages through a query, committing each page with the cursor
  ``{"start": next_start}`` under the source key ``api:<query>``, so a re-run resumes.
* ``fetch_ids`` fetches and stores given ids (the community feature's submissions).
* ``ingest_recent`` fetches the last days of cs.* (``paperboy demo`` without samples).

arXiv sometimes answers a page in the middle of a result with no entries; such a page
is asked for again (``http_retries`` times) before the run gives up with an error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.ingest.http import PoliteClient, SourceError
from paperboy.ingest.normalise import (
    BadRecord,
    PaperRecord,
    make_record,
    parse_arxiv_id,
    parse_datetime,
)
from paperboy.ingest.pipeline import (
    AuthorCache,
    Item,
    UpsertCounts,
    read_cursor,
    run_source,
    upsert_batch,
)
from paperboy.ingest.xml import parse_xml, text_of
from paperboy.store.db import write_tx

SOURCE = "api"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
PAGE_SIZE = 200
ID_CHUNK = 100


class ArxivError(SourceError):
    """arXiv answered with its error feed (e.g. a malformed id in id_list)."""


@dataclass
class Page:
    total: int
    start: int
    entries: list[PaperRecord | BadRecord] = field(default_factory=list)


def _int(root, tag: str, where: str) -> int:
    el = root.find(OPENSEARCH + tag)
    if el is None or not (el.text or "").strip().isdigit():
        raise SourceError(f"{where}: feed has no valid opensearch:{tag}")
    return int(el.text.strip())


def parse_entry(entry) -> PaperRecord:
    raw_id = (entry.findtext(ATOM + "id") or "").strip()
    arxiv_id, version = parse_arxiv_id(raw_id)
    primary = entry.find(ARXIV + "primary_category")
    published = parse_datetime(entry.findtext(ATOM + "published"), field_name=f"{arxiv_id}: published")
    updated = parse_datetime(entry.findtext(ATOM + "updated"), field_name=f"{arxiv_id}: updated")
    return make_record(
        arxiv_id=raw_id,
        title=text_of(entry.find(ATOM + "title")),
        abstract=text_of(entry.find(ATOM + "summary")),
        authors=[text_of(a.find(ATOM + "name")) or "" for a in entry.iterfind(ATOM + "author")],
        categories=[c.get("term", "") for c in entry.iterfind(ATOM + "category")],
        primary_category=primary.get("term") if primary is not None else None,
        version=version,
        submitted_at=published,
        # <updated> is the date of the latest version (equal to <published> for v1).
        updated_at=updated,
        comment=entry.findtext(ARXIV + "comment"),
        journal_ref=entry.findtext(ARXIV + "journal_ref"),
        doi=entry.findtext(ARXIV + "doi"),
        source=SOURCE,
    )


def parse_feed(content: bytes, where: str) -> Page:
    """Parse one Atom page; arXiv's error feed becomes ArxivError, bad entries BadRecords."""
    root = parse_xml(content, where)
    if root.tag != ATOM + "feed":
        raise SourceError(f"{where}: not an Atom feed (root element {root.tag!r})")
    entries = root.findall(ATOM + "entry")
    for entry in entries:
        eid = entry.findtext(ATOM + "id") or ""
        if "/api/errors" in eid:
            message = (entry.findtext(ATOM + "summary") or "unknown error").strip()
            raise ArxivError(f"{where}: arXiv API error: {message}")
    page = Page(total=_int(root, "totalResults", where), start=_int(root, "startIndex", where))
    for n, entry in enumerate(entries, 1):
        try:
            page.entries.append(parse_entry(entry))
        except BadRecord as exc:
            line = getattr(entry, "sourceline", "?")
            page.entries.append(BadRecord(f"{where}: line {line} (entry {n}): {exc}"))
    return page


def get_page(client: PoliteClient, settings: Settings, params: dict) -> tuple[Page, str]:
    resp = client.get(settings.arxiv_api_url, params, ok_statuses=(400,))
    url = str(resp.request.url)
    page = parse_feed(resp.content, url)
    if resp.status_code == 400:  # an error feed always raises above; any other 400 is odd
        raise ArxivError(f"{url}: HTTP 400")
    return page, url


def iter_search(
    settings: Settings, query: str, *, start: int = 0, limit: int | None = None,
    page_size: int = PAGE_SIZE, client: PoliteClient | None = None,
) -> Iterator[Item]:
    """Yield ``(cursor, record)`` for a search, then a commit point after each page."""
    own = client is None
    client = client or PoliteClient(settings)
    try:
        total: int | None = None
        while total is None or start < total:
            if limit is not None and start >= limit:
                break
            size = page_size if limit is None else min(page_size, limit - start)
            params = {
                "search_query": query, "start": start, "max_results": size,
                "sortBy": "submittedDate", "sortOrder": "ascending",
            }
            for attempt in range(settings.http_retries + 1):
                page, url = get_page(client, settings, params)
                if page.entries or page.start >= page.total:
                    break
                # arXiv's known quirk: an empty page inside the result. Ask again.
                if attempt == settings.http_retries:
                    raise SourceError(
                        f"{url}: arXiv returned an empty page at start={start} of {page.total} "
                        f"results {settings.http_retries + 1} times"
                    )
            total = page.total
            cursor = {"start": start}
            for rec in page.entries:
                yield cursor, rec
            if not page.entries:
                break
            start += len(page.entries)
            yield {"start": start, "total": total}, None
    finally:
        if own:
            client.close()


def search_key(query: str) -> str:
    return f"{SOURCE}:{query}"


def category_query(category: str | list[str], since: dt.date | None = None, until: dt.date | None = None) -> str:
    cats = category.split() if isinstance(category, str) else list(category)
    query = f"cat:{cats[0]}" if len(cats) == 1 else "(" + " OR ".join(f"cat:{c}" for c in cats) + ")"
    if since or until:
        lo = (since or dt.date(1991, 1, 1)).strftime("%Y%m%d0000")
        hi = (until or dt.date(2999, 12, 31)).strftime("%Y%m%d2359")
        query += f" AND submittedDate:[{lo} TO {hi}]"
    return query


def search(
    settings: Settings, engine: Engine, query: str, *, limit: int | None = None,
    page_size: int = PAGE_SIZE, restart: bool = False, on_progress=None, client: PoliteClient | None = None,
) -> UpsertCounts:
    """Harvest a search into the store, resuming from the stored cursor."""
    key = search_key(query)
    with engine.connect() as conn:
        cursor = {} if restart else read_cursor(conn, key)
    start = int(cursor.get("start", 0))
    if cursor.get("total") is not None and start >= cursor["total"]:
        start = 0  # a finished search runs again from the top (new papers); unchanged ones write nothing
    items = iter_search(settings, query, start=start, limit=limit, page_size=page_size, client=client)
    return run_source(engine, key, items, on_progress=on_progress)


def fetch_records(settings: Settings, ids: list[str], client: PoliteClient | None = None) -> dict[str, PaperRecord]:
    """Look ids up (latest versions); returns what arXiv knows, keyed by normalised id."""
    wanted = [parse_arxiv_id(i)[0] for i in ids]
    found: dict[str, PaperRecord] = {}
    own = client is None
    client = client or PoliteClient(settings)
    try:
        unique = list(dict.fromkeys(wanted))
        for i in range(0, len(unique), ID_CHUNK):
            chunk = unique[i : i + ID_CHUNK]
            page, url = get_page(client, settings, {"id_list": ",".join(chunk), "start": 0, "max_results": ID_CHUNK})
            for rec in page.entries:
                if isinstance(rec, BadRecord):
                    raise rec
                found[rec.arxiv_id] = rec
    finally:
        if own:
            client.close()
    return found


def fetch_ids(settings: Settings, engine: Engine, ids: list[str]) -> list[str]:
    """Fetch the given arXiv ids or URLs and upsert them; return their normalised ids.

    Raises BadRecord for text that is not an arXiv id or an id arXiv does not know
    (nothing is stored then), SourceError when arXiv cannot be reached.
    """
    wanted = [parse_arxiv_id(i)[0] for i in ids]
    found = fetch_records(settings, wanted)
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise BadRecord(f"arXiv does not know {', '.join(unknown)}")
    with write_tx(engine) as conn:
        upsert_batch(conn, [found[i] for i in dict.fromkeys(wanted)], AuthorCache())
    return wanted


def ingest_recent(settings: Settings, engine: Engine, since: dt.date) -> UpsertCounts:
    """Papers submitted since ``since`` in the instance's categories (``settings.categories``),
    or every cs.* category when none is configured (the demo's fallback)."""
    return search(settings, engine, category_query(settings.categories.split() or ["cs.*"], since, None))
