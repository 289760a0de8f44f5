"""Digests through a real SMTP server: parts, headers, links, escaping, exactly once."""

from __future__ import annotations

import datetime as dt
import html
import re

from sqlalchemy import select

from paperboy.digest.models import OutboxEntry, Subscription
from paperboy.digest.outbox import Deliverer, deliver, enqueue_due, outbox_counts
from paperboy.mail.senders import SMTPSender
from paperboy.store.db import session_scope
from tests.digest.conftest import (
    DAY,
    PERIOD,
    by_recipient,
    make_settings,
    seed_papers,
    seed_subscribers,
)
from tests.support.factories import make_paper
from tests.support.servers import SMTPSink


def test_each_subscriber_gets_one_digest_with_both_parts_and_headers(fresh_engine, smtp_server, tmp_path):
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, base_url="http://paperboy.test")
    seed_papers(fresh_engine, 5)
    seed_papers(fresh_engine, 1, title="<script>alert('x')</script> & <img src=x onerror=alert(1)>")
    seed_subscribers(fresh_engine, settings, ["a@example.org", "b@example.org"])
    seed_subscribers(fresh_engine, settings, ["pending@example.org"], confirmed=False)

    q = enqueue_due(settings, fresh_engine, period=PERIOD)
    assert q.queued == 2
    r = deliver(settings, fresh_engine, SMTPSender(settings.smtp_url))
    assert r.sent == 2 and r.failed == 0

    got = by_recipient(smtp_server.messages)
    assert sorted(got) == ["a@example.org", "b@example.org"]
    with fresh_engine.connect() as conn:
        ids = dict(conn.execute(select(Subscription.email, OutboxEntry.message_id).join(
            OutboxEntry, OutboxEntry.subscription_id == Subscription.id)).all())
    for email, msgs in got.items():
        assert len(msgs) == 1
        msg = msgs[0]
        assert msg["Message-ID"] == ids[email]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg["Auto-Submitted"] == "auto-generated"  # no vacation replies to the sender
        assert "\r\n-- \r\n" in msg.get_body(("plain",)).get_content()  # a signature mutt and others fold away
        unsub = re.fullmatch(r"<(https?://\S+)>", str(msg["List-Unsubscribe"])).group(1)
        assert unsub.startswith("http://paperboy.test/subscriptions/unsubscribe/")
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert unsub in text and unsub in html.replace("&amp;", "&")
        # Untrusted titles are escaped in HTML, never injected.
        assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html
        assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        # ... and written as they are in the text part (no HTML there to inject into).
        assert "<script>alert('x')</script>" in text
        assert "Digest paper 0" in text and "http://paperboy.test/papers/2501." in text

    # A second pass for the same period sends nothing.
    q2 = enqueue_due(settings, fresh_engine, period=PERIOD)
    assert q2.queued == 0 and q2.already == 2
    assert deliver(settings, fresh_engine, SMTPSender(settings.smtp_url)).sent == 0
    assert len(smtp_server.messages) == 2


def test_a_digest_writes_math_as_unicode_text_where_mail_clients_render_no_tex(fresh_engine, smtp_server, tmp_path):
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, base_url="http://paperboy.test")
    seed_papers(fresh_engine, 1, title=r"X$^{2}$-Gaussian in $\mathcal{O}(T)$ at 360$^\circ$")
    seed_subscribers(fresh_engine, settings, ["a@example.org"])
    enqueue_due(settings, fresh_engine, period=PERIOD)
    deliver(settings, fresh_engine, SMTPSender(settings.smtp_url))
    [msg] = smtp_server.messages
    for part in ("plain", "html"):
        body = html.unescape(msg.get_body((part,)).get_content())  # the HTML part writes it as &#178;
        assert "X²-Gaussian in 𝒪(T) at 360°" in body and "mathcal" not in body, part


