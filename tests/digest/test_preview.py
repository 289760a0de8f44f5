"""The digest preview is the mail itself: for the same subscriber and day, the page's
HTML is the HTML part of the message the real SMTP server received."""

from __future__ import annotations

import re

from paperboy.digest.tokens import links
from paperboy.store.db import session_scope
from tests.digest.conftest import DAY, PERIOD, seed_subscribers
from tests.digest.test_web import run_digest, site  # noqa: F401 - the served app with its SMTP server
from tests.support.factories import make_paper


def _seed(engine) -> None:
    titles = ["Schrödinger bridges — a survey of “optimal” transport", "Plain <b>bold</b> & ampersands",
              "Ω-limits of 𝔽_p dynamics"]
    with session_scope(engine) as db:
        for i, title in enumerate(titles):
            make_paper(db, title=title, announced_on=DAY, categories=["cs.LG", "math.DS"],
                       authors=["Zoë Ångström", f"Author {i}"], abstract=f"Abstract {i}: ∑ naïve café.")


def test_the_preview_of_a_day_is_the_html_that_was_mailed_that_day(site, fresh_engine, smtp_server):  # noqa: F811
    settings, base, client = site
    _seed(fresh_engine)
    (sub,) = seed_subscribers(fresh_engine, settings, ["reader@example.org"], categories="math.DS", top_n=2)
    run_digest(settings, fresh_engine)
    (mail,) = smtp_server.wait_for("reader@example.org")
    # Line ends are the transport's (SMTP sends CRLF), not the message's.
    mailed = mail.get_body(("html",)).get_content().replace("\r\n", "\n")

    preview_url = links(settings, sub.token)["preview"]
    page = client.get(preview_url, params={"period": PERIOD})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    # Both carry the same per-reader links (they are signed, not per send); say so, then
    # compare everything.
    unsubscribe = links(settings, sub.token)["unsubscribe"]
    assert unsubscribe in mailed and unsubscribe in page.text
    assert page.text == mailed
    assert re.search(r"Schr(ö|&#246;)dinger", page.text)

    # A paper that arrives for that day later is not in the mail, so not in its preview.
    with session_scope(fresh_engine) as db:
        make_paper(db, title="Came in afterwards", announced_on=DAY, categories=["math.DS"])
    again = client.get(preview_url, params={"period": PERIOD})
    assert again.text == mailed and "Came in afterwards" not in again.text


def test_the_default_preview_shows_the_latest_papers_and_a_bad_period_is_refused(site, fresh_engine):  # noqa: F811
    settings, base, client = site
    _seed(fresh_engine)
    (sub,) = seed_subscribers(fresh_engine, settings, ["reader@example.org"], top_n=3)
    preview_url = links(settings, sub.token)["preview"]
    page = client.get(preview_url)
    assert page.status_code == 200 and "Ampersands" not in page.text and "&amp; ampersands" in page.text
    assert client.get(preview_url, params={"period": "not-a-day"}).status_code == 422
    weekend = client.get(preview_url, params={"period": "2025-01-18"})
    assert weekend.status_code == 400 and "weekend" in weekend.text
    weekly = client.get(preview_url, params={"period": "2025-W03"})
    assert weekly.status_code == 400 and "daily" in weekly.text
