"""The reads behind the feed pages, the API and the feeds (one place, both backends).

A paper's day is the day arXiv announced it (``settings.feed_mode='all'``, the default);
a community submission joins its announce day, estimated from its submission time when
no listing was imported (``days.py``). With ``feed_mode='submitted'`` only featured
submissions are shown, each on the day a member featured it (the Hugging Face way).
Hidden papers never leave this module.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

from sqlalchemy import Select, and_, case, exists, func, or_, select, union
from sqlalchemy.orm import Session, lazyload

from paperboy.config import Settings
from paperboy.papers.days import listing_day
from paperboy.papers.taxonomy import known_category
from paperboy.papers.text import name_key
from paperboy.papers.visibility import visible
from paperboy.store.models import Author, Paper, PaperAuthor, PaperCategory

MAX_PAGE = 10_000


class BadParameter(ValueError):
    """A query parameter that cannot be understood; the message says which and why."""


def papers_query():
    """Papers without eager author links (``author_names`` reads the names of many papers in one light query)."""
    return select(Paper).options(lazyload(Paper.author_links))


def author_names(db: Session, papers: list[Paper]) -> dict[int, list[str]]:
    """Paper id → author names in order, for many papers in one query."""
    ids = [p.id for p in papers]
    if not ids:
        return {}
    out: dict[int, list[str]] = {i: [] for i in ids}
    rows = db.execute(select(PaperAuthor.paper_id, Author.name).join(Author, Author.id == PaperAuthor.author_id)
                      .where(PaperAuthor.paper_id.in_(ids)).order_by(PaperAuthor.paper_id, PaperAuthor.position))
    for pid, name in rows:
        out[pid].append(name)
    return out


# --- periods ----------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$", re.IGNORECASE)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True)
class Period:
    kind: str  # 'date' | 'week' | 'month'
    start: dt.date
    end: dt.date  # inclusive

    @property
    def value(self) -> str:
        if self.kind == "date":
            return self.start.isoformat()
        if self.kind == "week":
            y, w, _ = self.start.isocalendar()
            return f"{y}-W{w:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        if self.kind == "date":
            return self.start.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            y, w, _ = self.start.isocalendar()
            return f"Week {w}, {y} ({self.start.strftime('%b %-d')} – {self.end.strftime('%b %-d')})"
        return self.start.strftime("%B %Y")

    def shifted(self, steps: int) -> Period:
        if self.kind == "date":
            return day_period(self.start + dt.timedelta(days=steps))
        if self.kind == "week":
            return week_period(self.start + dt.timedelta(weeks=steps))
        m = self.start.year * 12 + self.start.month - 1 + steps
        return month_period(dt.date(m // 12, m % 12 + 1, 1))


def day_period(d: dt.date) -> Period:
    return Period("date", d, d)


def week_period(d: dt.date) -> Period:
    start = d - dt.timedelta(days=d.weekday())
    return Period("week", start, start + dt.timedelta(days=6))


def month_period(d: dt.date) -> Period:
    start = d.replace(day=1)
    nxt = dt.date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    return Period("month", start, nxt - dt.timedelta(days=1))


MIN_YEAR, MAX_YEAR = 1900, 9000


def _out_of_range(name: str, value: str) -> BadParameter:
    return BadParameter(f"{name}={value!r} is out of range (years {MIN_YEAR}–{MAX_YEAR})")


def parse_date(value: str, name: str = "date") -> dt.date:
    if not _DATE.match(value or ""):
        raise BadParameter(f"{name}={value!r} is not a date; use YYYY-MM-DD, e.g. 2025-06-16")
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}={value!r} is not a real calendar date") from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise _out_of_range(name, value)
    return day


# A week or a month is a year and a number: its pattern, the period they name (ValueError
# when there is none, as week 60 or month 13) and the form to ask for.
_YEAR_AND_NUMBER = {
    "week": (_WEEK, lambda year, n: week_period(dt.date.fromisocalendar(year, n, 1)),
             "an ISO week; use YYYY-Www, e.g. 2025-W25"),
    "month": (_MONTH, lambda year, n: month_period(dt.date(year, n, 1)),
              "a month; use YYYY-MM, e.g. 2025-06"),
}


def parse_period(date: str | None, week: str | None, month: str | None) -> Period | None:
    """At most one of date (YYYY-MM-DD), week (YYYY-Www) or month (YYYY-MM)."""
    given = [(k, v) for k, v in (("date", date), ("week", week), ("month", month)) if v is not None]
    if len(given) > 1:
        raise BadParameter("give only one of date, week or month")
    if not given:
        return None
    kind, value = given[0]
    if kind == "date":
        return day_period(parse_date(value))
    pattern, period_of, form = _YEAR_AND_NUMBER[kind]
    m = pattern.match(value)
    if m is None:
        raise BadParameter(f"{kind}={value!r} is not {form}")
    year, number = int(m.group(1)), int(m.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise _out_of_range(kind, value)
    try:
        return period_of(year, number)
    except ValueError:
        raise BadParameter(f"{kind}={value!r} is not {form}") from None


# --- the daily feed ----------------------------------------------------------------

def estimated_days(db: Session, settings: Settings) -> dict[int, dt.date]:
    """Community submissions with no imported listing → their estimated listing day.

    In 'all' mode a submission is listed on its arXiv announce day, not on the day a
    member featured it (which would make a lone paper the newest day). Papers fetched
    one by one have no ``announced_on``; their day is estimated from ``submitted_at``.
    Submissions are few (a daily cap per member), so this is one small read of the
    ``featured_on`` index: asked as a range (``IS NOT NULL`` is not one to SQLite) and
    with ``announced_on`` checked here, not in SQL, where SQLite took ``announced_on IS
    NULL`` as its lead: every paper of a snapshot import has no announce day, so at 2.6M
    papers it read them all, 1.5 s a call and five calls a feed page (0.04 ms now).
    """
    if settings.feed_mode == "submitted":
        return {}
    return {pid: listing_day(sub) if sub else featured for pid, sub, featured, announced in db.execute(SUBMISSIONS)
            if announced is None}


# The submissions a member featured (see ``estimated_days``).
SUBMISSIONS = select(Paper.id, Paper.submitted_at, Paper.featured_on, Paper.announced_on).where(
    Paper.featured_on >= dt.date.min, Paper.submitted_by_id.is_not(None), visible())


def in_period(settings: Settings, start: dt.date, end: dt.date, estimated: dict[int, dt.date] | None = None):
    if settings.feed_mode == "submitted":
        return and_(Paper.featured_on >= start, Paper.featured_on <= end)
    announced = and_(Paper.announced_on >= start, Paper.announced_on <= end)
    extra = [pid for pid, day in (estimated or {}).items() if start <= day <= end]
    return or_(announced, Paper.id.in_(extra)) if extra else announced


def latest_day(db: Session, settings: Settings) -> dt.date | None:
    """The newest day with announced papers (the front page); submissions never move it."""
    if settings.feed_mode == "submitted":
        return db.scalar(select(func.max(Paper.featured_on)).where(visible()))
    day = db.scalar(select(func.max(Paper.announced_on)).where(visible()))
    if day is None:  # an instance that only has submissions
        day = max(estimated_days(db, settings).values(), default=None)
    return day


def neighbour_day(db: Session, settings: Settings, day: dt.date, direction: int) -> dt.date | None:
    """The closest earlier (-1) or later (+1) day that has papers."""
    col = Paper.featured_on if settings.feed_mode == "submitted" else Paper.announced_on
    if direction < 0:
        stmt = select(func.max(col)).where(visible(), col < day)
    else:
        stmt = select(func.min(col)).where(visible(), col > day)
    found = [d for d in estimated_days(db, settings).values() if (d < day if direction < 0 else d > day)]
    if (d := db.scalar(stmt)) is not None:
        found.append(d)
    if not found:
        return None
    return max(found) if direction < 0 else min(found)


def feed_day(settings: Settings | None = None, estimated: dict[int, dt.date] | None = None):
    """The day a paper is listed under, as SQL (for ordering): the day it was featured in
    'submitted' mode, else its announce day or, for a submission without one, its estimate."""
    if settings is not None and settings.feed_mode == "submitted":
        return Paper.featured_on
    if estimated:
        return case(estimated, value=Paper.id, else_=Paper.announced_on)
    return Paper.announced_on


SORTS = {"votes": "most upvoted first", "newest": "newest first"}


def feed_order(sort: str = "votes", settings: Settings | None = None, estimated: dict[int, dt.date] | None = None):
    day = feed_day(settings, estimated)
    if sort == "publishedAt":
        return [day.desc(), Paper.upvotes.desc(), Paper.num_comments.desc(), Paper.arxiv_id]
    if sort == "newest":
        # Within a day arXiv numbers papers in the order they were submitted.
        return [day.desc(), Paper.arxiv_id.desc()]
    # Votes first; then comments; then the listing's own order (arXiv id).
    return [Paper.upvotes.desc(), Paper.num_comments.desc(), Paper.arxiv_id]


def in_category(category: str):
    return Paper.id.in_(select(PaperCategory.paper_id).where(PaperCategory.category == category))


def feed_papers(db: Session, settings: Settings, period: Period, *, limit: int, offset: int = 0,
                sort: str = "votes", category: str | None = None) -> tuple[list[Paper], int]:
    estimated = estimated_days(db, settings)
    cond = and_(visible(), in_period(settings, period.start, period.end, estimated))
    if category:
        cond = and_(cond, in_category(category))
    total = db.scalar(select(func.count()).select_from(Paper).where(cond)) or 0
    order = feed_order(sort, settings, estimated)
    papers = list(db.scalars(papers_query().where(cond).order_by(*order).limit(limit).offset(offset)))
    return papers, total


def period_categories(db: Session, settings: Settings, start: dt.date, end: dt.date) -> list[tuple[str, int]]:
    """The categories of the papers listed from ``start`` to ``end`` with their counts, most papers first."""
    cond = and_(visible(), in_period(settings, start, end, estimated_days(db, settings)))
    stmt = (select(PaperCategory.category, func.count()).join(Paper, Paper.id == PaperCategory.paper_id)
            .where(cond).group_by(PaperCategory.category).order_by(func.count().desc(), PaperCategory.category))
    return [(c, n) for c, n in db.execute(stmt)]


# arXiv categories (cs.LG, hep-th) and the MSC/ACM class codes mixed into listings (68T50, I.2.7).
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,39}$")
# What the API's category parameters document (empty: none), as _CATEGORY checks it.
CATEGORY_PATTERN = r"^$|^[A-Za-z0-9][A-Za-z0-9.\-]{0,39}$"


def parse_category(value: str | None) -> str | None:
    """An arXiv category such as cs.LG (or an MSC/ACM class code); empty means none."""
    value = (value or "").strip()
    if not value:
        return None
    if not _CATEGORY.match(value):
        raise BadParameter(f"category={value[:40]!r} is not a category name; use one like cs.LG")
    return known_category(value) or value  # arXiv's spelling: cs.lg is cs.LG


def parse_sort(value: str | None) -> str:
    value = (value or "votes").strip()
    if value not in SORTS:
        raise BadParameter(f"sort={value[:40]!r} is not a sort; use one of: {', '.join(SORTS)}")
    return value


def page_of_papers(db: Session, ids: Select, *, limit: int, offset: int = 0) -> list[Paper]:
    """One page of papers, ``ids`` being a select of ``Paper.id`` in the page's order. The
    ids are ordered first and only the page's rows are read whole: sorting whole rows
    (abstracts and all) to keep 30, SQLite took 32 ms for the first page of a category of
    5,300 papers and 81 ms for its 100th, 11 and 12 ms this way (`bench/paper_pages.py`)."""
    return papers_by_ids(db, list(db.scalars(ids.limit(limit).offset(offset))))


def papers_by_ids(db: Session, ids: list[int]) -> list[Paper]:
    """Visible papers in the order of ``ids`` (hidden or missing ones dropped)."""
    if not ids:
        return []
    rows = {p.id: p for p in db.scalars(papers_query().where(Paper.id.in_(ids), visible()))}
    return [rows[i] for i in ids if i in rows]


# Similar papers are listed most similar first ("relevance") or newest first ("recent");
# newest first orders the SIMILAR_POOL most similar papers by announce day, so it shows
# recent work close to the paper rather than a reshuffle of the few most similar.
SIMILAR_SORTS = ("relevance", "recent")
SIMILAR_POOL = 50


def similar_pool(sort: str, limit: int) -> int:
    """How many similar papers to ask the search service for, to show ``limit`` in ``sort`` order."""
    return max(limit, SIMILAR_POOL) if sort == "recent" else limit


def similar_papers(db: Session, ids: list[int], *, sort: str, limit: int) -> list[Paper]:
    """The visible papers of ``ids`` (most similar first) to show: the first ``limit``, or
    for ``recent`` the ``limit`` newest by announce day (undated last; a tie keeps the
    more similar first)."""
    if sort != "recent":
        return papers_by_ids(db, ids[:limit])
    papers = papers_by_ids(db, ids)
    papers.sort(key=lambda p: (p.announced_on is None, -(p.announced_on.toordinal() if p.announced_on else 0)))
    return papers[:limit]


def titles_and_authors(db: Session, ids: list[int]) -> list[tuple[str, str, list[str]]]:
    """(arXiv id, title, author names) of the shown papers among ``ids``."""
    if not ids:
        return []
    rows = db.execute(select(Paper.arxiv_id, Paper.title, Paper.authors_text).where(Paper.id.in_(ids), visible()))
    return [(a, t, [n.strip() for n in (names or "").split(",") if n.strip()]) for a, t, names in rows]


def paper_by_arxiv_id(db: Session, arxiv_id: str) -> Paper | None:
    return db.scalar(papers_query().where(Paper.arxiv_id == arxiv_id, visible()))


def newest_paper(db: Session) -> tuple | None:
    """The highest paper id and when that paper was stored (one index look-up): it
    changes when papers arrive, and the time tells apart an id SQLite gave again after
    the paper that had it was rolled back or deleted."""
    row = db.execute(select(Paper.id, Paper.created_at).order_by(Paper.id.desc()).limit(1)).first()
    return tuple(row) if row is not None else None


def listing_order(db: Session) -> tuple:
    """Newest announced first (unannounced papers last), then most voted, then newest id:
    the order of ``ix_papers_listing``. SQLite puts NULL last in DESC by itself and uses
    the index only for an ORDER BY without NULLS LAST."""
    announced = Paper.announced_on.desc()
    if db.get_bind().dialect.name != "sqlite":
        announced = announced.nulls_last()
    return announced, Paper.upvotes.desc(), Paper.arxiv_id.desc()


# What a count over many papers found, per process: (what, database URL, ...) ->
# (expiry, newest_paper then, answer). Such counts change only when papers arrive, so an
# answer is kept ten minutes at most, and only until a paper arrives.
_COUNTED: dict[tuple, tuple[float, tuple | None, object]] = {}
COUNTED_TTL = 600.0


def _until_a_paper_arrives(db: Session, key: tuple, count):
    """``count()``, or what it gave for ``key`` on this database since the last new paper
    (``newest_paper``) and within ``COUNTED_TTL``."""
    key, now = (*key, str(db.get_bind().engine.url)), time.monotonic()
    newest = newest_paper(db)
    hit = _COUNTED.get(key)
    if hit is not None and hit[0] > now and hit[1] == newest:
        return hit[2]
    answer = count()
    _COUNTED[key] = (now + COUNTED_TTL, newest, answer)
    return answer


def _category_rows(db: Session, category: str) -> int:
    """The category's papers, hidden ones included. Counting a category that holds half of
    the papers reads every one of its index entries (133k at 300k papers: 30-50 ms; ~10x
    that for all of arXiv), so the count is kept (``_until_a_paper_arrives``). A paper
    moved out of a category by a new version may be counted there until then."""
    return _until_a_paper_arrives(db, ("category rows", category), lambda: db.scalar(
        select(func.count()).select_from(PaperCategory).where(PaperCategory.category == category)) or 0)


def category_total(db: Session, category: str) -> int:
    """The category's visible papers: its rows less its hidden papers, which are few and
    counted each time (``ix_papers_hidden``), so hiding a paper shows at once."""
    rows = _category_rows(db, category)
    if not rows:
        return 0
    # Written as "hidden papers that are in it", so that SQLite too starts from the few
    # hidden papers instead of the category's rows.
    in_it = exists().where(PaperCategory.paper_id == Paper.id, PaperCategory.category == category)
    hidden = db.scalar(select(func.count()).select_from(Paper).where(Paper.hidden, in_it)) or 0
    return rows - hidden


def category_ids(db: Session, category: str, total: int, *, limit: int, offset: int) -> Select:
    """The ids of a page of the category's papers, in ``listing_order``, for a category of
    ``total`` papers.

    A large category is read along ``ix_papers_listing``, each paper checked for the
    category, until the page is full: about (offset + limit) x papers / total look-ups.
    A small one is read from its category rows and sorted. The first is chosen when it
    reads fewer rows than the category holds (SQLite, with no statistics, would walk the
    index for any category; PostgreSQL plans the same choice from its own)."""
    papers_now = (newest_paper(db) or (0,))[0]  # the highest id: about how many papers there are
    if (offset + limit) * papers_now < total * total:
        member = exists().where(PaperCategory.paper_id == Paper.id, PaperCategory.category == category)
    else:
        # Materialised first, as chosen: PostgreSQL estimates a walk from the category's
        # share alone, and a category whose papers are mostly old (cs.SE in the snapshot:
        # 1.6k of 300k) made it walk 45k papers for a page (90 ms; 2 ms this way).
        rows = (select(PaperCategory.paper_id).where(PaperCategory.category == category)
                .cte("in_category").prefix_with("MATERIALIZED"))
        member = Paper.id.in_(select(rows.c.paper_id))
    return select(Paper.id).where(visible(), member).order_by(*listing_order(db)).limit(limit).offset(offset)


# Papers in followed categories or by followed authors: counted exactly up to this many
# rows; past it (a large category and anything else) the total is a lower bound.
FOLLOWED_EXACT_UP_TO = 20_000


@dataclass(frozen=True)
class Followed:
    papers: list[Paper]
    total: int
    exact: bool  # False: ``total`` is a lower bound (the largest followed category)


def followed_papers(db: Session, categories: list[str], author_ids: set[int], *, limit: int,
                    offset: int = 0, exact_up_to: int = FOLLOWED_EXACT_UP_TO) -> Followed:
    """A page of the visible papers in any of ``categories`` or by any of ``author_ids``,
    in ``listing_order``, and how many there are.

    As ``category_ids`` does for one category: when the follows hold many papers (cs.CV is
    1.2M of the 2.6M generated ones), the listing index is walked, each paper checked
    against the follows by index look-ups, until the page is full; when they hold few, their
    rows are read and sorted. The first form as "IN (category rows) OR IN (author rows)"
    made PostgreSQL check each of 2.6M papers against a 1.2M-row list it could not hash
    within work_mem: a /following page ran for more than 20 minutes."""
    if not categories and not author_ids:
        return Followed([], 0, True)
    rows = [_category_rows(db, c) for c in categories]
    by_authors = (db.scalar(select(func.count()).select_from(PaperAuthor)
                            .where(PaperAuthor.author_id.in_(author_ids))) or 0) if author_ids else 0
    held = sum(rows) + by_authors  # at least the union's size (a paper in two follows counts twice)
    papers_now = (newest_paper(db) or (0,))[0]
    parts = []
    if categories:
        parts.append(select(PaperCategory.paper_id).where(PaperCategory.category.in_(categories)))
    if author_ids:
        parts.append(select(PaperAuthor.paper_id).where(PaperAuthor.author_id.in_(author_ids)))
    listed = (parts[0] if len(parts) == 1 else union(*parts)).cte("followed").prefix_with("MATERIALIZED")
    in_listed = Paper.id.in_(select(listed.c.paper_id))
    if (offset + limit) * papers_now < held * held:
        member = or_(*([exists().where(PaperCategory.paper_id == Paper.id, PaperCategory.category.in_(categories))]
                       if categories else []),
                     *([exists().where(PaperAuthor.paper_id == Paper.id, PaperAuthor.author_id.in_(author_ids))]
                       if author_ids else []))
    else:
        member = in_listed
    page = page_of_papers(db, select(Paper.id).where(visible(), member).order_by(*listing_order(db)),
                          limit=limit, offset=offset)
    if held <= exact_up_to or not categories:  # authors alone: their rows are few
        total = db.scalar(select(func.count()).select_from(Paper).where(visible(), in_listed)) or 0
        return Followed(page, total, True)
    if len(categories) == 1 and not author_ids:
        return Followed(page, category_total(db, categories[0]), True)
    # Many papers in several follows: counting their union reads every one of them (seconds
    # at 2.6M); the largest category is a true lower bound, kept as the category page keeps it.
    return Followed(page, max((category_total(db, c) for c in categories), default=0), False)


def category_papers(db: Session, category: str, *, limit: int, offset: int) -> tuple[list[Paper], int]:
    """A page of the category's papers, newest announced first, and how many it holds."""
    total = category_total(db, category)
    if not total:
        return [], 0
    ids = list(db.scalars(category_ids(db, category, total, limit=limit, offset=offset)))
    return papers_by_ids(db, ids), total


