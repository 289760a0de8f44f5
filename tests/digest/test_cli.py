"""`paperboy subscribers ...` and `paperboy digest run` as a user runs them."""

from __future__ import annotations

import os
import subprocess

from paperboy.store.db import make_engine
from tests.digest.conftest import PAPERBOY, PERIOD, make_settings, seed_papers


def run(env, *args):
    return subprocess.run([PAPERBOY, *args], env=env, capture_output=True, text=True, timeout=120)


def env_for(url, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOY_")}
    env.update({"PAPERBOY_DATABASE_URL": url, "PAPERBOY_DATA_DIR": str(tmp_path), "PAPERBOY_SECRET_KEY": "test",
                "COLUMNS": "200"})
    env.update(extra)
    return env


def test_import_reports_bad_lines_and_list_shows_everyone(fresh_url, tmp_path, smtp_server):
    env = env_for(fresh_url, tmp_path, PAPERBOY_SMTP_URL=smtp_server.url)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("name,email\nAda,ada@example.org\nBad,not-an-address\n\nBob,bob@example.org\n")
    r = run(env, "subscribers", "import", str(csv_file), "--confirmed")
    assert r.returncode == 1
    assert "line 3" in r.stderr and "not-an-address" in r.stderr
    assert "2 added" in r.stdout
    plain = tmp_path / "list.txt"
    plain.write_text("carol@example.org\n# comment\nx@y\n")
    r = run(env, "subscribers", "import", str(plain))
    assert "line 3" in r.stderr and "1 added" in r.stdout
    assert smtp_server.wait_for("carol@example.org")  # the confirmation mail
    r = run(env, "subscribers", "add", "dan@example.org", "--confirmed", "--weekly")
    assert r.returncode == 0
    listing = run(env, "subscribers", "list").stdout
    assert "ada@example.org\tactive\tdaily" in listing and "carol@example.org\tpending" in listing
    assert "dan@example.org\tactive\tweekly" in listing
    # "Stop emailing me", sent to the admins: one command, as the digest's own link does.
    r = run(env, "subscribers", "remove", "DAN@example.org", "nobody@example.org")
    assert r.returncode == 1 and "1 unsubscribed: dan@example.org" in r.stdout
    assert "nobody@example.org: no subscription for this address" in r.stderr
    assert "dan@example.org\tunsubscribed" in run(env, "subscribers", "list").stdout
    # A refused address is said to be skipped; no mail is claimed to be sent for it.
    r = run(env, "subscribers", "add", "bad address")
    assert r.returncode == 1 and r.stdout.strip() == "0 added, 0 already known, 1 skipped"


def test_digest_run_dry_run_then_real_and_console_notice(fresh_url, tmp_path):
    engine = make_engine(fresh_url)
    seed_papers(engine, 2)
    engine.dispose()
    env = env_for(fresh_url, tmp_path)
    run(env, "subscribers", "add", "eve@example.org", "--confirmed")
    dry = run(env, "digest", "run", "--dry-run", "--period", PERIOD)
    assert "eve@example.org\t2025-01-15\t2 papers\twould send" in dry.stdout
    real = run(env, "digest", "run", "--period", PERIOD)
    assert real.returncode == 0, real.stderr
    assert "no SMTP server configured" in real.stderr and "sent 1" in real.stdout
    assert "To: eve@example.org" in real.stderr
    bad = run(env, "digest", "run", "--period", "2025-01-18")
    assert bad.returncode == 2 and "weekend" in bad.stderr
    assert make_settings(tmp_path)  # settings by construction still valid


def test_worker_once_runs_the_schedule_and_sends_due_digests(fresh_url, tmp_path, smtp_server):
    import datetime as dt

    from sqlalchemy import select, update

    from paperboy.digest.models import Subscription
    from paperboy.digest.schedule import latest_due
    from paperboy.store.db import session_scope
    from paperboy.store.models import utcnow
    from paperboy.worker.models import Job
    from tests.digest.conftest import seed_subscribers
    from tests.support.factories import make_paper

    engine = make_engine(fresh_url)
    settings = make_settings(tmp_path)
    period, _ = latest_due("daily", 0, "UTC", 0, utcnow())
    with session_scope(engine) as db:
        make_paper(db, title="Fresh today", announced_on=period.last_day)
    seed_subscribers(engine, settings, ["worker@example.org"], send_hour=0, timezone="UTC")
    with engine.begin() as conn:  # confirmed last week, so today's digest is due
        conn.execute(update(Subscription).values(confirmed_at=utcnow() - dt.timedelta(days=7)))
    env = env_for(fresh_url, tmp_path, PAPERBOY_SMTP_URL=smtp_server.url, PAPERBOY_EMBEDDER="null")
    r = run(env, "worker", "--once")
    assert r.returncode == 0, r.stderr[-2000:]
    msgs = smtp_server.wait_for("worker@example.org")
    assert len(msgs) == 1 and "Fresh today" in msgs[0].get_body(("plain",)).get_content()
    assert msgs[0]["X-Paperboy-DigestPeriod"] == period.key
    with engine.connect() as conn:
        jobs = dict(conn.execute(select(Job.name, Job.state)).all())
        ingest = conn.scalar(select(Job.result).where(Job.name == "ingest"))
        index = conn.scalar(select(Job.result).where(Job.name == "index"))
    assert jobs == {"ingest": "done", "index": "done", "digest": "done", "rising": "done"} and ingest.startswith("skipped")
    assert index.startswith("index refreshed: keyword indexed ") and "{" not in index  # figures, not a dict
    r = run(env, "worker", "--once")  # same slot: nothing runs again, nothing is sent again
    assert r.returncode == 0 and len(smtp_server.to("worker@example.org")) == 1
    engine.dispose()


def test_a_mail_server_that_cannot_be_reached_is_named_by_the_run_and_by_status(fresh_url, tmp_path):
    """The reason lived only in digest_outbox.last_error: the run said "retry later 1" and
    nothing more, whatever the mistake (a wrong port, a host that does not exist)."""
    engine = make_engine(fresh_url)
    seed_papers(engine, 2)
    engine.dispose()
    env = env_for(fresh_url, tmp_path, PAPERBOY_SMTP_URL="smtp://127.0.0.1:9")  # nothing listens there
    run(env, "subscribers", "add", "eve@example.org", "--confirmed")
    r = run(env, "digest", "run", "--period", PERIOD)
    assert r.returncode == 0 and "retry later 1" in r.stdout
    said = " ".join(r.stderr.split())
    assert "why: 1 digest not sent: cannot connect to 127.0.0.1:9" in said
    status = run(env, "digest", "status")
    assert "queued\t1" in status.stdout
    assert "why: 1 waiting or failed: cannot connect to 127.0.0.1:9" in " ".join(status.stderr.split())