def test_refusing_server_still_gives_exactly_one_each(fresh_engine, tmp_path):
    sink = SMTPSink(refuse_rate=0.3, seed=7).start()
    try:
        settings = make_settings(tmp_path, smtp_url=sink.url, digest_batch_size=7)
        seed_papers(fresh_engine, 4)
        emails = [f"r{i}@example.org" for i in range(40)]
        seed_subscribers(fresh_engine, settings, emails)
        enqueue_due(settings, fresh_engine, period=PERIOD)
        r = deliver(settings, fresh_engine, SMTPSender(sink.url), wait=120)
        got = by_recipient(sink.messages)
        assert sink.refused > 0
        assert r.retried == sink.refused
        assert sorted(got) == sorted(emails)
        assert all(len(m) == 1 for m in got.values())
        assert outbox_counts(fresh_engine, PERIOD) == {"sent": 40}
    finally:
        sink.stop()


class CrashAfterAccept(BaseException):
    """Stands for the process dying right after the server's 250, before we record it."""


class DiesAfterAccept:
    """A real SMTP sender wrapped so that the worker 'dies' after the n-th accepted message."""

    name = "smtp"

    def __init__(self, url: str, n: int) -> None:
        self.inner = SMTPSender(url)
        self.n = n
        self.count = 0

    def send(self, message) -> None:
        self.inner.send(message)
        self.count += 1
        if self.count == self.n:
            raise CrashAfterAccept()


def test_crash_between_accept_and_commit_resends_with_the_same_message_id(fresh_engine, smtp_server, tmp_path):
    """The one at-least-once window, measured: exactly one duplicate, same Message-ID."""
    settings = make_settings(tmp_path, smtp_url=smtp_server.url, digest_lease_seconds=0.5)
    seed_papers(fresh_engine, 3)
    emails = [f"c{i}@example.org" for i in range(10)]
    seed_subscribers(fresh_engine, settings, emails)
    enqueue_due(settings, fresh_engine, period=PERIOD)
    dead = Deliverer(settings, fresh_engine, DiesAfterAccept(smtp_server.url, 4), worker="dead")
    try:
        dead.run()
    except CrashAfterAccept:
        pass
    counts = outbox_counts(fresh_engine, PERIOD)
    assert counts == {"sent": 3, "sending": 1, "claimed": 6}
    r = Deliverer(settings, fresh_engine, SMTPSender(smtp_server.url), worker="next").run(wait=30)
    assert r.taken_over == 7 and r.uncertain == 1 and r.sent == 7
    got = by_recipient(smtp_server.messages)
    assert sorted(got) == sorted(emails)
    dupes = {k: v for k, v in got.items() if len(v) > 1}
    assert list(dupes) == ["c3@example.org"] and len(dupes["c3@example.org"]) == 2
    first, second = dupes["c3@example.org"]
    assert first["Message-ID"] == second["Message-ID"]
    assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
    with fresh_engine.connect() as conn:
        assert conn.scalar(select(OutboxEntry.uncertain).where(OutboxEntry.message_id == first["Message-ID"])) == 1


def test_unsubscribed_before_its_turn_is_not_sent(fresh_engine, smtp_server, tmp_path):
    settings = make_settings(tmp_path, smtp_url=smtp_server.url)
    seed_papers(fresh_engine, 2)
    seed_subscribers(fresh_engine, settings, ["stay@example.org", "leave@example.org"])
    enqueue_due(settings, fresh_engine, period=PERIOD)
    from paperboy.digest import services

    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "leave@example.org")).one()
        services.unsubscribe(db, sub)
    r = deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    assert (r.sent, r.cancelled) == (1, 1)
    assert sorted(by_recipient(smtp_server.messages)) == ["stay@example.org"]


def test_empty_digests_are_skipped_or_sent_as_chosen(fresh_engine, smtp_server, tmp_path):
    settings = make_settings(tmp_path, smtp_url=smtp_server.url)
    seed_subscribers(fresh_engine, settings, ["skip@example.org"], skip_empty=True)
    seed_subscribers(fresh_engine, settings, ["want@example.org"], skip_empty=False)
    q = enqueue_due(settings, fresh_engine, period=PERIOD)  # no papers at all
    assert (q.queued, q.skipped_empty) == (1, 1)
    deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    got = by_recipient(smtp_server.messages)
    assert list(got) == ["want@example.org"]
    assert "No new papers" in got["want@example.org"][0].get_body(("plain",)).get_content()


