"""kill -9 at a random point of an import, re-run it: the database ends exactly as after
an uninterrupted import (the batch and its cursor are committed together)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, inspect, select

from paperboy.ingest.snapshot import WORKER_NAME
from paperboy.store import bulk
from paperboy.store.db import make_engine
from paperboy.store.models import Author, IngestCursor, Paper, PaperAuthor, PaperCategory
from tests.ingest.conftest import KAGGLE

ROOT = Path(__file__).resolve().parents[2]
PAPERBOY = [sys.executable, "-m", "paperboy.cli"] if not (ROOT / ".venv/bin/paperboy").exists() else [str(ROOT / ".venv/bin/paperboy")]


def full_dump(engine):
    """Every stored fact about papers, authors and categories (surrogate ids left out)."""
    with engine.connect() as conn:
        papers = conn.execute(
            select(Paper.arxiv_id, Paper.version, Paper.title, Paper.abstract, Paper.authors_text,
                   Paper.categories, Paper.submitted_at, Paper.updated_at, Paper.comment, Paper.doi,
                   Paper.journal_ref, Paper.links, Paper.content_hash, Paper.sources).order_by(Paper.arxiv_id)
        ).all()
        links = conn.execute(
            select(Paper.arxiv_id, PaperAuthor.position, Author.name)
            .join(PaperAuthor, PaperAuthor.paper_id == Paper.id).join(Author)
            .order_by(Paper.arxiv_id, PaperAuthor.position)
        ).all()
        authors = conn.execute(select(Author.name, Author.name_key).order_by(Author.name)).all()
        cats = conn.execute(
            select(Paper.arxiv_id, PaperCategory.category, PaperCategory.is_primary)
            .join(PaperCategory, PaperCategory.paper_id == Paper.id).order_by(Paper.arxiv_id, PaperCategory.category)
        ).all()
    return papers, links, authors, cats


@pytest.fixture(scope="module")
def big_snapshot(tmp_path_factory, shared_data) -> Path:
    """3,000 lines in the Kaggle format made from the 200 real ones under new ids; every
    fifth line repeats an earlier paper as a newer version (so updates happen too)."""
    real = [orjson.loads(line) for line in KAGGLE.open("rb")]
    path = tmp_path_factory.mktemp("crash") / "snapshot.json"
    with path.open("wb") as fh:
        for i in range(3000):
            obj = dict(real[i % len(real)])
            if i % 5 == 4 and i > 10:
                n = i - 7
                obj["id"] = f"2401.{n:05d}"
                obj["versions"] = obj["versions"] + [{"version": f"v{len(obj['versions']) + 1}",
                                                      "created": "Tue, 9 Jan 2024 10:00:00 GMT"}]
                obj["title"] = obj["title"] + " (revised)"
            else:
                obj["id"] = f"2401.{i:05d}"
            fh.write(orjson.dumps(obj) + b"\n")
    return path


def _run(url: str, path: Path, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "PAPERBOY_DATABASE_URL": url, "COLUMNS": "100"}
    env.pop("PAPERBOY_CONFIG", None)
    return subprocess.Popen([*PAPERBOY, "ingest", "snapshot", str(path), "--batch-size", "97", *(flags or ["--serial"])],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def schema(engine) -> dict:
    """Every index and foreign key of the tables an import writes to."""
    insp = inspect(engine)
    found = {}
    for table in ("papers", *bulk.TABLES):
        for ix in insp.get_indexes(table):
            found[ix["name"]] = (table, tuple(ix["column_names"]), bool(ix["unique"]))
        for fk in insp.get_foreign_keys(table):
            found[f"fk {table}.{','.join(fk['constrained_columns'])}"] = (fk["referred_table"], fk["options"].get("ondelete"))
    return found


def _workers_reading(path: Path) -> list[int]:
    """Pids of snapshot parser processes (``--parallel``) holding ``path`` open: they
    name themselves ``WORKER_NAME`` and keep the file open while they live."""
    target = os.path.realpath(path)
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() != WORKER_NAME:
                continue
            if any(os.readlink(fd) == target for fd in (proc / "fd").iterdir()):
                found.append(int(proc.name))
        except OSError:  # gone meanwhile
            continue
    return found


def _offset(engine, key: str) -> int:
    try:
        with engine.connect() as conn:
            value = conn.scalar(select(IngestCursor.value).where(IngestCursor.source == key))
    except Exception:  # noqa: BLE001 - the tables may not exist before the child migrates
        return 0
    return (value or {}).get("offset", 0)


def test_kill_9_at_random_points_then_rerun_gives_the_same_database(databases, big_snapshot):
    reference_url = databases.new_url()
    done = _run(reference_url, big_snapshot, "--serial", "--keep-indexes")
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    reference_engine = make_engine(reference_url)
    reference, reference_schema = full_dump(reference_engine), schema(reference_engine)
    reference_engine.dispose()
    distinct = {orjson.loads(line)["id"] for line in big_snapshot.open("rb")}
    assert len(reference[0]) == len(distinct)  # revised versions folded into their papers

    rng = random.Random(os.getpid())
    key = f"snapshot:{big_snapshot.resolve()}"
    size = big_snapshot.stat().st_size
    for attempt in range(3):
        # The parser in a worker process (attempts 0 and 2) or in line, the author and
        # category indexes set aside for a bulk import (attempts 0 and 1) or kept: the
        # same database, and the same schema, once the re-run is done.
        flags = ("--serial" if attempt == 1 else "--parallel", "--keep-indexes" if attempt == 2 else "--defer-indexes")
        url = databases.new_url()
        engine = make_engine(url)
        target = rng.uniform(0.1, 0.7) * size
        child = _run(url, big_snapshot, *flags)
        killed_at = 0
        workers: list[int] = []
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            killed_at = _offset(engine, key)
            if killed_at >= target:
                workers = _workers_reading(big_snapshot)  # what must be gone after the re-run
                # Let it get a random way into the next batch before the kill (a batch of
                # 97 lines takes a few milliseconds now: a longer wait could overshoot the end).
                time.sleep(rng.uniform(0, 0.005))
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, f"attempt {attempt}: the import ended before the kill"
        assert 0 < killed_at < size
        partial = full_dump(engine)
        assert 0 < len(partial[0]) < len(reference[0])
        # Killed mid-import: what a bulk import set aside is still recorded.
        assert bool(bulk.pending(engine)) == ("--defer-indexes" in flags)
        again = _run(url, big_snapshot, *flags)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err.decode()
        assert "resumed at line" in " ".join(out.decode().split())
        assert full_dump(engine) == reference, f"attempt {attempt}: killed at byte {killed_at}"
        assert schema(engine) == reference_schema and bulk.pending(engine) == []
        # The killed import's parsers (seen at the kill) noticed their parent was gone and ended.
        assert bool(workers) == ("--parallel" in flags), f"attempt {attempt}: parser processes at the kill: {workers}"
        deadline = time.monotonic() + 30
        while _workers_reading(big_snapshot) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _workers_reading(big_snapshot), f"attempt {attempt}: a parser process outlived its import"
        engine.dispose()


def test_kill_9_during_an_oai_harvest_then_rerun_gives_the_same_database(databases, fake_arxiv):
    """The recorded 3-page oai_dc harvest, served slowly by the fake arXiv on loopback."""
    env_base = {**os.environ, "PAPERBOY_ARXIV_OAI_URL": fake_arxiv.oai_url, "PAPERBOY_ARXIV_DELAY": "0",
                "PAPERBOY_HTTP_RETRIES": "2", "COLUMNS": "100"}
    env_base.pop("PAPERBOY_CONFIG", None)
    args = [*PAPERBOY, "ingest", "oai", "--prefix", "oai_dc", "--from", "2023-03-07"]

    def run(url):
        return subprocess.Popen(args, env={**env_base, "PAPERBOY_DATABASE_URL": url},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    reference_url = databases.new_url()
    done = run(reference_url)
    out, err = done.communicate(timeout=300)
    assert done.returncode == 0, err.decode()
    reference = full_dump(make_engine(reference_url))
    assert len(reference[0]) > 2000

    rng = random.Random(os.getpid())
    key = "oai:oai_dc::2023-03-07:"
    for attempt in range(2):
        url = databases.new_url()
        engine = make_engine(url)
        # Pages after the first come slowly, so the kill lands inside the harvest.
        fake_arxiv.fail_next("slow", seconds=0.5, times=2, when=lambda p: "resumptionToken" in p)
        child = run(url)
        deadline = time.monotonic() + 120
        while child.poll() is None and time.monotonic() < deadline:
            with engine.connect() as conn:
                try:
                    token = (conn.scalar(select(IngestCursor.value).where(IngestCursor.source == key)) or {}).get("token")
                except Exception:  # noqa: BLE001 - tables not created yet
                    token = None
            if token:  # the first page is committed; kill somewhere in what follows
                time.sleep(rng.uniform(0, 0.6))
                child.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        child.wait(timeout=30)
        assert child.returncode == -signal.SIGKILL, f"attempt {attempt}: the harvest ended before the kill"
        fake_arxiv.faults.clear()
        before = len(fake_arxiv.requests)
        again = run(url)
        out, err = again.communicate(timeout=300)
        assert again.returncode == 0, err.decode()
        resumed = fake_arxiv.requests[before:]
        # It resumed from a stored token (or, killed after the last page, had nothing to do).
        assert not resumed or "resumptionToken" in resumed[0][1]
        assert full_dump(engine) == reference, f"attempt {attempt}"
        engine.dispose()


@pytest.mark.parametrize("flags", [("--serial",), ("--parallel",)])
def test_ctrl_c_to_the_importer_says_where_it_stopped_and_a_rerun_goes_on_from_there(databases, big_snapshot, flags):
    """SIGINT to the importer alone (as `kill -INT` or `timeout -s INT` send it): exit 130,
    a line saying how far it got, no leftover error from the parser pool, and the same
    command again finishes the file."""
    engine = databases.new_engine()
    url = engine.url.render_as_string(hide_password=False)
    key = f"snapshot:{big_snapshot.resolve()}"
    child = _run(url, big_snapshot, *flags)
    deadline = time.monotonic() + 60
    while _offset(engine, key) == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    said = " ".join(err.decode().split())
    if child.returncode == 0:
        pytest.skip("the import finished before the signal reached it")
    assert child.returncode == 130, said
    assert "interrupted: stored up to line" in said and "run the same command again" in said
    assert "Exception ignored" not in said and "cannot join" not in said and "Traceback" not in said
    again = _run(url, big_snapshot, *flags)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    assert "(resumed at line" in " ".join(out.decode().split())
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(Paper))
    assert stored == len({orjson.loads(line)["id"] for line in big_snapshot.open("rb")})  # every paper, once
