"""In real Chromium, on two real arXiv listing days: a new member signs up, starts "For
you" from pasted ids and a BibTeX file, votes, reads why each paper was picked, marks one
not interested, gets a digest with an alert made from a search, looks at what the feed
learned and resets it. Every step is a click on
the page's own forms, and every check is on what the member sees."""

from __future__ import annotations

import json
import re

import pytest

from paperboy.digest.outbox import deliver, enqueue_due
from paperboy.ingest.listing import read_listing
from paperboy.ingest.pipeline import run_source
from paperboy.mail.senders import SMTPSender
from paperboy.rank import foryou
from tests.community.conftest import PASSWORD, drain_mail
from tests.conftest import DAILY
from tests.support.servers import serve_app_in_thread
from tests.web.conftest import browser_site

pytestmark = pytest.mark.browser

SEED_DAY, NEWEST_DAY = "2026-06-12", "2026-06-22"  # seeds come from the first; picks from the newest


def listing(day: str) -> list[dict]:
    with (DAILY / f"{day}.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def import_two_days(engine) -> dict[str, str]:
    for day in (SEED_DAY, NEWEST_DAY):
        run_source(engine, f"listing {day}", read_listing(DAILY / f"{day}.jsonl"))
    return {}


@pytest.fixture
def served(databases, tmp_path, shared_data):
    site = browser_site(databases, tmp_path, import_two_days)
    with serve_app_in_thread(site.app) as base:
        yield site.app, base


def card_titles(page) -> list[str]:
    return [t.strip() for t in page.locator(".card-title").all_inner_texts()]


def test_a_new_member_seeds_reads_why_dismisses_gets_a_digest_and_resets_for_you(served, page, tmp_path,
                                                                                 smtp_server):
    app, base = served
    language = [r for r in listing(SEED_DAY) if r["categories"][0] == "cs.CL"]
    pasted, bib_eprint, bib_url = language[:3], language[3], language[4]
    seeds = [*pasted, bib_eprint, bib_url]
    library = tmp_path / "library.bib"
    library.write_text(
        f"@article{{first, title = {{{bib_eprint['title']}}}, eprint = {{{bib_eprint['id']}}}, archivePrefix = {{arXiv}}}}\n\n"
        f"@misc{{second, title = {{{bib_url['title']}}}, url = {{https://arxiv.org/abs/{bib_url['id']}}}}}\n\n"
        "@inproceedings{third, title = {A conference paper with no preprint}, booktitle = {Proceedings}, year = {2024}}\n",
        encoding="utf-8")

    # Signed out, For you says what it is and how to get one.
    page.goto(base + "/for-you")
    assert page.locator("h1").inner_text() == "Today's papers, ranked for you"
    page.locator("main").get_by_role("link", name="Sign up").click()
    page.fill('input[name="email"]', "kay@example.org")
    page.fill('input[name="display_name"]', "Kay")
    page.fill('input[name="password"]', PASSWORD)
    page.locator('form.account-form button[type="submit"]').click()
    assert "Check your inbox" in page.locator("main").inner_text()
    drain_mail(app)
    (mail,) = [m for m in app.state.mail.outbox if m["To"] == "kay@example.org"]
    page.goto(base + re.search(r"https?://[^/\s]+(/verify/\S+)", mail.get_body(("plain",)).get_content()).group(1))
    # The browser that signed up is signed in, on For you, which has nothing to learn
    # from yet and offers seeds.
    assert "your address is confirmed and you are signed in" in page.locator("main").inner_text()
    assert "Nothing to learn from yet" in page.locator("main").inner_text()
    page.fill('textarea[name="ids"]', "\n".join([pasted[0]["id"], f"arXiv:{pasted[1]['id']}",
                                                  f"https://arxiv.org/abs/{pasted[2]['id']}v1"]))
    page.set_input_files('input[name="bibtex"]', str(library))
    page.get_by_role("button", name="Start from these").click()
    report = page.locator("main p[role=status]").inner_text()
    assert "Added 5 seed papers." in report
    assert "1 BibTeX entry names no arXiv id: its title is being looked up on arXiv" in report
    waiting = page.locator(".waiting-papers").inner_text()
    assert "Looking up 1 BibTeX entry" in waiting and "A conference paper with no preprint" in waiting
    assert page.get_by_role("heading", name="Learning from 5 papers").is_visible()
    learned = page.locator(".signal-list").first.inner_text()
    assert all(r["title"] in learned for r in seeds)

    # A vote on the daily page counts too.
    page.locator(".main-nav").get_by_role("link", name="Daily").click()
    voted = page.locator(f'.card[data-arxiv-id="{page.locator(".card").first.get_attribute("data-arxiv-id")}"]')
    voted_title = voted.locator(".card-title").inner_text().strip()
    voted.locator(".vote-form button").click()
    voted.locator(".vote-form button[aria-pressed=true]").wait_for()
    assert voted.locator(".vote-count").inner_text() == "1"

    # For you: the newest day's papers, each with a line saying why, never the one voted for.
    page.locator(".main-nav").get_by_role("link", name="For you").click()
    assert page.locator(".main-nav a[aria-current=page]").inner_text() == "For you"
    assert page.locator(".tabs a[aria-current=page]").inner_text() == "Today"
    ranked = int(re.search(r"(\d+) papers ranked for you", page.locator(".feed-head").inner_text()).group(1))
    picks = page.locator(".pick")
    assert ranked > 10 and picks.count() == 30
    whys = picks.locator(".why").all_inner_texts()
    assert len(whys) == 30 and all(w.startswith("Why:") for w in whys)
    liked_titles = [r["title"] for r in seeds] + [voted_title]
    assert any(f"close to “{t}”" in w for w in whys for t in liked_titles), whys[:3]
    assert voted_title not in card_titles(page)

    # Not interested: without a reload the pick gives way to a line saying so, with Undo
    # (focused, for a keyboard), and the count follows; Undo brings the card back.
    page.evaluate("window.pbSamePage = true")  # gone if the page is loaded again
    first = picks.first
    dismissed_title = first.locator(".card-title").inner_text().strip()
    first.get_by_role("button", name="Not interested").click()
    gone = first.locator(".pick-gone[role=status]")
    gone.wait_for()
    assert gone.inner_text().startswith(f"Not interested: “{dismissed_title}” is gone from your picks")
    assert not first.locator(".card").is_visible() and not first.locator(".why").is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Undo"
    assert f"{ranked - 1} papers ranked for you" in page.locator(".feed-head").inner_text()
    first.get_by_role("button", name="Undo").click()
    first.locator(".pick-gone").wait_for(state="detached")
    assert first.locator(".card").is_visible() and first.locator(".why").is_visible()
    assert f"{ranked} papers ranked for you" in page.locator(".feed-head").inner_text()
    first.get_by_role("button", name="Not interested").click()
    gone.wait_for()
    assert page.evaluate("window.pbSamePage === true")
    # Ranked again on the next visit: the paper is gone from the picks.
    page.reload()
    assert dismissed_title not in card_titles(page)
    assert f"{ranked - 1} papers ranked for you" in page.locator(".feed-head").inner_text()

    # What it learned: the seeds and the vote, the dismissed paper, the words that weigh.
    page.get_by_role("link", name="What it learned", exact=True).click()
    assert page.get_by_role("heading", name="Learning from 6 papers").is_visible()
    assert voted_title in page.locator(".signal-list").first.inner_text()
    dismissed = page.locator("section", has=page.get_by_role("heading", name="Not interested (1)"))
    assert dismissed.locator("li").inner_text().startswith(dismissed_title)
    assert page.locator(".learned-words .chip").count() > 0

    # "Alert me" from a search starts the member's digest with that alert; the digest of
    # the newest day, sent through a real SMTP server, opens with the picks and their why
    # lines, and its alert section holds only papers with every word of the alert.
    page.goto(base + "/search?q=speech+recognition")
    page.get_by_role("button", name="Alert me").click()
    page.get_by_role("button", name="Start my digest").click()
    assert "speech recognition" in page.locator('textarea[name="alerts"]').input_value()
    settings = app.state.settings
    enqueue_due(settings, app.state.engine, period=NEWEST_DAY, search=app.state.search)
    deliver(settings, app.state.engine, SMTPSender(smtp_server.url))
    (digest,) = [m for m in smtp_server.messages if m["To"] == "kay@example.org"]
    text = digest.get_body(("plain",)).get_content()
    sections = [line.strip("= ") for line in text.splitlines() if line.startswith("== ")]
    assert sections[:2] == ["For you", "Alert: speech recognition"]
    assert text.split("== For you ==")[1].count("Why: ") >= 1
    alert_part = text.split("== Alert: speech recognition ==")[1].split("\n== ")[0]
    alert_ids = re.findall(r"/papers/([^\s]+)", alert_part)
    assert alert_ids, alert_part
    records = {r["id"]: r for r in listing(NEWEST_DAY)}
    for arxiv_id in alert_ids:
        words = (records[arxiv_id]["title"] + " " + records[arxiv_id]["summary"]).lower()
        assert "speech" in words and "recognition" in words, arxiv_id

    # Reset asks first, then the feed starts from nothing.
    page.goto(base + "/for-you/learned")
    dialogs: list[str] = []
    page.once("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    page.get_by_role("button", name="Reset what it learned").click()
    page.wait_for_url("**/for-you/learned?done=reset")
    assert dialogs and dialogs[0].startswith("Forget everything the feed learned?")
    assert "Reset: your feed starts again" in page.locator("main p[role=status]").inner_text()
    assert page.locator(".waiting-papers").count() == 0  # the seed still being looked up is forgotten too
    assert page.get_by_role("heading", name="Learning from 0 papers").is_visible()
    assert page.locator(".learned-words").count() == 0
    page.locator(".main-nav").get_by_role("link", name="For you").click()
    assert "Nothing to learn from yet" in page.locator("main").inner_text()
    assert page.locator(".pick").count() == 0
    # It offers a paper from each of the day's largest topics to begin again with: a vote
    # on one (in place), then "see your picks", and the feed starts from that vote.
    starters = page.locator(".starter-cards .card")
    assert starters.count() == foryou.STARTERS
    first = starters.first
    first_title = first.locator(".card-title").inner_text().strip()
    first.locator(".vote-form button").click()
    first.locator(".vote-form button[aria-pressed=true]").wait_for()
    page.get_by_role("link", name="see your picks").click()
    assert page.locator(".pick").count() > 0 and page.locator(".starters").count() == 0
    assert first_title not in card_titles(page) and "close to" in page.locator(".pick .why").first.inner_text()
    assert page.js_errors == []
