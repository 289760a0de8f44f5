"""Category, sort and paging on a day page, in real Chromium with JavaScript off (plain forms and links)."""

from __future__ import annotations

import pytest

from tests.support.servers import serve_app_in_thread
from tests.web.conftest import browser_site
from tests.web.test_feed_paging import LONG_DAY, seed


@pytest.fixture(scope="module")
def live(databases, tmp_path_factory):
    site = browser_site(databases, tmp_path_factory.mktemp("live-paging"), seed)
    with serve_app_in_thread(site.app) as base:
        yield base, site.ids


def test_pick_a_category_sort_by_newest_and_page_through_without_javascript(live, browser):
    base, ids = live
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto(base + "/")
        assert page.locator("h1").inner_text() == "Friday, June 20, 2025"
        page.select_option("#category-select", "cs.CV")
        page.select_option("#sort-select", "newest")
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url("**category=cs.CV**")
        assert page.locator(".pager-summary").inner_text() == "Showing 1–50 of 60"
        shown = page.locator("article.card").evaluate_all("cards => cards.map(c => c.dataset.arxivId)")
        cv = sorted(ids["long_day"][:60], reverse=True)
        assert shown == cv[:50]
        page.get_by_role("link", name="Next page →").click()
        assert page.locator(".pager-summary").inner_text() == "Showing 51–60 of 60"
        assert page.locator("article.card").evaluate_all("cards => cards.map(c => c.dataset.arxivId)") == cv[50:]
        assert page.locator("#category-select").input_value() == "cs.CV"
        assert page.locator("#sort-select").input_value() == "newest"
        # a hand-edited page number past the end points back to the last page
        page.goto(f"{base}/papers?date={LONG_DAY}&category=cs.CV&sort=newest&p=9")
        page.get_by_role("link", name="Go to the last page (2)").click()
        assert page.locator(".pager-summary").inner_text() == "Showing 51–60 of 60"
        page.get_by_role("link", name="← Previous page").click()
        assert page.locator(".pager-summary").inner_text() == "Showing 1–50 of 60"
    finally:
        context.close()
