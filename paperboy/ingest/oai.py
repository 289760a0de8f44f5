"""arXiv's OAI-PMH interface: ``ListRecords`` paged by resumption tokens.

Two metadata formats:

* ``arXiv`` (default): arXiv's own schema (http://arxiv.org/OAI/arXiv/): id, created,
  updated, authors/author/(keyname, forenames, suffix), title, categories, comments,
  msc-class, acm-class, journal-ref, doi, license, abstract.
* ``oai_dc``: Dublin Core. It names subjects in words ("Computer Science - Learning"),
  not category codes, so records from it carry no categories (a richer source fills
  them in later); ``Comment:`` descriptions become the comment.

Each page's records are committed with the cursor ``{"token": next_token}``, so a re-run
resumes at the next page (an expired token is reported; ``--restart`` starts over).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy.engine import Engine

from paperboy.config import Settings
from paperboy.ingest.http import PoliteClient, SourceError
from paperboy.ingest.normalise import BadRecord, PaperRecord, make_record, parse_datetime
from paperboy.ingest.pipeline import Item, UpsertCounts, read_cursor, run_source
from paperboy.ingest.xml import parse_xml, text_of

SOURCE = "oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
DC = "{http://purl.org/dc/elements/1.1/}"
OAI_DC = "{http://www.openarchives.org/OAI/2.0/oai_dc/}"
PREFIXES = ("arXiv", "oai_dc")


class OaiPage:
    def __init__(self, records: list[PaperRecord | BadRecord], token: str | None, complete: int | None, deleted: int):
        self.records, self.token, self.complete, self.deleted = records, token, complete, deleted


def _arxiv_record(meta, where: str) -> PaperRecord:
    el = meta.find(ARXIV + "arXiv")
    if el is None:
        raise BadRecord("no <arXiv> metadata")

    def f(tag: str) -> str | None:
        return text_of(el.find(ARXIV + tag))

    arxiv_id = (f("id") or "").strip()
    names = []
    for author in el.iterfind(f"{ARXIV}authors/{ARXIV}author"):
        parts = [text_of(author.find(ARXIV + t)) for t in ("forenames", "keyname", "suffix")]
        names.append(" ".join(p.strip() for p in parts if p and p.strip()))
    return make_record(
        arxiv_id=arxiv_id,
        title=f("title"),
        abstract=f("abstract"),
        authors=names,
        categories=f("categories") or "",
        msc_classes=[c.strip() for c in (f("msc-class") or "").split(",") if c.strip()],
        acm_classes=[c.strip() for c in (f("acm-class") or "").split(";") if c.strip()],
        submitted_at=parse_datetime(f("created"), field_name=f"{arxiv_id}: created"),
        updated_at=parse_datetime(f("updated"), field_name=f"{arxiv_id}: updated"),
        comment=f("comments"),
        journal_ref=f("journal-ref"),
        doi=f("doi"),
        license=f("license"),
        source=SOURCE,
    )


def _dc_name(creator: str) -> str:
    """``'Finger, Jr., M.'`` → ``'M. Finger Jr.'``; a name without a comma stays as it is."""
    parts = [p.strip() for p in creator.split(",")]
    if len(parts) < 2 or not parts[-1]:
        return creator.strip()
    return " ".join(p for p in (parts[-1], parts[0], *parts[1:-1]) if p)


def _dc_record(meta, where: str) -> PaperRecord:
    el = meta.find(OAI_DC + "dc")
    if el is None:
        raise BadRecord("no <oai_dc:dc> metadata")
    idents = [text_of(i) or "" for i in el.iterfind(DC + "identifier")]
    abs_url = next((i for i in idents if "arxiv.org/abs/" in i), None)
    if abs_url is None:
        raise BadRecord("no arXiv abs URL among dc:identifier")
    descriptions = [text_of(d) or "" for d in el.iterfind(DC + "description")]
    comment = next((d.strip()[len("Comment:"):] for d in descriptions if d.strip().startswith("Comment:")), None)
    abstract = next((d for d in descriptions if not d.strip().startswith("Comment:")), "")
    doi = next((i[4:] for i in idents if i.startswith("doi:")), None)
    dates = [text_of(d) for d in el.iterfind(DC + "date")]
    arxiv_id = abs_url.strip()
    return make_record(
        arxiv_id=arxiv_id,
        title=text_of(el.find(DC + "title")),
        abstract=abstract,
        authors=[_dc_name(text_of(c) or "") for c in el.iterfind(DC + "creator")],
        submitted_at=parse_datetime(dates[0], field_name="dc:date") if dates else None,
        updated_at=parse_datetime(dates[-1], field_name="dc:date") if len(dates) > 1 else None,
        comment=comment,
        doi=doi,
        source=SOURCE,
    )


def parse_page(content: bytes, where: str, prefix: str) -> OaiPage:
    """One ListRecords response: records (or BadRecords), the next token, and the size."""
    root = parse_xml(content, where)
    if root.tag != OAI + "OAI-PMH":
        raise SourceError(f"{where}: not an OAI-PMH response (root element {root.tag!r})")
    err = root.find(OAI + "error")
    if err is not None:
        code = err.get("code", "")
        if code == "noRecordsMatch":
            return OaiPage([], None, 0, 0)
        hint = " (the harvest's token expired: run again with --restart)" if code == "badResumptionToken" else ""
        raise SourceError(f"{where}: OAI-PMH error {code}: {(err.text or '').strip()}{hint}")
    lst = root.find(OAI + "ListRecords")
    if lst is None:
        raise SourceError(f"{where}: no ListRecords element")
    build = _arxiv_record if prefix == "arXiv" else _dc_record
    records: list[PaperRecord | BadRecord] = []
    deleted = 0
    for n, rec in enumerate(lst.iterfind(OAI + "record"), 1):
        header = rec.find(OAI + "header")
        if header is not None and header.get("status") == "deleted":
            deleted += 1
            continue
        ident = (header.findtext(OAI + "identifier") if header is not None else None) or f"record {n}"
        try:
            meta = rec.find(OAI + "metadata")
            if meta is None:
                raise BadRecord("no metadata")
            records.append(build(meta, where))
        except BadRecord as exc:
            records.append(BadRecord(f"{where}: line {rec.sourceline} ({ident}): {exc}"))
    tok = lst.find(OAI + "resumptionToken")
    token = (tok.text or "").strip() or None if tok is not None else None
    complete = tok.get("completeListSize") if tok is not None else None
    return OaiPage(records, token, int(complete) if complete and complete.isdigit() else None, deleted)


def harvest_key(prefix: str, set_spec: str | None, since: dt.date | None, until: dt.date | None) -> str:
    return f"{SOURCE}:{prefix}:{set_spec or ''}:{since or ''}:{until or ''}"


def iter_harvest(
    settings: Settings, prefix: str = "arXiv", set_spec: str | None = None,
    since: dt.date | None = None, until: dt.date | None = None, *, token: str | None = None,
    client: PoliteClient | None = None, on_page=None,
) -> Iterator[Item]:
    """Yield ``(cursor, record)`` and a commit point ``({"token": next}, None)`` per page."""
    if prefix not in PREFIXES:
        raise ValueError(f"metadata prefix must be one of {', '.join(PREFIXES)}")
    own = client is None
    client = client or PoliteClient(settings)
    try:
        while True:
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = {"verb": "ListRecords", "metadataPrefix": prefix}
                if set_spec:
                    params["set"] = set_spec
                if since:
                    params["from"] = since.isoformat()
                if until:
                    params["until"] = until.isoformat()
            resp = client.get(settings.arxiv_oai_url, params)
            url = str(resp.request.url)
            page = parse_page(resp.content, url, prefix)
            here = {"token": token}
            for rec in page.records:
                yield here, rec
            token = page.token
            if on_page:
                on_page(page)
            yield ({"token": token} if token else {"done": True}), None
            if not token:
                return
    finally:
        if own:
            client.close()


def harvest(
    settings: Settings, engine: Engine, prefix: str = "arXiv", set_spec: str | None = None,
    since: dt.date | None = None, until: dt.date | None = None, *, restart: bool = False,
    on_page=None, on_progress=None,
) -> UpsertCounts | None:
    """Harvest into the store, resuming a harvest left unfinished. None if already done."""
    key = harvest_key(prefix, set_spec, since, until)
    with engine.connect() as conn:
        cursor = {} if restart else read_cursor(conn, key)
    if cursor.get("done"):
        return None
    items = iter_harvest(settings, prefix, set_spec, since, until, token=cursor.get("token"), on_page=on_page)
    return run_source(engine, key, items, on_progress=on_progress, batch_size=10_000)
