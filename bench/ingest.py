"""Snapshot import speed against raw insert baselines measured in the same run.

    .venv/bin/python bench/ingest.py [--records 1000000] [--backends sqlite,postgresql]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--workdir DIR]
        [--snapshot FILE]   # a given file instead (bench/snapshot_gen.py's realistic records)

1. Generates N synthetic records in the exact Kaggle ``arxiv-metadata-oai-snapshot``
   format (14 fields; LaTeX accents in some names, hard-wrapped abstracts, 1-3
   versions, a pool of authors so names repeat as in real data), cached by N.
2. Baselines: a bare ``executemany`` of N five-column rows into SQLite (WAL,
   synchronous=NORMAL, one transaction per 10,000 rows), and psycopg ``COPY`` of N
   five-column rows into PostgreSQL.
3. The full path, as ``paperboy ingest snapshot`` runs it (read, parse, normalise,
   upsert papers, authors, categories, cursor per batch; parsing in parser processes,
   ``read_snapshot_prepared``) into a freshly migrated database of each backend.

Prints records/s for each and the ratio full/baseline. Figures only; nothing asserted.

``--floor`` also times (4) the baseline's insert with the snapshot's own fields, and
(5) the schema floor: the rows the import writes for this file, parsed beforehand and
written the fastest way each backend has, with no Python per row.
"""

# SQL here is assembled from fixed table and column names and the bench's own paths.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import bisect
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from operator import itemgetter
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CATS = ["cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "math.OC", "hep-th", "quant-ph", "cond-mat.str-el",
        "astro-ph.GA", "math.PR", "physics.optics", "eess.SP", "cs.RO", "q-bio.NC", "econ.EM"]
WORDS = ("learning model data network deep neural graph quantum field theory optimal transport "
         "diffusion language vision robust adaptive sparse estimation inference bayesian spectral "
         "convergence stochastic gradient kernel manifold equivariant attention energy lattice").split()
FIRST = ["Anna", "Bo", "Carlos", "Dmitri", "Emma", "Fatima", "György", "Hiro", "Ines", "Jun", "Kofi",
         "Lena", "Mateo", "Nadia", "Omar", "Priya", "Qing", "Rafael", "Sofia", "Tomás", "Uma", "Viktor"]
