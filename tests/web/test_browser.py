"""End to end in real Chromium against the app served by uvicorn over TCP."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from playwright.sync_api import expect

from tests.support.servers import serve_app_in_thread
from tests.web.conftest import browser_site

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="module")
def live(databases, tmp_path_factory):
    site = browser_site(databases, tmp_path_factory.mktemp("live"))
    with serve_app_in_thread(site.app) as base:
        yield base, site.ids, site.app


def test_browse_expand_search_open_similar(live, page):
    base, ids, _ = live
    page.goto(base + "/")
    assert page.locator("h1").inner_text() == "Wednesday, January 15, 2025"

    # expand a long abstract
    card = page.locator(f'article[data-arxiv-id="{ids["wed_top"]}"]')
    abstract = card.locator(".abstract")
    toggle = card.locator("button.abstract-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    collapsed = abstract.bounding_box()["height"]
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert abstract.bounding_box()["height"] > collapsed
    assert "Code: https://github.com/acme/guidance" in abstract.inner_text()

    # long author list expands without JavaScript (details/summary)
    many = page.locator(f'article[data-arxiv-id="{ids["wed_many"]}"]')
    assert not many.get_by_text("Collaborator 39").is_visible()
    many.get_by_text("+35 more").click()
    assert many.get_by_text("Collaborator 39").is_visible()

    # previous day
    page.get_by_role("link", name="← Jan 14").click()
    page.wait_for_url(re.compile(r"/papers\?date=2025-01-14$"))
    assert page.locator("h1").inner_text() == "Tuesday, January 14, 2025"
    # the submission featured on Tuesday is listed on its own announce day (December 2), not here
    assert page.locator("article.card").count() == 1

    # search from the header
    page.get_by_label("Search papers").fill("classifier guidance")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=classifier"))
    assert page.locator("mark").first.is_visible()
    page.get_by_role("link", name="Diffusion guidance without classifier gradients").click()
    page.wait_for_url(f"{base}/papers/{ids['wed_top']}")
    assert page.locator('meta[name="citation_arxiv_id"]').get_attribute("content") == ids["wed_top"]

    # follow a similar paper
    similar = page.locator("section.similar .card-title a").first
    title = similar.inner_text()
    similar.click()
    page.wait_for_url(re.compile(r"/papers/(?!" + re.escape(ids["wed_top"]) + ")"))
    assert page.locator("h1.paper-title").inner_text() == title
    assert page.js_errors == []


def test_pasting_a_long_text_into_the_header_search_shows_results_and_messages(live, page):
    base, ids, _ = live
    page.goto(base + "/")
    abstract = ("We study classifier-free guidance for diffusion models: guidance trades the diversity of "
                "samples for their fidelity, and we show when it helps image generation and when it hurts. ")
    # Over 10,000 characters through uvicorn: cut with a message, never an error page.
    page.get_by_label("Search papers").fill(abstract * 60)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=We\+study"))
    notices = page.locator("p.notice").all_inner_texts()
    assert "The text was cut to its first 10,000 characters." in notices
    assert any(n.startswith("Papers like this text") for n in notices)
    assert page.locator(f'article[data-arxiv-id="{ids["wed_top"]}"]').is_visible()
    assert page.js_errors == []


def test_hostile_titles_show_as_text_and_run_nothing(live, page):
    base, ids, _ = live
    for path in ["/", f"/papers/{ids['wed_xss']}", "/search?q=attack", "/papers?week=2025-W03"]:
        page.goto(base + path)
        assert page.evaluate("window.__pwned") is None, path
        assert page.get_by_text("<script>window.__pwned = 1</script>", exact=False).first.is_visible(), path
    assert page.locator("img").count() == 0
    assert page.js_errors == []


def test_keyboard_skip_link_and_math(live, page):
    base, ids, _ = live
    page.goto(base + f"/papers/{ids['wed_mid']}")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    assert page.locator("h1.paper-title math").count() == 2
    # A screen reader hears the formulas in the heading (Chrome left MathML out of its name).
    expect(page.locator("h1.paper-title")).to_have_accessible_name("Bounds for O(n²) sorting with α-approximations")
    assert page.js_errors == []


def test_anonymous_vote_goes_to_sign_in(live, page):
    base, ids, _ = live
    page.goto(base + "/papers?date=2025-01-13")
    page.locator(f'article[data-arxiv-id="{ids["mon_b"]}"] .vote-button').click()
    page.wait_for_url(re.compile(r"/signin\?next="))
    assert unquote(page.url).endswith("next=/papers?date=2025-01-13")


def test_front_page_screenshots(live, browser):
    base, _, _ = live
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        ctx = browser.new_context(viewport={"width": 1200, "height": 900}, color_scheme=scheme)
        pg = ctx.new_page()
        pg.goto(base + "/")
        bg = pg.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (bg == "rgb(251, 250, 247)") == (scheme == "light")
        pg.screenshot(path=str(SCREENSHOTS / f"test-front-{scheme}.png"))
        ctx.close()


def _record_csp_violations(page) -> list[str]:
    """Every Content-Security-Policy violation the page reports, from both the console
    ("Refused to ...") and securitypolicyviolation events."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(m.text) if "Refused to" in m.text else None)
    page.add_init_script("document.addEventListener('securitypolicyviolation', e =>"
                         " (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI))")
    page.csp_events = lambda: page.evaluate("window.__csp || []")  # type: ignore[attr-defined]
    return seen


