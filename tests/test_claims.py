"""The lease helper every queue uses (jobs, digest outbox, mail outbox): a claim takes at
most ``limit`` rows, never a row another claim holds, and only rows still claimable."""

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, update

from paperboy.store.claims import Heartbeat, claim_rows, insert_ignore
from paperboy.store.db import write_tx
from paperboy.worker.models import Job

J = Job.__table__
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _queue(engine, n: int) -> None:
    rows = [{"name": f"job{i}", "slot": "s", "state": "due", "due_at": T0, "attempts": 0} for i in range(n)]
    with write_tx(engine) as conn:
        insert_ignore(conn, J, rows)
        insert_ignore(conn, J, rows)  # the unique key makes a second write harmless
        assert conn.scalar(select(func.count()).select_from(J)) == n


def _claim(engine, owner: str, limit: int):
    with write_tx(engine) as conn:
        return claim_rows(conn, J, claimable=J.c.state == "due", order_by=[J.c.id], limit=limit,
                          values={"state": "running", "lease_owner": owner}, returning=[J.c.id, J.c.name])


def test_a_claim_takes_at_most_its_limit_oldest_first(fresh_engine):
    _queue(fresh_engine, 5)
    got = _claim(fresh_engine, "w1", 2)
    assert [r.name for r in got] == ["job0", "job1"]
    with fresh_engine.connect() as conn:
        # On PostgreSQL an IN (LIMIT ... SKIP LOCKED) pick re-run per row once claimed all 5.
        assert conn.scalar(select(func.count()).where(J.c.state == "running")) == 2
    assert [r.name for r in _claim(fresh_engine, "w2", 10)] == ["job2", "job3", "job4"]
    assert _claim(fresh_engine, "w3", 10) == []


def test_a_row_that_stopped_being_claimable_is_not_taken(fresh_engine):
    _queue(fresh_engine, 2)
    with write_tx(fresh_engine) as conn:
        conn.execute(update(J).where(J.c.name == "job0").values(state="done"))
    assert [r.name for r in _claim(fresh_engine, "w1", 5)] == ["job1"]


def test_concurrent_claimers_take_disjoint_rows(fresh_engine):
    _queue(fresh_engine, 40)
    taken: dict[str, list[str]] = {}

    def claimer(owner: str) -> None:
        mine = []
        while got := _claim(fresh_engine, owner, 3):
            mine += [r.name for r in got]
        taken[owner] = mine

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [name for names in taken.values() for name in names]
    assert sorted(everything) == sorted(f"job{i}" for i in range(40))  # each row exactly once
    with fresh_engine.connect() as conn:
        owners = dict(conn.execute(select(J.c.name, J.c.lease_owner)).all())
    assert all(owners[name] == owner for owner, names in taken.items() for name in names)


def test_a_heartbeat_renews_what_it_holds_only_while_the_block_runs(fresh_engine):
    _queue(fresh_engine, 2)
    got = _claim(fresh_engine, "w1", 2)
    ids = [r.id for r in got]
    beat = Heartbeat(fresh_engine, "w1", lease_seconds=3600)
    try:
        with beat.holding(J, ids):
            assert beat.beat() == 2  # both leases renewed
        assert beat.beat() == 0  # released on the way out
        with pytest.raises(RuntimeError), beat.holding(J, ids[:1]):
            raise RuntimeError("the batch failed")
        assert beat.beat() == 0  # released however the block ends
    finally:
        beat.stop()
