"""The digest's HTML in a real browser engine (chromium): readable in light and dark,
no horizontal scrolling on a phone-sized screen."""

from __future__ import annotations

import pytest

from paperboy.digest.outbox import deliver, enqueue_due
from paperboy.mail.senders import SMTPSender
from tests.digest.conftest import PERIOD, make_settings, seed_papers, seed_subscribers
from tests.support.contrast import below_aa


def _luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


@pytest.mark.browser
def test_digest_html_reads_in_light_and_dark_on_a_phone(fresh_engine, smtp_server, tmp_path, browser, backend):
    if backend != "sqlite":
        pytest.skip("rendering does not depend on the database")
    settings = make_settings(tmp_path, smtp_url=smtp_server.url)
    seed_papers(fresh_engine, 4, title="A rather long title " * 6)
    seed_subscribers(fresh_engine, settings, ["look@example.org"])
    enqueue_due(settings, fresh_engine, period=PERIOD)
    deliver(settings, fresh_engine, SMTPSender(smtp_server.url))
    html = smtp_server.wait_for("look@example.org")[0].get_body(("html",)).get_content()
    for scheme in ("light", "dark"):
        ctx = browser.new_context(color_scheme=scheme, viewport={"width": 375, "height": 700}, java_script_enabled=True)
        page = ctx.new_page()
        page.set_content(html)
        bg = page.evaluate("getComputedStyle(document.querySelector('.pb-card')).backgroundColor")
        fg = page.evaluate("getComputedStyle(document.querySelector('.pb-card')).color")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        # Every link and line of small print reads against what is behind it (WCAG AA, 4.5:1):
        # the site's name, Read and PDF, "See them all" and the footer's links were light-theme
        # colours on the dark background.
        unreadable = below_aa(page, "a, .pb-muted")
        ctx.close()
        assert unreadable == [], (scheme, unreadable)
        assert overflow <= 0, scheme
        contrast = abs(_luminance(bg) - _luminance(fg))
        assert contrast > 0.6, (scheme, bg, fg)
        assert (_luminance(bg) > 0.5) == (scheme == "light"), (scheme, bg)
