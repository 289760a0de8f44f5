"""One normaliser for every source: ids, names, text, dates, categories, links.

Every source module turns its raw format into ``PaperRecord`` through these helpers,
so the same paper from the API, OAI-PMH, a snapshot or a daily listing compares equal.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

# Ids, text and names are the papers front door's; re-exported: every source reads them here.
from paperboy.papers.ids import BadRecord, is_arxiv_id, parse_arxiv_id  # noqa: F401
from paperboy.papers.text import (  # noqa: F401
    clean_name,
    clean_optional,
    clean_text,
    latex_to_unicode,
    name_key,
    split_authors,
)

# --- categories ------------------------------------------------------------------

_ARXIV_CAT = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
_MSC = re.compile(r"^\d{2}(?:[A-Z\-]\d{2}|[A-Z]xx|-XX|-\d{2})?\b")
_ACM = re.compile(r"^[A-K](?:\.\d+|\.m)*\b")


def split_categories(values: list[str] | str | None) -> tuple[list[str], list[str], list[str]]:
    """Separate arXiv categories from MSC and ACM class codes mixed into listings.

    Returns ``(arxiv_categories, msc_classes, acm_classes)``, order kept, primary first.
    """
    if values is None:
        return [], [], []
    if isinstance(values, str):
        cached = _CATS_CACHE.get(values)
        if cached is None:
            if len(_CATS_CACHE) >= 100_000:
                _CATS_CACHE.clear()
            cached = _CATS_CACHE[values] = _split_categories(values.split())
        return cached[0][:], cached[1][:], cached[2][:]
    return _split_categories(values)


_CATS_CACHE: dict[str, tuple[list[str], list[str], list[str]]] = {}


def _split_categories(values: list[str]) -> tuple[list[str], list[str], list[str]]:
    cats: list[str] = []
    msc: list[str] = []
    acm: list[str] = []
    for raw in values:
        value = clean_text(raw)
        if not value:
            continue
        if _ARXIV_CAT.match(value):
            if value not in cats:
                cats.append(value)
        elif value[0].isdigit():
            msc.append(value)
        elif _ACM.match(value):
            acm.append(value)
        else:
            # Unknown shape: keep it with the class codes rather than pollute categories.
            acm.append(value)
    return cats, msc, acm


# --- links -----------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"'{}\\^`]+", re.IGNORECASE)
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org", "huggingface.co")
_NOT_PROJECT = ("arxiv.org", "doi.org", "creativecommons.org")


def find_links(*texts: str | None) -> list[dict]:
    """Code and project links found in an abstract or comment, in order, without repeats."""
    found: list[dict] = []
    seen: set[str] = set()
    for text in texts:
        if not text or "://" not in text:
            continue
        # arXiv wraps long URLs over lines; rejoin "https://x.io/\n  path" first.
        joined = text if "\n" not in text else re.sub(r"(https?://\S+)\s*\n\s*(?=[\w/.-]+(?:\s|$))", r"\1", text)
        for m in _URL.finditer(joined):
            url = m.group(0).rstrip(".,;:)]}")
            if url.count("(") < url.count(")"):
                url = url.rstrip(")")
            host = url.split("/")[2].lower().removeprefix("www.")
            if any(host == h or host.endswith("." + h) for h in _NOT_PROJECT):
                continue
            if url in seen:
                continue
            seen.add(url)
            kind = "code" if any(host == h for h in _CODE_HOSTS) else "project"
            found.append({"kind": kind, "url": url})
    return found


# --- dates -----------------------------------------------------------------------


def parse_datetime(value: str | None, *, field_name: str = "date") -> dt.datetime | None:
    """ISO 8601, RFC 2822 (``Mon, 2 Apr 2007 19:18:42 GMT``) or a bare date, to aware UTC."""
    if value is None or value == "":
        return None
    value = value.strip()
    try:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", value):
            return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
        if value[:4].isdigit():
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            from email.utils import parsedate_to_datetime

            parsed = parsedate_to_datetime(value)
    except (ValueError, TypeError, IndexError) as exc:
        raise BadRecord(f"bad {field_name}: {value[:60]!r}") from exc
    if parsed is None:
        raise BadRecord(f"bad {field_name}: {value[:60]!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_date(value: str | None, *, field_name: str = "date") -> dt.date | None:
    parsed = parse_datetime(value, field_name=field_name)
    return parsed.date() if parsed else None


# --- the normalised record ---------------------------------------------------------

MAX_TITLE = 2_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 5_000
# Column widths (store/models.py): PostgreSQL refuses a longer value, failing the batch.
MAX_NAME = 300
MAX_CATEGORY = 40
MAX_SHORT_FIELD = 255  # doi, license
MAX_VERSION = 2**31 - 1


@dataclass(slots=True)
class PaperRecord:
    arxiv_id: str
    title: str
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    version: int | None = None
    categories: list[str] = field(default_factory=list)
    msc_classes: list[str] = field(default_factory=list)
    acm_classes: list[str] = field(default_factory=list)
    submitted_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    announced_on: dt.date | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    source: str = ""

    def validate(self) -> PaperRecord:
        if not self.title:
            raise BadRecord(f"{self.arxiv_id}: empty title")
        if len(self.title) > MAX_TITLE:
            raise BadRecord(f"{self.arxiv_id}: title longer than {MAX_TITLE} characters")
        if len(self.abstract) > MAX_ABSTRACT:
            raise BadRecord(f"{self.arxiv_id}: abstract longer than {MAX_ABSTRACT} characters")
        if len(self.authors) > MAX_AUTHORS:
            raise BadRecord(f"{self.arxiv_id}: more than {MAX_AUTHORS} authors")
        if self.version is not None and not 0 <= self.version <= MAX_VERSION:
            raise BadRecord(f"{self.arxiv_id}: version {self.version} out of range")
        for name in ("doi", "license"):
            if len(getattr(self, name) or "") > MAX_SHORT_FIELD:
                raise BadRecord(f"{self.arxiv_id}: {name} longer than {MAX_SHORT_FIELD} characters")
        if any(len(a) > MAX_NAME for a in self.authors):
            raise BadRecord(f"{self.arxiv_id}: an author name longer than {MAX_NAME} characters")
        if any(len(c) > MAX_CATEGORY for c in self.categories):
            raise BadRecord(f"{self.arxiv_id}: a category longer than {MAX_CATEGORY} characters")
        # PostgreSQL cannot store a NUL in text: such a record is skipped, not the import.
        for text in (self.title, self.abstract, *self.authors, *self.categories, self.comment,
                     self.journal_ref, self.doi, self.license):
            if text and "\x00" in text:
                raise BadRecord(f"{self.arxiv_id}: NUL character in text")
        return self


_TEXT_KEYS = ("comment", "journal_ref", "doi", "license")


def _check_types(arxiv_id: object, title: object, abstract: object, categories: object,
                 primary_category: object, fields: dict) -> None:
    """JSON sources can put any type anywhere: refuse what is not text, naming the field."""
    if not isinstance(arxiv_id, str):
        raise BadRecord(f"'id' must be a string, not {type(arxiv_id).__name__}")
    texts = {"title": title, "abstract": abstract, "primary_category": primary_category,
             **{k: fields.get(k) for k in _TEXT_KEYS}}
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise BadRecord(f"{arxiv_id[:40]}: {key!r} must be a string, not {type(value).__name__}")
    if categories is not None and not isinstance(categories, str) and not (
            isinstance(categories, list) and all(isinstance(c, str) for c in categories)):
        raise BadRecord(f"{arxiv_id[:40]}: 'categories' must be a string or a list of strings")


def make_record(
    *,
    arxiv_id: str,
    title: str | None,
    abstract: str | None = None,
    authors: list[str] | str | None = None,
    categories: list[str] | str | None = None,
    primary_category: str | None = None,
    **fields,
) -> PaperRecord:
    """Normalise raw fields from any source into a validated PaperRecord."""
    _check_types(arxiv_id, title, abstract, categories, primary_category, fields)
    pid, version = parse_arxiv_id(arxiv_id)
    if fields.get("version") is not None:
        version = int(fields.pop("version"))
    else:
        fields.pop("version", None)
    if isinstance(authors, str):
        names = split_authors(authors)
    else:
        names = [n for n in (clean_name(a) for a in (authors or []) if isinstance(a, str)) if n]
    cats, msc, acm = split_categories(categories)
    if primary_category and primary_category in cats:
        cats.remove(primary_category)
        cats.insert(0, primary_category)
    elif primary_category and _ARXIV_CAT.match(primary_category):
        cats.insert(0, primary_category)
    for key in ("comment", "journal_ref", "doi", "license"):
        if key in fields:
            fields[key] = clean_optional(fields[key])
    rec = PaperRecord(
        arxiv_id=pid,
        version=version,
        title=clean_text(title),
        abstract=clean_text(abstract),
        authors=names,
        categories=cats,
        msc_classes=msc + list(fields.pop("msc_classes", []) or []),
        acm_classes=acm + list(fields.pop("acm_classes", []) or []),
        **fields,
    )
    return rec.validate()
