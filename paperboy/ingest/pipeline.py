"""The one idempotent upsert every source feeds, and the resumable batch runner.

A batch is merged with what is stored (newer version wins, nothing is erased by a
poorer source, first-seen dates kept), written with set-based statements, and
committed together with the source's cursor. A crash therefore loses at most the
uncommitted batch, and the re-run resumes from the cursor: the end state is the same
as an uninterrupted run.
"""

# SQL here is assembled only from the fixed column and table names below; every value is bound.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, repeat
from operator import itemgetter

import orjson
import psycopg
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from paperboy.ingest import rows
from paperboy.ingest.normalise import BadRecord, PaperRecord, name_key
from paperboy.ingest.rows import CATEGORIES, CONTENT_HASH, ROW, Prepared
from paperboy.store import bulk
from paperboy.store.db import bulk_write_connection, is_busy, writer
from paperboy.store.models import Author, IngestCursor, Paper, PaperAuthor, PaperCategory, utcnow

papers = Paper.__table__
authors_t = Author.__table__
paper_authors = PaperAuthor.__table__
paper_categories = PaperCategory.__table__
cursors = IngestCursor.__table__

@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: UpsertCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.failed += other.failed
        self.errors.extend(other.errors)

    @property
    def seen(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict:
        return {
            "inserted": self.inserted, "updated": self.updated,
            "unchanged": self.unchanged, "failed": self.failed,
        }


# Columns written after ROW on insert; on update only modified_at, so community state
# (votes, comments, hidden, featured, submitter) is never touched by ingest.
_TAIL = ("modified_at", "upvotes", "num_comments", "hidden", "created_at")


class AuthorCache:
    """name → id for the run; new names inserted set-wise.

    ``prime`` loads the whole (not too large) authors table once, after which a name
    not in the cache is known to be new without asking the database; otherwise
    unknown names are looked up in chunks. A name another writer inserted meanwhile is
    caught by the unique key (insert-or-ignore, then a look-up of what was ignored).
    """

    PRIME_LIMIT = 2_000_000

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.complete = False

    def prime(self, conn: Connection) -> None:
        n = conn.exec_driver_sql("SELECT count(*) FROM authors").scalar() or 0
        if n <= self.PRIME_LIMIT:
            self.ids = dict(conn.exec_driver_sql("SELECT name, id FROM authors").all())
            self.complete = True

    def _lookup(self, conn: Connection, names: list[str]) -> None:
        for chunk in _chunks(names, 500):
            for name, id_ in conn.execute(select(authors_t.c.name, authors_t.c.id).where(authors_t.c.name.in_(chunk))):
                self.ids[name] = id_

    def resolve(self, conn: Connection, names: Iterable[str]) -> dict[str, int]:
        ids = self.ids
        # Each of the batch's names is looked up in the dict, in C: ``set.difference`` of
        # a dict probes it with the names' cached hashes (a comprehension doing the same
        # cost 1.2-1.4 s of a 300k import). Not ``set(names) - ids.keys()``, which iterates
        # the whole dict: at 2.6M papers, 4M names, that one line took 92 % of the
        # importer's time and the import slowed from 3,000 to 800 records/s.
        missing = sorted((names if isinstance(names, set) else set(names)).difference(ids))
        if not missing:
            return ids
        if not self.complete:
            self._lookup(conn, missing)
            missing = [n for n in missing if n not in ids]
            if not missing:
                return ids
        # name_key(n)[:300] for each, its ASCII case (most names) inlined: a call per
        # name cost ~0.5 s of a 300k import.
        keys = [n.lower()[:300] if n.isascii() else name_key(n)[:300] for n in missing]
        rows = list(zip(missing, keys, strict=True))
        if conn.dialect.name == "postgresql":
            raw = conn.connection.driver_connection
            with raw.cursor() as cur:
                new_ids = _copy_with_new_ids(cur, "authors", "COPY authors (id, name, name_key) FROM STDIN", rows)
                if new_ids is not None:
                    ids.update(zip(missing, new_ids, strict=True))
                    return ids
                cur.execute("CREATE TEMP TABLE IF NOT EXISTS pb_stage_authors (name text, name_key text) ON COMMIT DELETE ROWS")
                cur.execute("DELETE FROM pb_stage_authors")
                with cur.copy("COPY pb_stage_authors (name, name_key) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                # Another writer stored some of these names meanwhile: insert the others
                # (their ids come back with the insert), then look up the ones it stored.
                cur.execute(
                    "INSERT INTO authors (name, name_key) SELECT name, name_key FROM pb_stage_authors "
                    "ON CONFLICT (name) DO NOTHING RETURNING name, id"
                )
                ids.update(cur.fetchall())
                if any(n not in ids for n in missing):
                    cur.execute("SELECT a.name, a.id FROM authors a JOIN pb_stage_authors s ON s.name = a.name")
                    ids.update(cur.fetchall())
        else:
            cur = conn.connection.driver_connection.cursor()
            base = cur.execute("SELECT coalesce(max(id), 0) FROM authors").fetchone()[0]
            new_ids = range(base + 1, base + 1 + len(rows))
            cur.executemany(
                "INSERT INTO authors (id, name, name_key) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                zip(new_ids, missing, keys, strict=True),
            )
            if cur.rowcount == len(rows):
                ids.update(zip(missing, new_ids, strict=True))
            else:  # another writer had some of these names: ask which ids won
                self._lookup(conn, missing)
            cur.close()
        return ids


def next_ids_sql(table: str) -> str:
    """PostgreSQL: the statement that draws ``%s`` new ids from ``table``'s sequence. The
    sequence is looked up once (a fenced subquery): ``nextval(pg_get_serial_sequence(...))``
    looks it up again for every id, 3 µs an id against 0.5 µs (400k ids: 1.19 s against 0.24 s)."""
    return (f"SELECT nextval(s.seq) FROM (SELECT pg_get_serial_sequence('{table}', 'id')::regclass AS seq "
            f"OFFSET 0) s, generate_series(1, %s)")


def _copy_with_new_ids(cur, table: str, copy_sql: str, rows: list[tuple]) -> list[int] | None:
    """PostgreSQL: COPY ``rows`` (each without its id) straight into ``table`` by
    ``copy_sql``, whose first column is the id, with ids drawn from its sequence
    beforehand; the ids, or ``None`` when another writer stored one of the rows' unique
    keys after the caller looked (the COPY stops, and is undone to a savepoint). Less work
    than staging the rows in a temporary table and upserting from it, whose per-row key
    probe grew with the table: the 2.6M import went from 417.5 s to 244-253 s with it for
    papers, and new author names cost ~12 µs less each (docs/ingest.md, "Speed")."""
    if not rows:
        return []
    cur.execute(next_ids_sql(table), (len(rows),))
    ids = [r[0] for r in cur.fetchall()]
    cur.execute("SAVEPOINT pb_copy_new")
    try:
        with cur.copy(copy_sql) as copy:
            for id_, row in zip(ids, rows, strict=True):
                copy.write_row((id_, *row))
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT pb_copy_new")
        return None
    cur.execute("RELEASE SAVEPOINT pb_copy_new")
    return ids


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class _Writer:
    """Raw, prepared statements for one dialect (built once)."""

    def __init__(self, dialect) -> None:
        self.dialect = dialect.name
        self.select_sql = f"SELECT id, {', '.join(ROW)} FROM papers WHERE arxiv_id "
        if self.dialect == "sqlite":
            self.batch_time = partial(rows.timestamp, zone="")
            self.insert_sql = (
                f"INSERT INTO papers ({', '.join((*ROW, *_TAIL))}) "
                f"VALUES ({', '.join('?' * len(ROW))}, %(now)s, 0, 0, 0, %(now)s)"
            )
            self.update_sql = (
                "UPDATE papers SET " + ", ".join(f"{c} = ?" for c in (*ROW[1:], "modified_at")) + " WHERE id = ?"
            )
        else:  # psycopg adapts the batch time itself
            self.batch_time = lambda v: v
            names = ", ".join(ROW)
            self.stage_sql = (
                f"CREATE TEMP TABLE IF NOT EXISTS pb_stage_papers ON COMMIT DELETE ROWS AS "
                f"SELECT {names} FROM papers WITH NO DATA"
            )
            self.copy_sql = f"COPY pb_stage_papers ({names}) FROM STDIN"
            # Changed papers: one set-based statement for the whole batch, leaving
            # created_at and the community columns alone.
            self.update_from_stage_sql = (
                "UPDATE papers p SET " + ", ".join(f"{c} = s.{c}" for c in ROW[1:])
                + ", modified_at = %(now)s FROM pb_stage_papers s WHERE p.arxiv_id = s.arxiv_id"
            )
            # New papers go straight into papers, with ids taken from its sequence first.
            self.direct_copy_sql = f"COPY papers (id, {names}, {', '.join(_TAIL)}) FROM STDIN"


_writers: dict[str, _Writer] = {}


def _writer(conn: Connection) -> _Writer:
    w = _writers.get(conn.dialect.name)
    if w is None:
        w = _writers[conn.dialect.name] = _Writer(conn.dialect)
    return w


def _select_stored(conn: Connection, w: _Writer, ids: list[str]) -> dict[str, tuple[int, Prepared]]:
    """arxiv id -> (paper id, its stored row in the form ``rows.build`` gives)."""
    stored: dict[str, tuple[int, Prepared]] = {}
    raw = conn.connection.driver_connection
    # SQLite binds at most a few thousand values a statement; PostgreSQL takes the whole
    # batch as one array (one round trip instead of one per 900 ids).
    if w.dialect == "sqlite":
        queries = [(w.select_sql + "IN (" + ", ".join("?" * len(chunk)) + ")", chunk) for chunk in _chunks(ids, 900)]
    else:
        queries = [(w.select_sql + "= ANY(%s)", (ids,))] if ids else []
    for sql, params in queries:
        cur = raw.cursor()
        cur.execute(sql, params)
        for values in cur.fetchall():
            stored[values[1]] = (values[0], rows.stored(values[1:], w.dialect))
        cur.close()
    return stored


def upsert_batch(
    conn: Connection, records: list[PaperRecord | Prepared], authors: AuthorCache | None = None
) -> UpsertCounts:
    """Merge ``records`` (records, or rows from ``rows.build``) into the store inside the caller's transaction."""
    counts = UpsertCounts()
    authors = authors or AuthorCache()
    w = _writer(conn)
    # Duplicates inside the batch are merged first (a listing repeats cross-lists). A
    # snapshot's batch has none and comes as rows: one comprehension tells (a loop doing
    # both cost ~0.5 s of a 300k import).
    prepared = [rec if isinstance(rec, tuple) else rows.of_record(rec, w.dialect) for rec in records]
    incoming: dict[str, Prepared] = {item[0][0]: item for item in prepared}
    if len(incoming) < len(prepared):
        incoming = {}
        for item in prepared:
            arxiv_id = item[0][0]
            prev = incoming.get(arxiv_id)
            incoming[arxiv_id] = item if prev is None else rows.merge(prev, item)
    stored = _select_stored(conn, w, list(incoming))

    # The common case, a paper not stored, is inserted as it came. When none of the
    # batch is stored (a bulk import's batches) that is every paper, taken at once.
    to_insert: list[Prepared] = [] if stored else list(incoming.values())
    to_update: list[tuple[tuple, int]] = []
    author_changed: dict[int, list[str]] = {}
    cats_changed: dict[int, list[str]] = {}
    for arxiv_id, item in (incoming.items() if stored else ()):
        old = stored.get(arxiv_id)
        if old is None:
            to_insert.append(item)
            continue
        paper_id, old_row = old
        old_values, old_authors = old_row
        values, names = rows.merge(old_row, item)
        if values[CONTENT_HASH] == old_values[CONTENT_HASH]:
            counts.unchanged += 1
            continue
        to_update.append((values, paper_id))
        if names != old_authors:
            author_changed[paper_id] = names
        if values[CATEGORIES] != old_values[CATEGORIES]:
            cats_changed[paper_id] = values[CATEGORIES].split()
    counts.inserted, counts.updated = len(to_insert), len(to_update)
    if not to_insert and not to_update:
        return counts

    now = w.batch_time(utcnow())
    raw = conn.connection.driver_connection
    cur = raw.cursor()
    if w.dialect == "sqlite":
        new_ids = []
        if to_insert:
            base = cur.execute("SELECT coalesce(max(id), 0) FROM papers").fetchone()[0]
            new_ids = range(base + 1, base + 1 + len(to_insert))
            # Without an id SQLite gives each row max(id) + 1 (no AUTOINCREMENT), which are
            # new_ids; the prepared tuples go in as they are, the batch's time as a literal
            # (our own formatted timestamp, nothing from the input).
            cur.executemany(w.insert_sql.replace("%(now)s", f"'{now}'"), map(itemgetter(0), to_insert))
            if cur.execute("SELECT max(id) FROM papers").fetchone()[0] != new_ids[-1]:
                raise RuntimeError("papers ids were not assigned in sequence")
        if to_update:
            cur.executemany(w.update_sql, [(*v[1:], now, id_) for v, id_ in to_update])
    else:
        tail = (now, 0, 0, False, now)
        new_ids = _copy_with_new_ids(cur, "papers", w.direct_copy_sql, [(*v, *tail) for v, _a in to_insert])
        if new_ids is None:
            # Another writer stored some of these papers after this batch looked, and
            # nothing of the batch is written yet: look again, then merge them as stored.
            cur.close()
            return upsert_batch(conn, records, authors)
        if to_update:
            cur.execute(w.stage_sql)
            cur.execute("DELETE FROM pb_stage_papers")  # empty unless called twice in one transaction
            with cur.copy(w.copy_sql) as copy:
                for v, _id in to_update:
                    copy.write_row(v)
            cur.execute(w.update_from_stage_sql, {"now": now})

    # Child rows in key order, built by C-level zips (a few per paper, a million papers).
    names = set(chain.from_iterable(map(itemgetter(1), to_insert)))
    for a in author_changed.values():
        names.update(a)
    author_id = authors.resolve(conn, names).__getitem__
    author_rows: list[tuple] = []
    cat_rows: list[tuple] = []
    if w.dialect == "sqlite":
        _insert_new_children_sqlite(cur, new_ids, to_insert, author_id)
    else:  # child rows in key order, built by C-level zips, for COPY
        for pid, (v, a) in zip(new_ids, to_insert, strict=True):
            author_rows.extend(zip(repeat(pid), range(len(a)), map(author_id, a)))
            cat_rows.extend(zip(repeat(pid), v[CATEGORIES].split(), chain((True,), repeat(False))))  # primary first
    for pid, a in author_changed.items():
        author_rows.extend(zip(repeat(pid), range(len(a)), map(author_id, a)))
    for pid, cats in cats_changed.items():
        cat_rows.extend(zip(repeat(pid), cats, chain((True,), repeat(False))))
    _replace_children(cur, w, "paper_authors", ("paper_id", "position", "author_id"), list(author_changed), author_rows)
    _replace_children(cur, w, "paper_categories", ("paper_id", "category", "is_primary"), list(cats_changed), cat_rows)
    cur.close()
    return counts


# The category rows of papers ``id BETWEEN ? AND ?``, from their own ``categories``
# column. Categories are checked to be [a-z.-A-Z] (normalise.split_categories): no
# quoting needed.
SQLITE_CATEGORIES_OF_PAPERS = (
    "INSERT INTO paper_categories (paper_id, category, is_primary) "
    "SELECT p.id, j.value, j.key = 0 FROM papers p, "
    "json_each('[\"' || replace(p.categories, ' ', '\",\"') || '\"]') j "
    "WHERE p.id BETWEEN ? AND ? AND p.categories != ''"
)


# The author links of papers ``? + i``, from a JSON array whose i-th element is the
# array of that paper's author ids in order.
SQLITE_AUTHORS_OF_PAPERS = (
    "INSERT INTO paper_authors (paper_id, position, author_id) "
    "SELECT ? + p.key, a.key, a.value FROM json_each(?) p, json_each(p.value) a"
)


def _insert_new_children_sqlite(cur, new_ids, to_insert: list[Prepared], author_id: Callable[[str], int]) -> None:
    """New papers' author links and categories, expanded by SQLite itself: the author ids
    of the whole batch as one bound JSON array of arrays, one per paper in ``new_ids``
    order (paper id = first id + outer index, position = inner index), and the categories
    straight from the rows just inserted; a third of the cost of binding every child row
    (docs/ingest.md, "Speed"). One statement and one ``orjson.dumps`` for the batch cost
    less than half of a statement and a joined string per paper (2.0 s of a 300k import)."""
    if not new_ids:
        return
    cur.execute(SQLITE_AUTHORS_OF_PAPERS,
                (new_ids[0], orjson.dumps([list(map(author_id, a)) for _v, a in to_insert]).decode()))
    cur.execute(SQLITE_CATEGORIES_OF_PAPERS, (new_ids[0], new_ids[-1]))


def _replace_children(cur, w: _Writer, table: str, cols: tuple, paper_ids: list[int], new_rows: list[tuple]) -> None:
    """Delete the rows of updated papers (new papers have none) and insert the new set."""
    if w.dialect == "sqlite":
        for chunk in _chunks(paper_ids, 900):
            cur.execute(f"DELETE FROM {table} WHERE paper_id IN ({', '.join('?' * len(chunk))})", chunk)
        if new_rows:
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", new_rows)
    else:
        if paper_ids:
            cur.execute(f"DELETE FROM {table} WHERE paper_id = ANY(%s)", (paper_ids,))
        if new_rows:
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in new_rows:
                    copy.write_row(row)


# --- cursors -----------------------------------------------------------------------


def read_cursor(conn: Connection, source: str) -> dict:
    row = conn.execute(select(cursors.c.value).where(cursors.c.source == source)).first()
    return dict(row.value) if row else {}


def write_cursor(conn: Connection, source: str, value: dict) -> None:
    now = utcnow()
    done = conn.execute(update(cursors).where(cursors.c.source == source).values(value=value, updated_at=now))
    if done.rowcount == 0:
        conn.execute(insert(cursors).values(source=source, value=value, updated_at=now))


# --- the runner ---------------------------------------------------------------------

# An item from a source: (cursor value after this item, record or error message, or
# None for a commit point: flush the batch now with this cursor, e.g. at a page's end).
Item = tuple[dict, "PaperRecord | Prepared | BadRecord | None"]


log = logging.getLogger(__name__)

BUSY_RETRIES = 3  # a batch that found the database busy is tried this many more times
# SQLite has one write lock for the whole database: while a batch is written the site's
# votes and sign-ins wait for it. Batches there are cut so that one transaction takes
# about this long (measured batch by batch), so a site write waits at most about that,
# whatever ``batch_size`` asks and however slow the disk (docs/ingest.md).
SQLITE_BATCH_SECONDS = 0.25
SQLITE_MIN_BATCH = 100


def run_source(
    engine: Engine,
    source: str,
    items: Iterable[Item],
    *,
    batch_size: int = 2000,
    on_progress: Callable[[dict, UpsertCounts], None] | None = None,
    max_errors_shown: int = 20,
    defer_indexes: bool = False,
    on_rebuild: Callable[[str, int, int], None] | None = None,
) -> UpsertCounts:
    """Upsert a source's records in batches, committing the cursor with each batch.

    Bad records are counted and reported (first ``max_errors_shown`` kept) and the run
    goes on: each is independent, so skipping one cannot corrupt another.

    ``defer_indexes`` (a bulk import): the first batch's transaction also sets the
    secondary indexes aside (``store.bulk``); they are rebuilt once the last batch is
    in, each reported to ``on_rebuild(name, i, n)``.
    """
    total = UpsertCounts()
    cache = AuthorCache()
    batch: list[PaperRecord | Prepared] = []
    position: dict | None = None
    batch_failed = 0
    primed = False
    # SQLite: start small, then grow or shrink to the measured time per transaction.
    limit = batch_size if engine.dialect.name != "sqlite" else min(batch_size, 1000)

    def write(conn: Connection) -> UpsertCounts:
        nonlocal primed
        # On SQLite the transaction takes the write lock up front (the connection comes
        # from store.db.writer), so a site's vote landing between this batch's reads and
        # writes cannot fail it; the site's writes wait at most one batch.
        with conn.begin():
            if conn.dialect.name == "postgresql":
                # A crash may lose the last few committed batches, never corrupt them;
                # their cursor is lost with them, so the re-run redoes exactly those.
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            first = not primed
            try:
                if first:
                    if defer_indexes:
                        bulk.defer(conn)
                    cache.prime(conn)
                    primed = True
                counts = upsert_batch(conn, batch, cache) if batch else UpsertCounts()
                write_cursor(conn, source, position)
            except BaseException:
                # The author cache may hold ids of this rolled-back batch: start it afresh.
                cache.ids.clear()
                cache.complete = False
                primed = primed and not first
                raise
        return counts

    def flush(conn: Connection) -> None:
        nonlocal batch, batch_failed, position, limit
        if position is None:
            return
        for attempt in range(BUSY_RETRIES + 1):
            started = time.monotonic()
            try:
                counts = write(conn)
                break
            except OperationalError as exc:
                # Busy past the timeout (a long write elsewhere): the batch is still in
                # memory and nothing of it was stored; try it again a few times.
                if not is_busy(exc) or attempt == BUSY_RETRIES:
                    raise
                time.sleep(0.5 * (attempt + 1))
        if conn.dialect.name == "sqlite":
            limit = next_batch_limit(len(batch) + batch_failed, time.monotonic() - started, batch_size)
        counts.failed += batch_failed
        total.add(counts)
        batch, batch_failed = [], 0
        if on_progress:
            on_progress(position, total)
        position = None

    # One connection for the whole run, tuned for bulk writes (see bulk_write_connection).
    with writer(engine).connect() as conn, bulk_write_connection(conn), _fewer_gc_passes():
        try:
            for pos, item in items:
                position = pos
                if item is None:
                    # A commit point (end of a page): store what is gathered with this cursor.
                    flush(conn)
                    continue
                if isinstance(item, BadRecord):
                    batch_failed += 1
                    if len(total.errors) < max_errors_shown:
                        total.errors.append(str(item))
                else:
                    batch.append(item)
                if len(batch) + batch_failed >= limit:
                    flush(conn)
            flush(conn)
            if defer_indexes:
                bulk.restore(conn, on_rebuild)
                bulk.refresh_statistics(conn)
            elif total.inserted or total.updated:  # (a bulk import has just analysed everything)
                bulk.refresh_stale_statistics(conn, total.inserted + total.updated)
        except BaseException:
            # The author cache may hold ids from a rolled-back batch; never reuse it.
            cache.ids.clear()
            cache.complete = False
            if defer_indexes and primed:
                # A failed import must not leave the site without its indexes until the
                # next import: put them back now (a kill -9 leaves them recorded, and
                # the next import or `paperboy db upgrade` puts them back).
                _restore_after_failure(conn)
            raise
    return total


def next_batch_limit(items: int, seconds: float, ceiling: int) -> int:
    """The next SQLite batch's size: as many items as the last batch wrote in
    ``SQLITE_BATCH_SECONDS``, never more than ``ceiling`` (what was asked for) nor
    fewer than ``SQLITE_MIN_BATCH`` (each commit has its cost)."""
    if items <= 0 or seconds <= 0:
        return ceiling
    return max(min(SQLITE_MIN_BATCH, ceiling), min(ceiling, int(items * SQLITE_BATCH_SECONDS / seconds)))


def _restore_after_failure(conn: Connection) -> None:
    try:
        if conn.in_transaction():
            conn.rollback()
        bulk.restore(conn)
    except Exception:  # noqa: BLE001 - the original error is the one to report
        log.exception("could not put back the indexes set aside; the next import will")


@contextmanager
def _fewer_gc_passes() -> Iterator[None]:
    """Run the cyclic garbage collector less often while batches of records are alive.

    A batch holds ~100,000 small objects without cycles, which every collection of
    the older generations walks again; with the default thresholds that cost ~20 % of
    an import. Restored afterwards.
    """
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 100_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
