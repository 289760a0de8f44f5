"""Embedding batches in the database: planned once, newest first, claimed with a lease,
written with their "done" mark; late-committed vectors still reach the ANN file."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np
import pytest
from sqlalchemy import func, insert, select, update

from paperboy.index import batches, jobs
from paperboy.index.embedder import HashEmbedder, paper_text
from paperboy.index.models import EmbedBatch, EmbedBatchItem, PaperEmbedding
from paperboy.store.claims import Heartbeat
from paperboy.store.models import Paper, utcnow
from tests.index.conftest import CORPUS, add_papers

MODEL = HashEmbedder().name


def many(n: int, start: int = 0) -> list[tuple]:
    """n papers announced one a day (the later index, the newer)."""
    day0 = dt.date(2024, 1, 1)
    return [(f"2401.{i:05d}", f"Paper number {i} on topic {i % 7}", f"An abstract about subject {i} and {i % 5}.",
             ["Ann Author"], ["cs.LG"], day0 + dt.timedelta(days=i)) for i in range(start, start + n)]


def batch_items(engine) -> dict[int, list[int]]:
    with engine.connect() as conn:
        rows = conn.execute(select(EmbedBatchItem.batch_id, EmbedBatchItem.paper_id)).all()
    out: dict[int, list[int]] = {}
    for b, p in rows:
        out.setdefault(b, []).append(p)
    return out


def arxiv_ids(engine, paper_ids) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(Paper.arxiv_id).where(Paper.id.in_(list(paper_ids)))))


def test_planning_is_idempotent_and_claims_go_newest_first(fresh_engine):
    add_papers(fresh_engine, CORPUS)
    assert batches.plan(fresh_engine, MODEL, batch_size=3) == len(CORPUS)
    assert batches.plan(fresh_engine, MODEL, batch_size=3) == 0  # already planned
    items = batch_items(fresh_engine)
    assert sorted(len(v) for v in items.values()) == [2, 3, 3]
    first = batches.claim(fresh_engine, MODEL, "w1", utcnow() + dt.timedelta(seconds=60))
    newest = sorted(CORPUS, key=lambda r: r[5], reverse=True)[:3]
    assert arxiv_ids(fresh_engine, items[first.id]) == {r[0] for r in newest}
    assert first.attempts == 1


def test_papers_a_member_asked_for_are_embedded_before_a_backlog_of_dated_ones(fresh_engine):
    """Library papers fetched for a member have no announce day, so a plain plan puts
    them after every dated paper; plan_first gives them the next batch."""
    add_papers(fresh_engine, many(6))
    library = [(f"1706.{i:05d}", f"An older paper {i}", "Its abstract.", ["Old Author"], ["cs.CL"], None)
               for i in range(2)]
    add_papers(fresh_engine, library)
    with fresh_engine.connect() as conn:
        wanted = list(conn.scalars(select(Paper.id).where(Paper.announced_on.is_(None))))
    assert batches.plan(fresh_engine, MODEL, batch_size=2, limit=6) == 6  # the dated backlog, newest first
    assert batches.plan_first(fresh_engine, MODEL, wanted, batch_size=2) == 2
    assert batches.plan_first(fresh_engine, MODEL, wanted, batch_size=2) == 0  # planned once
    first = batches.claim(fresh_engine, MODEL, "w1", utcnow() + dt.timedelta(seconds=60))
    assert sorted(batch_items(fresh_engine)[first.id]) == sorted(wanted)
    second = batches.claim(fresh_engine, MODEL, "w1", utcnow() + dt.timedelta(seconds=60))
    assert arxiv_ids(fresh_engine, batch_items(fresh_engine)[second.id]) == {"2401.00005", "2401.00004"}


def test_two_planners_at_once_plan_each_paper_once(fresh_engine):
    add_papers(fresh_engine, many(300))
    go = threading.Barrier(4)
    errors: list[BaseException] = []

    def planner() -> None:
        try:
            go.wait()
            batches.plan(fresh_engine, MODEL, batch_size=7)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=planner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    planned = [p for ps in batch_items(fresh_engine).values() for p in ps]
    assert len(planned) == len(set(planned)) == 300


def test_a_worker_whose_lease_was_taken_over_writes_nothing(fresh_engine):
    add_papers(fresh_engine, CORPUS[:3])
    batches.plan(fresh_engine, MODEL)
    now = utcnow()
    a = batches.claim(fresh_engine, MODEL, "a", now + dt.timedelta(seconds=2), now=now)
    assert batches.claim(fresh_engine, MODEL, "b", now + dt.timedelta(seconds=60), now=now) is None  # A holds it
    later = now + dt.timedelta(seconds=3)  # A's lease ran out (A stalled, say)
    b = batches.claim(fresh_engine, MODEL, "b", later + dt.timedelta(seconds=60), now=later)
    assert b.id == a.id and b.attempts == 2
    with pytest.raises(batches.LeaseLost):
        batches.run_batch(fresh_engine, HashEmbedder(), a.id, "a")
    assert batches.count_missing(fresh_engine, MODEL) == 3  # A wrote no vector
    assert batches.run_batch(fresh_engine, HashEmbedder(), b.id, "b") == 3
    assert batches.count_missing(fresh_engine, MODEL) == 0
    with fresh_engine.connect() as conn:
        row = conn.execute(select(EmbedBatch.state, EmbedBatch.lease_owner)).one()
        assert tuple(row) == ("done", None)
        assert conn.scalar(select(func.count()).select_from(EmbedBatchItem)) == 0


def test_heartbeat_keeps_a_lease_alive_and_stops_with_its_worker(fresh_engine):
    add_papers(fresh_engine, CORPUS[:2])
    batches.plan(fresh_engine, MODEL)
    beat = Heartbeat(fresh_engine, "a", lease_seconds=30)
    claimed_at = utcnow()
    got = batches.claim(fresh_engine, MODEL, "a", claimed_at + dt.timedelta(seconds=1), now=claimed_at)
    beat._held[EmbedBatch.__tablename__] = (EmbedBatch.__table__, {got.id})  # held, thread not started
    assert beat.beat() == 1
    # a second later the first lease would have run out; renewed, it has not
    assert batches.claim(fresh_engine, MODEL, "b", utcnow() + dt.timedelta(seconds=60),
                         now=claimed_at + dt.timedelta(seconds=2)) is None
    # another worker that took the batch over is not renewed by A's heartbeat
    with fresh_engine.begin() as conn:
        conn.execute(update(EmbedBatch).values(lease_owner="b"))
    assert beat.beat() == 0


def test_a_failing_batch_is_retried_then_left_failed(fresh_engine):
    add_papers(fresh_engine, CORPUS[:1])

    class Broken(HashEmbedder):
        def embed(self, texts, *, batch_size=32):
            raise RuntimeError("model crashed")

    runner = batches.EmbedRunner(fresh_engine, MODEL, Broken, lease_seconds=60)
    for attempt in range(1, batches.MAX_ATTEMPTS + 1):
        with pytest.raises(RuntimeError, match="model crashed"):
            runner.run_one()
        with fresh_engine.connect() as conn:
            state, attempts, error = conn.execute(select(EmbedBatch.state, EmbedBatch.attempts, EmbedBatch.error)).one()
        assert attempts == attempt and "model crashed" in error
        assert state == ("failed" if attempt == batches.MAX_ATTEMPTS else "due")
    assert runner.run_one() is None  # given up: not claimed, its papers not planned again
    assert batches.plan(fresh_engine, MODEL) == 0
    runner.close()



def test_a_batch_stopped_by_ctrl_c_is_due_again_at_once_and_the_stop_is_no_attempt(fresh_engine):
    """Ctrl-C during `paperboy index build`: its batch is not held for the rest of the
    lease (a re-run right away would find nothing to embed and say "up to date")."""
    add_papers(fresh_engine, CORPUS[:2])

    class Stopped(HashEmbedder):
        def embed(self, texts, *, batch_size=32):
            raise KeyboardInterrupt

    stopped = batches.EmbedRunner(fresh_engine, MODEL, Stopped, lease_seconds=600, owner="first")
    with pytest.raises(KeyboardInterrupt):
        stopped.run_one()
    stopped.close()
    with fresh_engine.connect() as conn:
        state, attempts, owner = conn.execute(select(EmbedBatch.state, EmbedBatch.attempts,
                                                     EmbedBatch.lease_owner)).one()
    assert (state, attempts, owner) == ("due", 0, None)
    again = batches.EmbedRunner(fresh_engine, MODEL, HashEmbedder, lease_seconds=600, owner="second")
    assert again.run_one() == 2  # at once, not after the stopped one's lease
    again.close()


def test_a_paper_the_model_cannot_embed_holds_back_no_other(fresh_engine):
    add_papers(fresh_engine, many(5))
    with fresh_engine.connect() as conn:
        poison = conn.scalar(select(Paper.id).where(Paper.arxiv_id == "2401.00002"))
    poison_text = "Paper number 2 on topic 2"

    class ChokesOnOne(HashEmbedder):
        def embed(self, texts, *, batch_size=32):
            if any(t.startswith(poison_text) for t in texts):
                raise RuntimeError("cannot embed this one")
            return super().embed(texts, batch_size=batch_size)

    runner = batches.EmbedRunner(fresh_engine, MODEL, ChokesOnOne, lease_seconds=60, batch_size=8)
    assert batches.plan(fresh_engine, MODEL, batch_size=8) == 5  # one batch of all five
    for _ in range(100):
        try:
            if runner.run_one() is None:
                break
        except RuntimeError:
            continue
    runner.close()
    with fresh_engine.connect() as conn:
        embedded = set(conn.scalars(select(PaperEmbedding.paper_id)))
        open_batches = conn.execute(select(EmbedBatch.id, EmbedBatch.state, EmbedBatch.size)
                                    .where(EmbedBatch.state != "done")).all()
    assert len(embedded) == 4 and poison not in embedded
    assert [(state, size) for _id, state, size in open_batches] == [("failed", 1)]
    assert batch_items(fresh_engine) == {open_batches[0].id: [poison]}
    assert batches.plan(fresh_engine, MODEL) == 0

def test_changed_paper_is_planned_again_and_vectors_are_replaced(fresh_engine):
    add_papers(fresh_engine, CORPUS[:2])
    runner = batches.EmbedRunner(fresh_engine, MODEL, HashEmbedder, lease_seconds=60)
    while runner.run_one() is not None:
        pass
    a = CORPUS[0]
    add_papers(fresh_engine, [(a[0], "A new title about crystals", *a[2:])], version=2)
    assert batches.count_missing(fresh_engine, MODEL) == 1
    assert runner.run_one() == 1 and runner.run_one() is None
    with fresh_engine.connect() as conn:
        rows = conn.execute(select(PaperEmbedding.paper_id, PaperEmbedding.vector)
                            .join(Paper, Paper.id == PaperEmbedding.paper_id).where(Paper.arxiv_id == a[0])).all()
    assert len(rows) == 1
    expected = HashEmbedder().embed([paper_text("A new title about crystals", a[2])])[0]
    assert np.array_equal(np.frombuffer(rows[0].vector, dtype="<f4"), expected)
    runner.close()


def test_vectors_committed_late_by_another_writer_reach_the_ann_file(fresh_engine, settings):
    add_papers(fresh_engine, CORPUS)
    jobs.refresh_index(settings, fresh_engine, progress=False)
    watermark = dt.datetime.fromisoformat(jobs.read_state(settings, "vectors")[MODEL]["watermark"])
    add_papers(fresh_engine, many(1))
    with fresh_engine.connect() as conn:
        pid = conn.scalar(select(Paper.id).where(Paper.arxiv_id == many(1)[0][0]))
    # A worker elsewhere stamped its vectors before the last refresh read, and committed
    # after it: its embedded_at is older than the watermark.
    vec = HashEmbedder().embed(["late"])[0]
    with fresh_engine.begin() as conn:
        conn.execute(insert(PaperEmbedding).values(
            paper_id=pid, model=MODEL, content_hash="x", dim=len(vec), vector=vec.astype("<f4").tobytes(),
            embedded_at=watermark - dt.timedelta(seconds=60)))
    stats = jobs.refresh_index(settings, fresh_engine, progress=False, embed=False, plan=True)
    assert stats["vectors_total"] == len(CORPUS) + 1