LAST = ["Bal\\'azs", "M\\\"uller", "Nguyen", "Smith", "Garc\\'ia", "Kowalski", "Chen", "Okafor", "Rossi",
        "Dubois", "Ivanova", "Sato", "Kim", "Hansen", "Novak", "Silva", "Patel", "Cohen", "Lund", "Ali"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def _wrap(text: str, width: int = 80) -> str:
    lines, line = [], ""
    for word in text.split():
        if len(line) + len(word) + 1 > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "  " + "\n".join(lines) + "\n"


def generate(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    # ~n/4 distinct authors, each paper drawing 1-8 of them: names repeat as in arXiv.
    pool = [(f"{rng.choice(FIRST)} {chr(65 + i % 26)}.", f"{rng.choice(LAST)}{i // 26 % 997 or ''}")
            for i in range(max(1000, n // 4))]
    abstracts = [_wrap(" ".join(rng.choice(WORDS) for _ in range(rng.randint(80, 220))).capitalize() + ".")
                 for _ in range(2000)]
    with path.open("wb") as fh:
        for i in range(n):
            month = i // 99_999
            yymm = f"{15 + month // 12:02d}{month % 12 + 1:02d}"
            arxiv_id = f"{yymm}.{i % 99_999 + 1:05d}"
            names = rng.sample(pool, rng.randint(1, 8))
            nver = rng.choice((1, 1, 1, 2, 2, 3))
            versions = []
            for v in range(nver):
                versions.append({
                    "version": f"v{v + 1}",
                    "created": f"{rng.choice(DAYS)}, {rng.randint(1, 28)} {rng.choice(MONTHS)} "
                               f"20{yymm[:2]} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} GMT",
                })
            cats = " ".join(rng.sample(CATS, rng.randint(1, 3)))
            title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))).capitalize()
            if len(title) > 60:
                title = title[:60] + "\n  " + title[60:]
            obj = {
                "id": arxiv_id,
                "submitter": f"{names[0][0]} {names[0][1]}",
                "authors": ", ".join(f"{f} {last}" for f, last in names[:-1])
                + (" and " if len(names) > 1 else "") + f"{names[-1][0]} {names[-1][1]}",
                "title": title,
                "comments": f"{rng.randint(4, 40)} pages, {rng.randint(0, 12)} figures" if rng.random() < 0.7 else None,
                "journal-ref": f"Phys. Rev. D {rng.randint(1, 110)}, {rng.randint(1, 9999)}" if rng.random() < 0.2 else None,
                "doi": f"10.1103/PhysRevD.{rng.randint(1, 110)}.{rng.randint(1, 99999)}" if rng.random() < 0.3 else None,
                "report-no": None,
                "categories": cats,
                "license": "http://creativecommons.org/licenses/by/4.0/" if rng.random() < 0.4 else None,
                "abstract": abstracts[i % len(abstracts)],
                "versions": versions,
                "update_date": f"20{yymm[:2]}-{yymm[2:]}-15",
                "authors_parsed": [[last, first, ""] for first, last in names],
            }
            fh.write(orjson.dumps(obj) + b"\n")


def ids_unique(path: Path) -> int:
    seen = set()
    with path.open("rb") as fh:
        for line in fh:
            seen.add(orjson.loads(line)["id"])
    return len(seen)


# --- baselines ---------------------------------------------------------------------------


def _rows(n: int):
    titles = [f"Title number {i} about learning" for i in range(1000)]
    abstracts = [("An abstract of a paper " * 40) + str(i) for i in range(1000)]
    authors = [f"Author {i}, Other {i + 1}, Third {i + 2}" for i in range(1000)]
    for i in range(n):
        k = i % 1000
        yield (i, f"{2401 + i // 100_000}.{i % 100_000:05d}", titles[k], abstracts[k], authors[k])


def _sqlite_insert_rate(path: Path, rows, n: int) -> float:
    """Rows/s of a bare executemany of 5-column ``rows`` into a fresh WAL database,
    one transaction per 10,000 rows (the issue's reference measurement)."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, arxiv_id TEXT, title TEXT, abstract TEXT, authors TEXT)")
    rows = iter(rows)
    t0 = time.perf_counter()
    while True:
        chunk = [r for _, r in zip(range(10_000), rows, strict=False)]
        if not chunk:
            break
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", chunk)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    path.unlink(missing_ok=True)
    return n / elapsed


def baseline_sqlite(workdir: Path, n: int) -> float:
    return _sqlite_insert_rate(workdir / "baseline.db", _rows(n), n)


def floor_sqlite(workdir: Path, papers: list[tuple]) -> float:
    """The baseline's insert with these papers' own five fields (id, arxiv id, title,
    abstract, authors; ``staged_rows``' papers) instead of its 1,000 repeated strings:
    what the paper rows alone cost, before authors, categories, the other 21 columns and
    parsing."""
    return _sqlite_insert_rate(workdir / "floor.db", [p[:2] + p[3:6] for p in papers], len(papers))


# --- the schema floor: the import's rows written with no parsing and no Python per row ---


def staged_rows(snapshot: Path, dialect: str) -> tuple[list[tuple], list[tuple], list[tuple], list[tuple]]:
    """Papers (id first), authors, author links and categories exactly as the import
    writes them for this file of distinct, valid lines (not timed)."""
    from paperboy.ingest.normalise import name_key
    from paperboy.ingest.rows import CATEGORIES
    from paperboy.ingest.snapshot import prepare_line

    papers, links, cats, author_ids = [], [], [], {}
    with snapshot.open("rb") as fh:
        for pid, raw in enumerate(fh, 1):
            values, names = prepare_line(raw, dialect)
            papers.append((pid, *values))
            links.extend((pid, pos, author_ids.setdefault(name, len(author_ids) + 1)) for pos, name in enumerate(names))
            cats.extend((pid, cat, pos == 0) for pos, cat in enumerate(values[CATEGORIES].split()))
    authors = [(id_, name, name_key(name)[:300]) for name, id_ in author_ids.items()]
    return papers, authors, links, cats


def schema_floor(url: str, staged: tuple, batch_size: int) -> float:
    """Records/s of writing the staged rows into a freshly migrated database the fastest
    way each backend has, in the import's batches and transactions, with the bulk
    import's indexes set aside and rebuilt: SQLite ``INSERT ... SELECT`` from an attached
    staging database (C only; categories by the import's own statement), PostgreSQL
    ``COPY`` straight into the tables. What the database alone costs for this schema."""
    from paperboy.ingest.pipeline import _TAIL, SQLITE_CATEGORIES_OF_PAPERS
    from paperboy.ingest.rows import ROW
    from paperboy.store import bulk
    from paperboy.store.db import bulk_write_connection, make_engine
    from paperboy.store.migrate import upgrade

    papers, authors, links, cats = staged
    engine = make_engine(url)
    upgrade(engine)
    cols = ", ".join(ROW)
    with engine.connect() as conn, bulk_write_connection(conn):
        raw = conn.connection.driver_connection
        if engine.dialect.name == "sqlite":
            stage = Path(f"{url.removeprefix('sqlite:///')}.stage")
            stage.unlink(missing_ok=True)
            st = sqlite3.connect(stage, isolation_level=None)
            st.execute("PRAGMA journal_mode=OFF")
            st.execute(f"CREATE TABLE p (id INTEGER PRIMARY KEY, {cols})")
            st.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, name, name_key)")
            st.execute("CREATE TABLE pa (paper_id, position, author_id)")
            st.execute("BEGIN")
            st.executemany(f"INSERT INTO p VALUES ({', '.join('?' * (len(ROW) + 1))})", papers)
            st.executemany("INSERT INTO a VALUES (?, ?, ?)", authors)
            st.executemany("INSERT INTO pa VALUES (?, ?, ?)", links)
            st.execute("COMMIT")
            st.close()
            raw.execute(f"ATTACH '{stage}' AS st")
            for table in ("p", "a", "pa"):  # read once, so the timing starts with a warm file cache
                raw.execute(f"SELECT count(*), max(length(quote(rowid))) FROM st.{table}").fetchall()
        t0 = time.perf_counter()
        with conn.begin():
            bulk.defer(conn)
            if engine.dialect.name == "sqlite":
                raw.execute("INSERT INTO authors (id, name, name_key) SELECT id, name, name_key FROM st.a")
            else:
                with raw.cursor().copy("COPY authors (id, name, name_key) FROM STDIN") as copy:
                    for row in authors:
                        copy.write_row(row)
        tail = "'2026-01-01 00:00:00.000000', 0, 0, 0, '2026-01-01 00:00:00.000000'"
        for lo in range(0, len(papers), batch_size):
            hi = lo + batch_size
            with conn.begin():
                if engine.dialect.name == "sqlite":
                    raw.execute(f"INSERT INTO papers (id, {cols}, {', '.join(_TAIL)}) "
                                f"SELECT id, {cols}, {tail} FROM st.p WHERE id > ? AND id <= ?", (lo, hi))
                    raw.execute("INSERT INTO paper_authors SELECT * FROM st.pa WHERE paper_id > ? AND paper_id <= ?",
                                (lo, hi))
                    raw.execute(SQLITE_CATEGORIES_OF_PAPERS, (lo + 1, hi))
                    continue
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                cur = raw.cursor()
                now = "2026-01-01 00:00:00+00"
                with cur.copy(f"COPY papers (id, {cols}, {', '.join(_TAIL)}) FROM STDIN") as copy:
                    for row in papers[lo:hi]:
                        copy.write_row((*row, now, 0, 0, False, now))
                for table, rows, key in (("paper_authors", links, "paper_id, position, author_id"),
                                         ("paper_categories", cats, "paper_id, category, is_primary")):
                    first, last = (bisect.bisect_right(rows, x, key=itemgetter(0)) for x in (lo, hi))
                    with cur.copy(f"COPY {table} ({key}) FROM STDIN") as copy:
                        for row in rows[first:last]:
                            copy.write_row(row)
        bulk.restore(conn)
        if engine.dialect.name == "sqlite":
            raw.execute("DETACH st")
            stage.unlink()
    elapsed = time.perf_counter() - t0  # the SQLite checkpoint at the end (leaving bulk mode) included
    engine.dispose()
    return len(papers) / elapsed


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _pg_conninfo(url: str, dbname: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if dbname:
        u = u.set(database=dbname)
    return u.set(drivername="postgresql").render_as_string(hide_password=False)


def baseline_postgres(pg_url: str, n: int) -> float:
    import psycopg

    with psycopg.connect(_pg_conninfo(pg_url)) as conn:
        conn.execute("DROP TABLE IF EXISTS pb_bench_copy")
        conn.execute("CREATE TABLE pb_bench_copy (id int PRIMARY KEY, arxiv_id text, title text, abstract text, authors text)")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur, cur.copy("COPY pb_bench_copy FROM STDIN") as copy:
            for row in _rows(n):
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE pb_bench_copy")
        conn.commit()
    return n / elapsed


# --- the full path -------------------------------------------------------------------------


def full_path(url: str, snapshot: Path, batch_size: int, defer: bool | None) -> tuple[float, dict]:
    from paperboy.ingest.pipeline import run_source
    from paperboy.ingest.snapshot import SOURCE, estimated_records, read_snapshot_prepared
    from paperboy.store import bulk
    from paperboy.store.db import make_engine
    from paperboy.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    if defer is None:  # as `paperboy ingest snapshot` decides (into an empty store: yes, from 100k)
        defer = bulk.worth_deferring(estimated_records(snapshot.stat().st_size), 0)
    rebuild_started: list[float] = []

    def on_rebuild(_name: str, i: int, _n: int) -> None:
        if i == 1:
            rebuild_started.append(time.perf_counter())

    t0, c0 = time.perf_counter(), time.process_time()
    items = read_snapshot_prepared(snapshot, engine.dialect.name)
    counts = run_source(engine, f"{SOURCE}:{snapshot}", items, batch_size=batch_size,
                        defer_indexes=defer, on_rebuild=on_rebuild)
    end, cpu = time.perf_counter(), time.process_time() - c0
    engine.dispose()
    extra = {"indexes_deferred": defer}
    if rebuild_started:
        extra["index_rebuild_s"] = round(end - rebuild_started[0], 1)
    return end - t0, {**counts.as_dict(), "client_cpu_s": round(cpu, 1), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default=os.environ.get("PAPERBOY_BENCH_POSTGRES_URL")
                    or os.environ.get("PAPERBOY_TEST_POSTGRES_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "paperboy-bench")
    ap.add_argument("--snapshot", type=Path, help="import this Kaggle-format file (distinct ids; e.g. from "
                    "bench/snapshot_gen.py) instead of the generated one; --records is then its line count")
    ap.add_argument("--batch-size", type=int, default=20_000, help="as `paperboy ingest snapshot` (its default)")
    ap.add_argument("--defer-indexes", action=argparse.BooleanOptionalAction, default=None,
                    help="as the CLI option (default: the CLI's automatic choice)")
    ap.add_argument("--floor", action="store_true",
                    help="also time the baseline's insert with the snapshot's own title/abstract/authors (SQLite) "
                         "and the schema floor: the import's rows written with no parsing (both backends)")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the SQLite full path and print the top entries (this process only: the "
                         "parsers run in their own processes; profile it with read_snapshot_prepared(parallel=False))")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    n = args.records
    snapshot = args.snapshot or args.workdir / f"snapshot-{n}.json"
    if args.snapshot:
        with snapshot.open("rb") as fh:
            n = sum(1 for _ in fh)
    elif not snapshot.exists():
        t0 = time.perf_counter()
        tmp = snapshot.with_suffix(".part")
        generate(tmp, n)
        tmp.rename(snapshot)
        print(f"generated {n:,} records ({snapshot.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f}s")
    distinct = ids_unique(snapshot)
    print(f"snapshot: {snapshot} ({n:,} lines, {distinct:,} distinct ids), batch size {args.batch_size}")
    print(f"cpus: {os.cpu_count()}, load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    backends = args.backends.split(",")

    if "sqlite" in backends:
        base = baseline_sqlite(args.workdir, n)
        print(f"sqlite  baseline executemany (5 cols, WAL): {base:>10,.0f} rows/s")
        if args.floor:
            staged = staged_rows(snapshot, "sqlite")  # parsed once for both floors (not timed)
            floor = floor_sqlite(args.workdir, staged[0])
            print(f"sqlite  same insert, these papers' fields:  {floor:>10,.0f} rows/s = {floor / base:.1%} of baseline")
            _remove_sqlite(args.workdir / "floor.db")
            rate = schema_floor(f"sqlite:///{args.workdir / 'floor.db'}", staged, args.batch_size)
            del staged  # not held during the full path
            print(f"sqlite  schema floor (C only, no parsing):  {rate:>10,.0f} records/s = {rate / base:.1%} of baseline")
            _remove_sqlite(args.workdir / "floor.db")
        db = args.workdir / "full.db"
        _remove_sqlite(db)
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
        elapsed, counts = full_path(f"sqlite:///{db}", snapshot, args.batch_size, args.defer_indexes)
        if args.profile:
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        rate = n / elapsed
        print(f"sqlite  full snapshot import path:          {rate:>10,.0f} records/s "
              f"({elapsed:.1f}s, {counts}) = {rate / base:.1%} of baseline")

    if "postgresql" in backends:
        import psycopg

        base = baseline_postgres(args.pg_url, n)
        print(f"postgres baseline COPY (5 cols):             {base:>10,.0f} rows/s")
        name = f"pbbench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(_pg_conninfo(args.pg_url), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            from sqlalchemy.engine import make_url

            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
            if args.floor:
                rate = schema_floor(url, staged_rows(snapshot, "postgresql"), args.batch_size)
                print(f"postgres schema floor (COPY, no parsing):   {rate:>10,.0f} records/s = {rate / base:.1%} of baseline")
                with psycopg.connect(_pg_conninfo(args.pg_url), autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                    admin.execute(f'CREATE DATABASE "{name}"')
            elapsed, counts = full_path(url, snapshot, args.batch_size, args.defer_indexes)
            rate = n / elapsed
            print(f"postgres full snapshot import path:          {rate:>10,.0f} records/s "
                  f"({elapsed:.1f}s, {counts}) = {rate / base:.1%} of baseline")
        finally:
            with psycopg.connect(_pg_conninfo(args.pg_url), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
