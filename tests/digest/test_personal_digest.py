"""A member's digest is personal: their "For you" picks with why lines first, then their
alerts (every paper holding every word), followed authors, then trending; sent through a
real SMTP server, exactly once, and never repeating a pick."""

from __future__ import annotations

import datetime as dt
import html as html_lib
import re

from sqlalchemy import insert, select, update

from paperboy.digest.models import OutboxEntry
from paperboy.digest.outbox import deliver, enqueue_due
from paperboy.index.service import get_search_service
from paperboy.mail.senders import SMTPSender
from paperboy.rank import foryou
from paperboy.store.db import session_scope
from paperboy.store.models import Follow, Vote, utcnow
from tests.digest.conftest import DAY, PERIOD, make_settings, seed_subscribers
from tests.support.factories import make_paper, make_user

NEXT = "2025-01-16"


def corpus(engine):
    with session_scope(engine) as db:
        user = make_user(db)
        liked = make_paper(db, title="Protein folding with old tools",
                           abstract="Protein structure prediction of amino acid residues.", announced_on=DAY - dt.timedelta(days=1))
        made = {"liked": liked.id}
        for day, tag in ((DAY, "a"), (DAY + dt.timedelta(days=1), "b")):
            for i in range(2):
                made[f"protein-{tag}{i}"] = make_paper(
                    db, title=f"Protein folding with method {tag}{i}",
                    abstract="Protein structure prediction of amino acid residues, a new method.", announced_on=day).id
            made[f"fair-{tag}"] = make_paper(db, title=f"Fair division of goods {tag}",
                                            abstract="Envy-free fair division among agents.", announced_on=day).id
            made[f"fair-only-{tag}"] = make_paper(db, title=f"Fair ranking {tag}",
                                                 abstract="A fair ranking of search results.", announced_on=day).id
            made[f"hopper-{tag}"] = make_paper(db, title=f"Compilers {tag}", abstract="Early compilers.",
                                              authors=["Grace Hopper"], announced_on=day).id
        db.execute(insert(Vote).values(user_id=user.id, paper_id=liked.id, created_at=utcnow()))
        db.add(Follow(user_id=user.id, kind="author", target="Grace Hopper"))
        return user.id, made


def sections_of(message) -> list[str]:
    return [line.strip("= ") for line in message.get_body(("plain",)).get_content().splitlines()
            if line.startswith("== ")]


def test_a_members_digest_puts_their_picks_first_with_reasons(fresh_engine, smtp_server, tmp_path):
    foryou.POOLS.clear()
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, embedder="null")
    uid, made = corpus(fresh_engine)
    seed_subscribers(fresh_engine, settings, ["member@example.org"], user_id=uid, alerts=["fair division"], top_n=3)
    search = lambda: get_search_service(settings, fresh_engine)  # noqa: E731
    enqueue_due(settings, fresh_engine, period=PERIOD, search=search)
    assert deliver(settings, fresh_engine, SMTPSender(settings.smtp_url)).sent == 1
    [msg] = smtp_server.messages
    assert sections_of(msg)[:3] == ["For you", "Alert: fair division", "By Grace Hopper"]
    text = msg.get_body(("plain",)).get_content()
    # What is inside, in the words an inbox shows under the subject (the HTML's hidden
    # preview line, the text part's second line).
    summary = text.splitlines()[1]
    assert summary.startswith("2 for you · 1 for “fair division” · 1 by Grace Hopper"), summary
    assert summary in html_lib.unescape(msg.get_body(("html",)).get_content())
    picks = text.split("== For you ==")[1].split("== Alert")[0]
    assert "Protein folding with method a0" in picks and "Protein folding with method a1" in picks
    assert "Why: close to “Protein folding with old tools”" in picks
    alert = text.split("== Alert: fair division ==")[1].split("==")[0]
    assert "Fair division of goods a" in alert and "Fair ranking" not in alert
    html = msg.get_body(("html",)).get_content()
    assert "Why: close to “Protein folding with old tools”" in html or "Why: close to &#8220;" in html
    # Each section ends with where to see all of it on the site: its search over the digest's days.
    base = settings.resolved_base_url
    assert f"All of them: {base}/search?q=fair+division&from=2025-01-15&to=2025-01-15&match=all" in alert
    assert f"All of them: {base}/for-you" in picks.splitlines()
    hopper = text.split("== By Grace Hopper ==")[1].split("==")[0]
    assert f"All of them: {base}/search?q=author%3A%22Grace+Hopper%22&from=2025-01-15&to=2025-01-15&sort=date" in hopper
    assert f'href="{base}/search?q=fair+division&amp;from=2025-01-15&amp;to=2025-01-15&amp;match=all"' in html
    # An alert's link opens what the alert matched, every word (the plain search also
    # ranks papers close in meaning, or holding one of the words, where the index has them).
    from starlette.testclient import TestClient

    from paperboy.site import create_app

    site = TestClient(create_app(settings, fresh_engine), base_url="http://testserver")

    def shown(url: str) -> str:  # the page's text, matched words' marks taken out
        return " ".join(re.sub(r"<[^>]+>", " ", site.get(url).text).split())

    page = shown("/search?q=fair+division&from=2025-01-15&to=2025-01-15&match=all")
    assert "Fair division of goods a" in page and "Fair ranking" not in page
    assert "Every word required, or close in meaning: the papers an alert of these words sends." in page
    # The link finds the section's papers (and, past the digest's few, the rest).
    found = get_search_service(settings, fresh_engine).search('author:"Grace Hopper"', date_from=DAY, date_to=DAY,
                                                               sort="date")
    assert [h.paper_id for h in found.hits] == [made["hopper-a"]]