PASSWORD = "a long enough password 1"


def _new_member(app, email: str, name: str):
    """A verified member of the live site (the stored user)."""
    from paperboy.community import accounts
    from paperboy.store.db import session_scope

    with session_scope(app.state.engine) as db:
        user = accounts.create_user(db, email, PASSWORD, name, verified=True)
        db.flush()
        db.expunge(user)
    return user


def _sign_in(page, base: str, email: str) -> None:
    """Sign in through the sign-in page's own form, as a member does."""
    page.goto(base + "/signin")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.locator('form.account-form button[type="submit"], form.account-form input[type="submit"]').first.click()
    page.wait_for_load_state()


def _new_member_on_monday(live, page, email: str, name: str):
    """A new member signed in on Monday's page, marked so that a reload would show
    (``window.__same_document``); the card of its first paper."""
    base, ids, app = live
    _new_member(app, email, name)
    _sign_in(page, base, email)
    page.goto(base + "/papers?date=2025-01-13")
    page.evaluate("window.__same_document = true")
    return page.locator(f'article[data-arxiv-id="{ids["mon_a"]}"]')


def _thread_of_comments(db, arxiv_id: str, user_id: int) -> None:
    """A comment and a nested reply (replies are indented by a class, not a style attribute)."""
    from sqlalchemy import select

    from paperboy.community.models import Comment
    from paperboy.store.models import Paper

    paper_id = db.scalar(select(Paper.id).where(Paper.arxiv_id == arxiv_id))
    top = Comment(paper_id=paper_id, user_id=user_id, body="First", body_html="<p>First</p>")
    db.add(top)
    db.flush()
    db.add(Comment(paper_id=paper_id, user_id=user_id, parent_id=top.id, body="Reply", body_html="<p>Reply</p>"))


def test_no_main_page_breaks_the_content_security_policy(live, page):
    from paperboy.store.db import session_scope

    base, ids, app = live
    reader = _new_member(app, "csp@example.org", "Policy Reader")
    with session_scope(app.state.engine) as db:
        _thread_of_comments(db, ids["wed_top"], reader.id)
    console = _record_csp_violations(page)
    anonymous = ["/", "/papers?date=2025-01-13", "/papers?week=2025-W03", f"/papers/{ids['wed_mid']}",
                 f"/papers/{ids['wed_top']}", "/search?q=guidance", "/trending", "/signup", "/signin", "/reset",
                 "/signin/magic", "/docs", "/no/such/page"]
    members = ["/account", "/account/digest", "/collections", "/following", "/submit", f"/papers/{ids['wed_top']}"]
    events: dict[str, list] = {}
    for path in anonymous:
        page.goto(base + path)
        events[path] = page.csp_events()
    # MathML is rendered on the server and shows under the policy
    page.goto(base + f"/papers/{ids['wed_mid']}")
    assert page.locator("h1.paper-title math").first.is_visible()
    _sign_in(page, base, "csp@example.org")
    for path in members:
        page.goto(base + path)
        events["member " + path] = page.csp_events()
    page.goto(base + f"/papers/{ids['wed_top']}")
    reply = page.locator("li.comment[data-depth=\"1\"]")
    assert reply.evaluate("el => getComputedStyle(el).marginLeft") != "0px"  # nesting shows
    # the abstract toggle (static app.js) still runs
    page.goto(base + "/")
    toggle = page.locator(f'article[data-arxiv-id="{ids["wed_top"]}"] button.abstract-toggle')
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert {p: e for p, e in events.items() if e} == {}
    assert console == []
    assert page.js_errors == []


def test_not_interested_on_a_daily_card_toggles_in_place_and_is_kept(live, page):
    card = _new_member_on_monday(live, page, "picky@example.org", "Picky")
    button = card.locator(".dismiss-button")
    assert button.inner_text() == "Not interested"
    button.click()
    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'true'", arg=button.element_handle())
    assert button.inner_text() == "Not interested ✓"
    assert page.evaluate("window.__same_document") is True  # stayed on the day's page
    page.reload()
    assert card.locator(".dismiss-button").inner_text() == "Not interested ✓"  # stored
    card.locator(".dismiss-button").click()  # and undone the same way
    page.wait_for_function("b => b.getAttribute('aria-pressed') === 'false'",
                           arg=card.locator(".dismiss-button").element_handle())
    page.reload()
    assert card.locator(".dismiss-button").inner_text() == "Not interested"
    assert page.js_errors == []