def test_a_day_with_nothing_new_sends_no_digest_of_trending_papers_already_sent(fresh_engine, smtp_server, tmp_path):
    """Trending spans days: without the earlier digests' papers left out, a day with no
    announcement sent yesterday's list again, and "skip empty digests" never skipped."""
    settings = make_settings(tmp_path, smtp_url=smtp_server.url)
    seed_papers(fresh_engine, 3)
    seed_subscribers(fresh_engine, settings, ["reader@example.org"], skip_empty=True, top_n=3)
    assert enqueue_due(settings, fresh_engine, period=PERIOD).queued == 1
    deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    q = enqueue_due(settings, fresh_engine, period="2025-01-16")  # nothing announced that day
    assert (q.queued, q.skipped_empty) == (0, 1)
    with session_scope(fresh_engine) as db:
        make_paper(db, title="Announced on the next day", announced_on=dt.date(2025, 1, 17), categories=["cs.LG"])
    q = enqueue_due(settings, fresh_engine, period="2025-01-17")
    assert q.queued == 1
    deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    later = smtp_server.messages[-1].get_body(("plain",)).get_content()
    assert "Announced on the next day" in later and "Digest paper 0" not in later


def test_a_digest_stops_at_its_limit_and_says_how_many_more_so_gmail_does_not_clip_its_footer(
        fresh_engine, smtp_server, tmp_path):
    from paperboy.digest.compose import DIGEST_LIMIT

    settings = make_settings(tmp_path, smtp_url=smtp_server.url, base_url="http://paperboy.test")
    with session_scope(fresh_engine) as db:
        for i in range(DIGEST_LIMIT + 25):
            make_paper(db, title=f"A paper of a busy day about a long topic, number {i}", announced_on=DAY,
                       categories=["cs.LG", "cs.CV"], abstract="A long abstract. " * 60)
    seed_subscribers(fresh_engine, settings, ["busy@example.org"], top_n=100, categories="cs.LG cs.CV")
    enqueue_due(settings, fresh_engine, period=PERIOD)
    deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    [msg] = smtp_server.messages
    html_part = msg.get_body(("html",))
    assert len(html_part.get_content().encode()) < 102_000  # Gmail clips past 102 KB
    assert "Unsubscribe</a>" in html_part.get_content()
    text = msg.get_body(("plain",)).get_content()
    assert text.count("\r\n* ") == DIGEST_LIMIT
    assert re.search(r"\d+ more, and all of them: http://paperboy.test/", text)
    assert f"{DIGEST_LIMIT} papers" in msg["Subject"]


