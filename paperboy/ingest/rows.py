"""A paper's row: the one step from a source's fields to the values stored.

Every way a paper reaches the database ends in ``build``:
- a ``PaperRecord`` from any source (``of_record``);
- a snapshot line parsed straight from its JSON (``snapshot._fast_row``, the import's
  hot path, which skips the record and its datetimes);
- an incoming row merged with the stored one, or with a repeat in its batch (``merge``).

``build`` derives what the fields imply (primary category, author line, abs and PDF
URLs, links, content hash) and gives the row in the database driver's values, in ROW
order, with the author names beside it. Nothing here touches the store, so parser
processes import it without SQLAlchemy. Adding a paper field means: the record, ROW,
``build``, and the callers that have the value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import orjson

from paperboy.ingest.normalise import PaperRecord, find_links

# The columns of a row, in order. Ids, community state and the batch's time (created_at,
# modified_at) are added when the row is written.
ROW = (
    "arxiv_id", "version", "title", "abstract", "authors_text", "primary_category", "categories",
    "msc_classes", "acm_classes", "submitted_at", "updated_at", "announced_on", "comment",
    "journal_ref", "doi", "license", "abs_url", "pdf_url", "links", "sources", "content_hash",
)
(ARXIV_ID, VERSION, TITLE, ABSTRACT, AUTHORS_TEXT, PRIMARY, CATEGORIES, MSC, ACM, SUBMITTED, UPDATED,
 ANNOUNCED, COMMENT, JOURNAL_REF, DOI, LICENSE, ABS_URL, PDF_URL, LINKS, SOURCES, CONTENT_HASH) = range(len(ROW))

# (values in ROW order, author names in order): plain tuples and lists pickle fast, so a
# parser process sends them as they are.
Prepared = tuple[tuple, list[str]]

# Fields where a newer version's value replaces the stored one (if it has one); at equal
# versions the stored value stays and the incoming one only fills a gap. The primary
# category follows the categories, the author line the names.
_VERSIONED = (TITLE, ABSTRACT, CATEGORIES, MSC, ACM, COMMENT, JOURNAL_REF, DOI, LICENSE)


def zone(dialect: str) -> str:
    """What follows a UTC timestamp in the driver's value: PostgreSQL gets the offset
    spelled out, so the session's time zone cannot shift it; SQLite stores the text."""
    return "" if dialect == "sqlite" else "+00:00"


def timestamp(v: dt.datetime, zone: str) -> str:
    # Exactly what UTCDateTime + SQLAlchemy's SQLite DATETIME store, without their layers.
    if v.utcoffset():
        v = v.astimezone(dt.UTC)
    return v.isoformat(" ", "microseconds")[:26] + zone  # YYYY-MM-DD HH:MM:SS.ffffff


def day(v: dt.date) -> str:
    return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"


def _hashed_time(v: str | None) -> str | None:
    """A row's timestamp as the content hash has always spelled it (orjson's form of an
    aware UTC datetime: microseconds only when there are some), so stored hashes stay
    valid and nothing is re-embedded for a change of code."""
    if v is None:
        return None
    if v.startswith(".000000", 19):
        return f"{v[:10]}T{v[11:19]}+00:00"
    return f"{v[:10]}T{v[11:26]}+00:00"


def _digest(fields: dict) -> str:
    """The content hash: md5 of the fields as orjson writes them, keys in ``build``'s order."""
    return hashlib.md5(orjson.dumps(fields, default=str), usedforsecurity=False).hexdigest()


