"""When digests are due (time zones, weekdays, weekly), composition, the job table."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from sqlalchemy import select

from paperboy.digest.models import OutboxEntry
from paperboy.digest.outbox import enqueue_due
from paperboy.digest.schedule import latest_due, parse_digest_period
from paperboy.mail.senders import NullSender
from paperboy.store.db import session_scope
from paperboy.store.models import Follow
from paperboy.worker.jobs import default_jobs, run_ingest
from paperboy.worker.loop import JobSpec, Worker
from paperboy.worker.models import Job
from tests.digest.conftest import PERIOD, make_settings, seed_papers, seed_subscribers
from tests.support.factories import make_paper, make_user

UTC = dt.UTC


def test_daily_is_due_at_the_local_hour_on_weekdays_only():
    # 07:00 in Tokyo on Wednesday 15 Jan is 22:00 UTC on Tuesday 14 Jan.
    p, due = latest_due("daily", 7, "Asia/Tokyo", 0, dt.datetime(2025, 1, 14, 22, 30, tzinfo=UTC))
    assert p.key == "2025-01-15" and due == dt.datetime(2025, 1, 14, 22, 0, tzinfo=UTC)
    p, _ = latest_due("daily", 7, "Asia/Tokyo", 0, dt.datetime(2025, 1, 14, 21, 30, tzinfo=UTC))
    assert p.key == "2025-01-14"
    # Sunday: the last weekday digest was Friday's.
    p, _ = latest_due("daily", 7, "UTC", 0, dt.datetime(2025, 1, 19, 12, 0, tzinfo=UTC))
    assert p.key == "2025-01-17"
    # Monday's digest covers what was announced since Friday.
    assert parse_digest_period("2025-01-20").first_day == dt.date(2025, 1, 18)


def test_weekly_is_due_on_its_weekday_and_named_by_iso_week():
    p, due = latest_due("weekly", 9, "America/New_York", 4, dt.datetime(2025, 1, 17, 15, 0, tzinfo=UTC))
    assert p.key == "2025-W03" and due == dt.datetime(2025, 1, 17, 14, 0, tzinfo=UTC)
    assert (p.first_day, p.last_day) == (dt.date(2025, 1, 11), dt.date(2025, 1, 17))
    with pytest.raises(ValueError):
        parse_digest_period("2025-01-18")  # a Saturday
    with pytest.raises(ValueError):
        parse_digest_period("last week")


def test_due_pass_queues_once_and_not_before_confirmation(fresh_engine, tmp_path):
    settings = make_settings(tmp_path)
    seed_papers(fresh_engine, 2)
    seed_subscribers(fresh_engine, settings, ["due@example.org"], send_hour=7, timezone="UTC")
    # Confirmed now (in 2026 or later): the 2025 period is before it, so nothing is due then.
    assert enqueue_due(settings, fresh_engine, now=dt.datetime(2025, 1, 15, 8, tzinfo=UTC)).due == 0
    # Noon: the two passes 5 minutes apart fall in one daily period (sent at 07:00). Taken
    # from the clock, a run at 06:55-07:00 put them in two and failed.
    now = dt.datetime.now(UTC).replace(hour=12, minute=0) + dt.timedelta(days=8)
    first = enqueue_due(settings, fresh_engine, now=now)
    again = enqueue_due(settings, fresh_engine, now=now + dt.timedelta(minutes=5))
    assert (first.queued + first.skipped_empty, again.already) == (1, 1)


def test_sections_follow_categories_authors_and_alerts(fresh_engine, tmp_path):
    settings = make_settings(tmp_path)
    with session_scope(fresh_engine) as db:
        user = make_user(db)
        make_paper(db, title="Graph theory today", categories=["math.CO"], announced_on=dt.date(2025, 1, 15))
        make_paper(db, title="Diffusion guidance", authors=["Grace Hopper"], categories=["cs.CV"],
                   announced_on=dt.date(2025, 1, 15))
        make_paper(db, title="Old diffusion", categories=["cs.CV"], announced_on=dt.date(2024, 1, 15))
        db.add(Follow(user_id=user.id, kind="author", target="Grace Hopper"))
        uid = user.id
    subs = seed_subscribers(fresh_engine, settings, ["member@example.org"], top_n=0, categories="math.CO",
                            alerts=["diffusion"], user_id=uid)
    from paperboy.index.service import get_search_service

    enqueue_due(settings, fresh_engine, period=PERIOD, search=lambda: get_search_service(settings, fresh_engine))
    with session_scope(fresh_engine) as db:
        content = db.scalars(select(OutboxEntry.content).where(OutboxEntry.subscription_id == subs[0].id)).one()
    titles = [s["title"] for s in content["sections"]]
    # Alerts come before follows; each paper once, in its first section, so the followed
    # author's one paper (found by the alert) leaves "By Grace Hopper" empty and out.
    assert titles == ["Alert: diffusion", "New in math.CO"]
    # The alert found nothing outside the period (the 2024 paper).
    assert all(len(s["ids"]) == 1 for s in content["sections"])


def test_several_workers_run_each_job_slot_once(fresh_engine, tmp_path):
    settings = make_settings(tmp_path, worker_lease_seconds=600)
    runs: list[str] = []
    lock = threading.Lock()

    def job(name):
        def run(w):
            with lock:
                runs.append(name)
            return "ok"
        return run

    specs = [JobSpec("ingest", 3600, job("ingest")), JobSpec("index", 3600, job("index")),
             JobSpec("digest", 300, job("digest"))]
    workers = [Worker(settings, fresh_engine, NullSender(), jobs=specs, name=f"w{i}") for i in range(4)]

    def go(w):
        w.schedule()
        w.run_due()

    threads = [threading.Thread(target=go, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(runs) == ["digest", "index", "ingest"]
    with session_scope(fresh_engine) as db:
        assert sorted(db.scalars(select(Job.state))) == ["done"] * 3


def test_jobs_without_configuration_are_skipped_not_failed(fresh_engine, tmp_path):
    settings = make_settings(tmp_path, categories="")
    w = Worker(settings, fresh_engine, NullSender(), default_jobs(settings))
    assert run_ingest(w).startswith("skipped")


def test_a_worker_that_embeds_says_how_fast_and_how_much_is_left(fresh_engine, tmp_path, capsys):
    """`paperboy worker`'s console: "embed: 256 papers" said nothing of a backlog of days."""
    from paperboy.worker.loop import _duration

    with session_scope(fresh_engine) as db:
        for i in range(5):
            make_paper(db, title=f"Paper {i}")
    settings = make_settings(tmp_path, embedder="hash", embed_batch_size=3)
    Worker(settings, fresh_engine, NullSender(), jobs=[], embed=True).run(once=True, echo=True)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if " embed: " in ln]
    assert len(lines) == 1 and re.search(r"embed: 5 papers in \d+ s \([\d.]+/s\); none left$", lines[0]), lines
    assert [_duration(s) for s in (40, 600, 9000, 400_000)] == ["40 s", "10 min", "2.5 h", "4.6 days"]