def test_batch_renderer_builds_the_same_mail_as_render_email(fresh_engine, tmp_path):
    from email import message_from_bytes, policy
    from html import unescape

    from paperboy.digest.compose import BatchRenderer, PaperCache, SubView, render_digest
    from paperboy.digest.schedule import parse_digest_period

    settings = make_settings(tmp_path, site_name="Papierjunge ä", base_url="https://pb.example")
    seed_papers(fresh_engine, 3, title="Ünïcode & <tags> title")
    seed_subscribers(fresh_engine, settings, ["same@example.org"])
    enqueue_due(settings, fresh_engine, period=PERIOD)
    with fresh_engine.connect() as conn:
        row = conn.execute(select(OutboxEntry)).one()
        sub = SubView.of(conn.execute(select(Subscription.__table__)).one())
        papers = PaperCache(conn, settings)
        papers.load(i for s in row.content["sections"] for i in s["ids"])
    period = parse_digest_period(PERIOD)
    ref = render_digest(settings, sub, period, row.content, papers, row.message_id)
    to, data = BatchRenderer(settings).render(sub, period, row.content, papers, row.message_id)
    fast = message_from_bytes(data, policy=policy.default)
    assert to == "same@example.org"
    for h in ("Subject", "From", "To", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(fast[h]) == str(ref[h]), h
    # The same text, line ends aside (CRLF on the wire); the HTML may spell non-ASCII
    # characters as character references (&#220; for Ü), which browsers read the same.
    text = fast.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == ref.get_body(("plain",)).get_content()
    fast_html = fast.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert fast_html.isascii() and "&#220;n&#239;code &amp; &lt;tags&gt; title" in fast_html
    assert unescape(fast_html) == unescape(ref.get_body(("html",)).get_content())


def test_two_readers_with_the_same_papers_but_cut_differently_are_each_told_their_own_count(fresh_engine, tmp_path):
    """The batch renderer renders each distinct content once: a section's "N more" is part
    of what makes it distinct (trending less what each reader had before can keep the same
    papers and cut a different number)."""
    from paperboy.digest.compose import BatchRenderer, PaperCache, SubView
    from paperboy.digest.schedule import parse_digest_period

    settings = make_settings(tmp_path, base_url="https://pb.example")
    ids = seed_papers(fresh_engine, 2)
    seed_subscribers(fresh_engine, settings, ["a@example.org", "b@example.org"])
    renderer, period = BatchRenderer(settings), parse_digest_period(PERIOD)
    with fresh_engine.connect() as conn:
        subs = [SubView.of(r) for r in conn.execute(select(Subscription.__table__).order_by(Subscription.id))]
        papers = PaperCache(conn, settings)
        papers.load(ids)
    said = []
    for sub, cut in zip(subs, (5, 4), strict=True):
        content = {"sections": [{"kind": "trending", "title": "Trending", "ids": ids, "more": "/trending", "cut": cut}]}
        _to, data = renderer.render(sub, period, content, papers, f"<{sub.id}@pb.example>")
        said.append(re.search(r"(\d+) more, and all of them", data.decode()).group(1))
    assert said == ["5", "4"]


def test_papers_rendered_once_per_pass_give_each_reader_the_mail_the_templates_give(fresh_engine, tmp_path):
    """The batch renderer renders a paper's block once and puts each reader's why line into
    it: every reader still gets exactly the text the templates write for them, with their
    own why line, escaped in the HTML part."""
    from email import message_from_bytes, policy
    from html import unescape

    from paperboy.digest.compose import BatchRenderer, PaperCache, SubView, render_digest
    from paperboy.digest.schedule import parse_digest_period

    settings = make_settings(tmp_path, base_url="https://pb.example")
    ids = seed_papers(fresh_engine, 4, title="Ünïcode & <tags> title")
    seed_subscribers(fresh_engine, settings, ["a@example.org", "b@example.org", "c@example.org"])
    with fresh_engine.connect() as conn:
        subs = [SubView.of(r) for r in conn.execute(select(Subscription.__table__).order_by(Subscription.id))]
        papers = PaperCache(conn, settings)
        papers.load(ids)
    period = parse_digest_period(PERIOD)
    whys = ["close to “<b>Fast</b> & loose”", "shares “graphs”", ""]
    renderer = BatchRenderer(settings)
    for n, (sub, why) in enumerate(zip(subs, whys, strict=True)):
        content = {"sections": [
            {"kind": "for_you", "title": "For you", "ids": ids[:2], "why": {str(ids[0]): why} if why else {}},
            {"kind": "trending", "title": "Trending", "ids": ids[2:]}]}
        ref = render_digest(settings, sub, period, content, papers, f"<m{n}@pb.example>")
        _to, data = renderer.render(sub, period, content, papers, f"<m{n}@pb.example>")
        fast = message_from_bytes(data, policy=policy.default)
        assert str(fast["Subject"]) == str(ref["Subject"]) == "Paperboy daily digest: 4 papers, Wednesday 15 January 2025"
        text = fast.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert text == ref.get_body(("plain",)).get_content()
        assert (f"Why: {why}" in text) == bool(why) and text.count("Why:") == (1 if why else 0)
        html = fast.get_body(("html",)).get_content().replace("\r\n", "\n")
        assert unescape(html) == unescape(ref.get_body(("html",)).get_content())
        assert "<b>Fast</b>" not in html
    assert len(renderer.cards.kept) == 4  # each paper's block rendered once for the three readers