def test_the_next_digest_never_repeats_a_pick(fresh_engine, smtp_server, tmp_path):
    foryou.POOLS.clear()
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, embedder="null")
    uid, made = corpus(fresh_engine)
    seed_subscribers(fresh_engine, settings, ["member@example.org"], user_id=uid, top_n=0)
    enqueue_due(settings, fresh_engine, period=PERIOD)
    # A week-long window would hold both days: the second digest must not repeat day one's picks.
    from paperboy.digest.compose import Composer, SubView
    from paperboy.digest.models import Subscription
    from paperboy.digest.schedule import DigestPeriod

    with fresh_engine.connect() as conn:
        sub = SubView.of(conn.execute(Subscription.__table__.select()).one())
        week = DigestPeriod("2025-W03", "weekly", DAY, DAY + dt.timedelta(days=1))
        ids, why = Composer(conn, settings).for_you(sub, week)
    assert made["protein-b0"] in ids and made["protein-b1"] in ids
    assert made["protein-a0"] not in ids and made["protein-a1"] not in ids


def test_two_members_with_the_same_picks_for_different_reasons_get_their_own_reasons(fresh_engine, tmp_path):
    from paperboy.digest.compose import BatchRenderer, PaperCache, SubView
    from paperboy.digest.schedule import DigestPeriod

    settings = make_settings(tmp_path, embedder="null")
    uid, made = corpus(fresh_engine)
    pick = made["protein-a0"]
    period = DigestPeriod(PERIOD, "daily", DAY, DAY)
    renderer = BatchRenderer(settings)
    with fresh_engine.connect() as conn:
        papers = PaperCache(conn, settings)
        papers.load([pick])
        mails = []
        for n, why in enumerate(("close to “A”", "close to “B”")):
            sub = SubView(n + 1, f"m{n}@example.org", f"token{n}", uid, "daily", 0, "", True, [], True)
            content = {"sections": [{"kind": "for_you", "title": "For you", "ids": [pick], "why": {str(pick): why}}]}
            mails.append(renderer.html(sub, period, content, papers))
    # (the HTML part writes non-ASCII characters as entities)
    assert "Why: close to &#8220;A&#8221;" in mails[0]
    assert "Why: close to &#8220;B&#8221;" in mails[1] and "&#8220;A&#8221;" not in mails[1]