def author_papers(db: Session, name: str, *, limit: int, offset: int) -> tuple[list[Paper], int, str | None]:
    """Papers by the author of that exact name (else the name key), newest first."""
    author = db.scalar(select(Author).where(Author.name == name))
    if author is None:

        author = db.scalar(select(Author).where(Author.name_key == name_key(name)).limit(1))
    if author is None:
        return [], 0, None
    ids = select(PaperAuthor.paper_id).where(PaperAuthor.author_id == author.id)
    cond = and_(visible(), Paper.id.in_(ids))
    total = db.scalar(select(func.count()).select_from(Paper).where(cond)) or 0
    order = (Paper.announced_on.desc().nulls_last(), Paper.arxiv_id.desc())
    return page_of_papers(db, select(Paper.id).where(cond).order_by(*order), limit=limit, offset=offset), total, author.name


def top_categories(db: Session, n: int = 40) -> list[str]:
    """The ``n`` categories with most papers, for the search page's menu and the Following
    page's suggestions. Counting them groups every category row (4.25M at 2.6M papers,
    docs/scale.md) and the order hardly moves in a day, so every category's place is
    counted once for any ``n`` and kept (``_until_a_paper_arrives``)."""
    ranked = _until_a_paper_arrives(db, ("categories by papers",), lambda: list(db.scalars(
        select(PaperCategory.category).group_by(PaperCategory.category).order_by(func.count().desc()))))
    return ranked[:n]