def build(
    arxiv_id: str, version: int, title: str, abstract: str, authors: list[str], categories: str,
    msc: str | None, acm: str | None, submitted: str | None, updated: str | None, announced: str | None,
    comment: str | None, journal_ref: str | None, doi: str | None, license_: str | None, sources: str,
) -> Prepared:
    """The row of a paper with these fields, already normalised and in the driver's
    values: ``categories`` space-separated, the class lists joined with "; ", timestamps
    from ``timestamp`` and the announce day from ``day``; ``sources`` sorted, comma-separated."""
    primary = categories.partition(" ")[0] or None
    abs_url = f"https://arxiv.org/abs/{arxiv_id}"
    pdf_url = f"https://arxiv.org/pdf/{arxiv_id}"
    digest = _digest({
        "version": version, "title": title, "abstract": abstract, "authors": authors,
        "primary_category": primary, "categories": categories, "msc_classes": msc,
        "acm_classes": acm, "submitted_at": (hashed_sub := _hashed_time(submitted)),
        # One version: both dates are the same (a third of the snapshot's papers).
        "updated_at": hashed_sub if updated == submitted else _hashed_time(updated),
        "announced_on": announced, "comment": comment, "journal_ref": journal_ref, "doi": doi,
        "license": license_, "abs_url": abs_url, "pdf_url": pdf_url, "sources": sources,
    })
    links = find_links(abstract, comment)
    return (
        arxiv_id, version, title, abstract, ", ".join(authors), primary, categories, msc, acm,
        submitted, updated, announced, comment, journal_ref, doi, license_, abs_url, pdf_url,
        json.dumps(links) if links else "[]", sources, digest,
    ), authors


def _sorted_sources(sources: str) -> str:
    return ",".join(sorted(set(filter(None, sources.split(","))))) if "," in sources else sources


def of_record(rec: PaperRecord, dialect: str) -> Prepared:
    """The row ``rec`` gives a paper that is not stored yet."""
    z = zone(dialect)
    sub, upd, ann = rec.submitted_at, rec.updated_at, rec.announced_on
    return build(
        rec.arxiv_id,
        # Listings carry no version; unknown counts as v1 so a real v2 still wins.
        rec.version or 1,
        rec.title, rec.abstract, list(rec.authors), " ".join(rec.categories),
        "; ".join(rec.msc_classes) or None, "; ".join(rec.acm_classes) or None,
        None if sub is None else timestamp(sub, z), None if upd is None else timestamp(upd, z),
        None if ann is None else day(ann),
        rec.comment, rec.journal_ref, rec.doi, rec.license, _sorted_sources(rec.source),
    )


def stored(values: tuple, dialect: str) -> Prepared:
    """A stored paper's ROW columns as the driver returned them, in the form ``build``
    gives (SQLite returns its text as stored; psycopg returns dates and JSON as objects)."""
    authors = values[AUTHORS_TEXT].split(", ") if values[AUTHORS_TEXT] else []
    if dialect == "sqlite":
        return values, authors
    v = list(values)
    for i in (SUBMITTED, UPDATED):
        if v[i] is not None:
            v[i] = timestamp(v[i], "+00:00")
    if v[ANNOUNCED] is not None:
        v[ANNOUNCED] = day(v[ANNOUNCED])
    v[LINKS] = json.dumps(v[LINKS]) if v[LINKS] else "[]"
    return tuple(v), authors


def _empty(v) -> bool:
    return v is None or v == "" or v == []


def _least(a, b):
    return b if a is None else a if b is None else min(a, b)


def _most(a, b):
    return b if a is None else a if b is None else max(a, b)


def merge(old: Prepared, new: Prepared) -> Prepared:
    """An incoming row merged into the stored one (or an earlier one of its batch).

    The higher version's values win, each only where it has one; at equal versions the
    stored value stays and the incoming one only fills gaps, so re-importing is a no-op.
    First-seen dates are the earliest, the last update the latest, sources the union,
    whichever source came first. Timestamps compare as text: every row of one database
    spells them the same way (``timestamp``).
    """
    (o, o_authors), (n, n_authors) = old, new
    newer = n[VERSION] > o[VERSION]
    f = list(o)
    for i in _VERSIONED:
        if newer:
            if not _empty(n[i]):
                f[i] = n[i]
        elif _empty(o[i]):
            f[i] = n[i]
    authors = (n_authors or o_authors) if newer else (o_authors or n_authors)
    sources = _sorted_sources(f"{o[SOURCES] or ''},{n[SOURCES]}")
    return build(
        o[ARXIV_ID], max(o[VERSION], n[VERSION]), f[TITLE], f[ABSTRACT], list(authors), f[CATEGORIES],
        f[MSC], f[ACM], _least(o[SUBMITTED], n[SUBMITTED]), _most(o[UPDATED], n[UPDATED]),
        _least(o[ANNOUNCED], n[ANNOUNCED]), f[COMMENT], f[JOURNAL_REF], f[DOI], f[LICENSE], sources,
    )
