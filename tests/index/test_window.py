"""Refreshes read each change once: the slack window before the watermark (for writers
that commit late) is not read again unless something in it changed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from paperboy.index import jobs
from paperboy.index.embedder import get_embedder
from paperboy.index.jobs import refresh_index
from paperboy.index.service import SearchService
from paperboy.index.vectors import vector_file
from paperboy.store.models import Paper
from tests.index.conftest import CORPUS, add_papers, ids


def batch(first: int, n: int) -> list[tuple]:
    return [(f"2511.{first + i:05d}", f"Tidal heating of icy moons, part {first + i}",
             "Tidal dissipation warms the oceans of icy moons.", ["Ada North"], ["astro-ph.EP"],
             dt.date(2025, 11, 3)) for i in range(n)]


def stamp_of(engine, arxiv_id: str) -> dt.datetime:
    with engine.connect() as conn:
        return conn.scalar(select(Paper.modified_at).where(Paper.arxiv_id == arxiv_id))


def restamp(engine, arxiv_id: str, when: dt.datetime, **values) -> None:
    """As a writer that took its time ``when`` and commits only now."""
    with engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.arxiv_id == arxiv_id).values(modified_at=when, **values))


def test_an_idle_refresh_reads_nothing_after_an_import_in_batches(fresh_engine, settings):
    # An import writes batch after batch within seconds: all inside the slack window.
    for first in range(0, 60, 20):
        add_papers(fresh_engine, batch(first, 20))
    stats = refresh_index(settings, fresh_engine, progress=False)
    assert stats["keyword_indexed"] == 60 and stats["vectors_added"] == 60
    ann = vector_file(settings.resolved_index_dir, get_embedder("hash").name)
    written = ann.stat().st_mtime_ns

    again = refresh_index(settings, fresh_engine, progress=False)
    assert again["keyword_indexed"] == 0 and again["vectors_added"] == 0
    assert ann.stat().st_mtime_ns == written  # the vector file is not saved again


def test_a_paper_committed_late_is_indexed_and_only_it(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False)
    watermark = dt.datetime.fromisoformat(jobs.read_state(settings, "keyword")["watermark"])
    # Stamped 30 s before the last refresh read, committed after it.
    restamp(fresh_engine, CORPUS[3][0], watermark - dt.timedelta(seconds=30), title="Vision transformers for coral reefs")
    stats = refresh_index(settings, fresh_engine, progress=False, embed=False)
    assert stats["keyword_indexed"] == 1
    assert ids(SearchService(settings, fresh_engine).search("coral reefs", mode="keyword")) == [CORPUS[3][0]]
    assert refresh_index(settings, fresh_engine, progress=False, embed=False)["keyword_indexed"] == 0


def test_a_late_commit_with_a_stamp_already_read_is_not_missed(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False)
    # Another writer's clock gave the very microsecond of a batch already read.
    shared = stamp_of(fresh_engine, CORPUS[0][0])
    add_papers(fresh_engine, batch(0, 1))
    restamp(fresh_engine, batch(0, 1)[0][0], shared)
    stats = refresh_index(settings, fresh_engine, progress=False, embed=False)
    # The stamp gained a row, so its rows are read again (the new paper among them).
    assert stats["keyword_indexed"] >= 1
    assert ids(SearchService(settings, fresh_engine).search("icy moons", mode="keyword")) == [batch(0, 1)[0][0]]


def test_a_stamp_read_in_part_before_a_kill_is_read_again(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False, embed=False)
    state = jobs.read_state(settings, "keyword")
    # As if killed after a commit in the middle of the batch stamped last: the state
    # counts fewer of its rows than the store holds.
    (last, n), = [(k, v) for k, v in state["window"].items() if k == state["watermark"]]
    state["window"][last] = n - 1
    jobs.write_state(settings, "keyword", state)
    assert refresh_index(settings, fresh_engine, progress=False, embed=False)["keyword_indexed"] == n
    assert refresh_index(settings, fresh_engine, progress=False, embed=False)["keyword_indexed"] == 0


def test_once_checked_past_the_slack_an_idle_window_is_closed(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    refresh_index(settings, fresh_engine, progress=False, embed=False)
    state = jobs.read_state(settings, "keyword")
    watermark = dt.datetime.fromisoformat(state["watermark"])
    # As if the last refresh had run 121 s after the newest change: every row stamped
    # before then had committed, and was counted.
    state["checked_at"] = (watermark + jobs.SLACK + dt.timedelta(seconds=1)).isoformat()
    jobs.write_state(settings, "keyword", state)
    # So a row claiming a stamp from before (a writer 150 s late, beyond the slack) is not
    # looked for; one stamped after the watermark is.
    restamp(fresh_engine, CORPUS[3][0], watermark - dt.timedelta(seconds=30), title="Vision transformers for coral reefs")
    assert refresh_index(settings, fresh_engine, progress=False, embed=False)["keyword_indexed"] == 0
    restamp(fresh_engine, CORPUS[4][0], watermark + dt.timedelta(seconds=1), title="Robot grasping of sea urchins")
    assert refresh_index(settings, fresh_engine, progress=False, embed=False)["keyword_indexed"] == 1
    assert ids(SearchService(settings, fresh_engine).search("sea urchins", mode="keyword")) == [CORPUS[4][0]]