def test_a_weekly_digest_sent_on_a_thursday_says_the_week_it_covers(fresh_engine, smtp_server, tmp_path):
    """Its key names the ISO week; the mail must name the seven days up to its send day."""
    from paperboy.digest.compose import period_label
    from paperboy.digest.schedule import latest_due, parse_digest_period

    settings = make_settings(tmp_path, smtp_url=smtp_server.url, embedder="null")
    now = dt.datetime.now(dt.UTC).replace(hour=12) + dt.timedelta(days=8)
    now += dt.timedelta(days=(3 - now.weekday()) % 7)  # a Thursday, after confirmation
    period, _ = latest_due("weekly", 7, "UTC", 3, now)
    with session_scope(fresh_engine) as db:
        make_paper(db, title="A paper of that week", announced_on=period.last_day - dt.timedelta(days=1))
    seed_subscribers(fresh_engine, settings, ["weekly@example.org"], frequency="weekly", weekday=3, send_hour=7,
                     timezone="UTC")
    assert enqueue_due(settings, fresh_engine, now=now).queued == 1
    with session_scope(fresh_engine) as db:  # queued "in eight days": due now, for the test
        db.execute(update(OutboxEntry).values(next_attempt_at=utcnow()))
    deliver(settings, fresh_engine, SMTPSender(settings.smtp_url))
    [msg] = smtp_server.messages
    assert period_label(period) in str(msg["Subject"])
    assert period_label(parse_digest_period(period.key)) not in str(msg["Subject"])  # the key alone says Monday


def test_a_day_without_papers_gives_members_no_picks_and_stops_no_ones_digest(fresh_engine, smtp_server, tmp_path):
    """A holiday (arXiv announced nothing): the For you of a member with likes is empty;
    it used to raise in the bulk scoring and stop the whole pass, every subscriber's mail."""
    foryou.POOLS.clear()
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, embedder="null")
    uid, _ = corpus(fresh_engine)
    seed_subscribers(fresh_engine, settings, ["member@example.org"], user_id=uid, skip_empty=False)
    seed_subscribers(fresh_engine, settings, ["reader@example.org"], skip_empty=False)
    holiday = "2025-01-20"  # a Monday: nothing was announced after the 16th
    enqueue_due(settings, fresh_engine, period=holiday)
    with fresh_engine.connect() as conn:
        queued = conn.execute(select(OutboxEntry.period, OutboxEntry.content)).all()
    assert [period for period, _ in queued] == [holiday, holiday]  # both, nothing stopped
    assert all(not any(s["kind"] == "for_you" for s in content["sections"]) for _, content in queued)
    assert deliver(settings, fresh_engine, SMTPSender(settings.smtp_url)).sent == 2


def test_one_subscription_that_cannot_be_composed_stops_no_one_elses(fresh_engine, tmp_path, caplog):
    """Its digest is left without an outbox row (the next pass tries again) and said in
    the log and the report; the others are queued."""
    from paperboy.digest.models import Subscription

    settings = make_settings(tmp_path, embedder="null")
    corpus(fresh_engine)
    broken, fine = seed_subscribers(fresh_engine, settings, ["broken@example.org", "fine@example.org"],
                                    skip_empty=False)
    with session_scope(fresh_engine) as db:  # stored by hand, or by a version that wrote it so
        db.execute(update(Subscription).where(Subscription.id == broken.id).values(alerts=5))  # not a list
    search = lambda: get_search_service(settings, fresh_engine)  # noqa: E731
    report = enqueue_due(settings, fresh_engine, period=PERIOD, search=search)
    assert report.not_composed == 1 and report.queued == 1
    assert f"digest of subscription {broken.id} failed" in caplog.text
    with fresh_engine.connect() as conn:
        assert list(conn.scalars(select(OutboxEntry.subscription_id))) == [fine.id]
    with session_scope(fresh_engine) as db:
        db.execute(update(Subscription).where(Subscription.id == broken.id).values(alerts=["protein"]))
    again = enqueue_due(settings, fresh_engine, period=PERIOD, search=search)
    assert again.not_composed == 0 and again.queued == 1 and again.already == 1