def test_a_member_gets_a_private_feed_address_a_reader_can_use_and_replaces_it(live, page):
    import urllib.error
    import urllib.request
    import xml.etree.ElementTree as ET
    from urllib.parse import urlsplit

    def fetch(url: str) -> int:
        """As a feed reader: no cookie, only the address's path on the live site."""
        try:
            with urllib.request.urlopen(base + urlsplit(url).path, timeout=10) as r:
                assert ET.fromstring(r.read()).tag == "{http://www.w3.org/2005/Atom}feed"
                return r.status
        except urllib.error.HTTPError as exc:
            return exc.code

    base, _ids, app = live
    _new_member(app, "reader@example.org", "Reader")
    _sign_in(page, base, "reader@example.org")
    page.goto(base + "/for-you/learned")
    section = page.locator("#feed")
    section.get_by_role("button", name="Get a private feed").click()
    assert page.locator("main [role=status]").inner_text().startswith("Your private feed is on")
    assert page.evaluate("location.hash") == "#feed"
    first = section.locator("#feed-atom").inner_text()
    assert "/feeds/for-you/" in first and first.endswith(".atom")
    assert section.get_by_role("button", name="Copy").is_visible()
    assert fetch(first) == 200
    asked = []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    section.get_by_role("button", name="New address").click()
    second = page.locator("#feed #feed-atom").inner_text()
    assert second != first and fetch(second) == 200 and fetch(first) == 410  # Gone: a reader stops asking
    page.locator("#feed").get_by_role("button", name="Turn off").click()
    assert page.locator("#feed").get_by_role("button", name="Get a private feed").is_visible()
    assert fetch(second) == 410
    assert [m.split(" ")[:3] for m in asked] == [["The", "current", "address"], ["Turn", "the", "feed"]]
    assert page.js_errors == []


def test_signed_in_vote_updates_without_reload(live, page):
    """Runs last in this module: it adds a vote."""
    _base, ids, _app = live
    button = _new_member_on_monday(live, page, "voter@example.org", "Voter").locator(".vote-button")
    assert button.locator(".vote-count").inner_text() == "0"
    button.click()
    selector = f'[data-arxiv-id="{ids["mon_a"]}"] .vote-button'
    page.wait_for_function("s => document.querySelector(s).getAttribute('aria-pressed') === 'true'", arg=selector)
    assert button.locator(".vote-count").inner_text() == "1"
    assert page.evaluate("window.__same_document") is True  # no reload happened
    page.reload()
    assert page.locator(f'article[data-arxiv-id="{ids["mon_a"]}"] .vote-count').inner_text() == "1"
    assert page.js_errors == []


def test_a_digest_started_in_the_browser_comes_in_the_members_own_time_zone(live, browser):
    base, _ids, app = live
    _new_member(app, "tokyo@example.org", "Tokyo Reader")
    context = browser.new_context(timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        _sign_in(page, base, "tokyo@example.org")
        page.goto(base + "/account/digest")
        page.get_by_role("button", name="Start my digest").click()
        page.wait_for_url("**/settings?started=1")
        assert page.locator('input[name="timezone"]').input_value() == "Asia/Tokyo"
        assert "(Asia/Tokyo;" in page.locator("body").inner_text()  # the next digest, in their time
        # signed out, the footer's box says the browser's zone too
        context.clear_cookies()
        page.goto(base + "/")
        assert page.locator('.subscribe-box input[name="timezone"]').input_value() == "Asia/Tokyo"
    finally:
        context.close()


def test_long_unbroken_words_in_a_paper_do_not_widen_a_phone_page(live, browser):
    """Abstracts hold addresses (code, data, project pages) and titles coin long names:
    on a phone they wrap instead of making the page scroll sideways."""
    import datetime as dt

    from paperboy.store.db import session_scope
    from tests.support.factories import make_paper

    base, _, app = live
    url = "github.com/anorganisation/AModelRepositoryNamedWithoutAnyBreaksAtAllThatRunsOnAndOnAndOn"
    with session_scope(app.state.engine) as db:
        paper = make_paper(db, title="HyperLongCompoundModelNameWithoutBreaksForTesting: a study",
                           abstract=f"We release the code at {url}. The data is at {url}/data.",
                           announced_on=dt.date(2025, 1, 20))
        arxiv_id = paper.arxiv_id
    # Not is_mobile: a phone's browser widens its layout to fit what overflows, hiding the fault.
    ctx = browser.new_context(viewport={"width": 360, "height": 780}, has_touch=True)
    page = ctx.new_page()
    for path in (f"/papers/{arxiv_id}", "/papers?date=2025-01-20"):
        page.goto(base + path)
        page.get_by_text("We release the code at").first.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    ctx.close()


def test_the_search_page_reflows_at_320_pixels_without_scrolling_sideways(live, browser):
    """WCAG 1.4.10: at 320 CSS pixels (400 % zoom of a desktop window) the search box,
    its button and the filters fit; they were 357 pixels wide."""
    base, _, _ = live
    ctx = browser.new_context(viewport={"width": 320, "height": 700})
    page = ctx.new_page()
    page.goto(base + "/search?q=diffusion&from=2025-01-01&to=2025-01-31")
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    box = page.locator(".search-main button").bounding_box()
    assert box["x"] + box["width"] <= 320
    ctx.close()
