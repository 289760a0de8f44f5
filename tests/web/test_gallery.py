"""Every page, signed out and signed in, light and dark, on a phone and a desktop.

Each page must render with the stylesheet applied, fit the phone's width (no sideways
scrolling), and keep the header compact. With ``PAPERBOY_GALLERY=1`` the run also writes a
viewport screenshot of each into ``docs/screenshots/`` and the table ``docs/gallery.md``,
so the gallery always shows what the tests saw.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy import select, update

from paperboy.community import accounts
from paperboy.store.db import session_scope
from paperboy.store.models import Author, WantedPaper
from tests.community.conftest import PASSWORD, Browser
from tests.support.servers import serve_app_in_thread
from tests.web.conftest import browser_site

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs"
SHOTS = DOCS / "screenshots"
WRITE = os.environ.get("PAPERBOY_GALLERY") == "1"
DEVICES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 900}}
HEADER_MAX = {"phone": 80, "desktop": 64}  # px: a compact bar, never a third of the screen
LIGHT_BG = "rgb(251, 250, 247)"  # --bg in light mode
ADMIN_EMAIL = "ada@example.org"
MEMBER_EMAIL = "grace@example.org"  # signed in means an ordinary member; the admin page alone is an admin's


@dataclass(frozen=True)
class Shot:
    name: str
    path: str
    signed_out: bool = True  # member-only pages are shown signed in only
    status: int = 200
    admin: bool = False  # signed in as the administrator rather than the member


@pytest.fixture(scope="module")
def gallery(databases, tmp_path_factory):
    """The web tests' papers, plus an admin and a member with comments (math, replies); the
    member has a public collection, follows, a digest and a "For you" feed started from two
    seed papers (one paper marked not interested); served over TCP."""
    site = browser_site(databases, tmp_path_factory.mktemp("gallery"))
    engine, ids, app = site.engine, site.ids, site.app
    with session_scope(engine) as db:
        accounts.create_user(db, ADMIN_EMAIL, PASSWORD, "Ada Lovelace", is_admin=True, verified=True)
        grace_id = accounts.create_user(db, MEMBER_EMAIL, PASSWORD, "Grace Hopper", verified=True).id
        author = db.scalar(select(Author.name).order_by(Author.id).limit(1))
    ada, grace = Browser(app), Browser(app)
    ada.sign_in(ADMIN_EMAIL)
    grace.sign_in(MEMBER_EMAIL)
    top = ids["wed_top"]
    first = grace.form(f"/papers/{top}/comments", {"body": "Does the bound $O(n^2)$ hold for **every** guidance scale?"}, page="/")
    parent = re.search(r"#comment-(\d+)", first.headers["location"]).group(1)
    reply = ada.form(f"/papers/{top}/comments", {"body": "Yes: see eq. 3, $$\\sum_{i=1}^n i = \\frac{n(n+1)}{2}$$",
                                                 "parent_id": parent}, page="/")
    nested = re.search(r"#comment-(\d+)", reply.headers["location"]).group(1)
    grace.form(f"/papers/{top}/comments", {"body": "Thanks, that settles it.", "parent_id": nested}, page="/")
    ada.form(f"/papers/{top}/comments", {"body": f"A *very* readable paper. It builds on arXiv:{ids['mon_a']}; "
                                                "code at https://github.com/example/guidance."}, page="/")
    grace.get("/replies")  # Ada's replies seen: every shot's header is the same, with no "new replies" badge
    made = grace.form("/collections", {"name": "Reading group", "public": "1", "arxiv_id": top}, page="/")
    collection = made.headers["location"].split("?")[0] if "/collections/" in made.headers.get("location", "") else None
    if collection is None:
        collection = re.search(r'href="(/collections/\d+)"', grace.get("/collections").text).group(1)
    for name in ("wed_mid", "tue"):
        assert grace.form(f"{collection}/add", {"arxiv_id": ids[name]}, page="/").status_code == 303
    # Two papers of a Zotero library this instance lacks: one waits for the worker to fetch
    # it from arXiv, the other arXiv did not know; and a proceedings entry without an arXiv
    # id, whose title waits to be looked up (the owner's page lists all three).
    journal = b"@inproceedings{k, title={Neural Ordinary Differential Equations}, author={Chen, Ricky T. Q.}}\n"
    imported = grace.form(f"{collection}/import", {"ids": "2101.00001\n2101.99999"}, page=collection,
                          files={"bibtex": ("My Library.bib", journal, "application/x-bibtex")})  # looked up by title
    assert imported.status_code == 303, imported.text
    with engine.begin() as conn:
        conn.execute(update(WantedPaper).where(WantedPaper.arxiv_id == "2101.99999")
                     .values(state="unknown", note="arXiv has no paper with this id"))
    grace.form("/follows", {"kind": "category", "target": "cs.LG"}, page="/")
    grace.form("/follows", {"kind": "author", "target": author}, page="/")
    digest = grace.form("/account/digest", page="/").headers["location"]
    seeded = grace.form("/for-you/seeds", {"ids": f"{ids['mon_a']}\n{ids['mon_b']}\n1706.03762"},  # the last: fetched
                        page="/for-you/learned")
    assert "Added 2 seed papers." in grace.get(seeded.headers["location"]).text
    grace.form(f"/papers/{ids['submitted']}/not-interested", {"next": "/for-you/learned"}, page="/")
    grace.form("/for-you/feed", {"action": "on"}, page="/for-you/learned")  # the address, long, on a phone too
    made = grace.form("/account/tokens", {"name": "Zotero sync", "access": "write", "expires": "90"}, page="/account")
    assert made.status_code == 200
    shots = [
        Shot("front", "/"),
        Shot("day", "/papers?date=2025-01-14"),
        Shot("week", "/papers?week=2025-W03"),
        Shot("month", "/papers?month=2025-01"),
        Shot("trending", "/trending"),
        Shot("search", "/search?q=diffusion"),
        Shot("trends", "/trends?" + urlencode([("q", "diffusion"), ("q", "cat:cs.LG"), ("q", 'author:"Ada Lovelace"'),
                                               ("unit", "week"), ("value", "count"), ("from", "2024-11-25")])),
        Shot("paper", f"/papers/{top}#comments"),
        Shot("author", "/authors/" + quote(author)),
        Shot("category", "/categories/cs.LG"),
        Shot("for-you", "/for-you"),
        Shot("for-you-learned", "/for-you/learned", signed_out=False),
        Shot("for-you-seeded", seeded.headers["location"], signed_out=False),  # what the seed form came to
        Shot("submit", "/submit", signed_out=False),
        Shot("signin", "/signin"),
        Shot("signup", "/signup"),
        Shot("account", "/account", signed_out=False),
        Shot("following", "/following", signed_out=False),
        Shot("account-tokens", "/account#tokens", signed_out=False),  # not right after /account: a new load
        Shot("replies", "/replies", signed_out=False),
        Shot("comment-edit", f"/comments/{parent}/edit", signed_out=False),
        Shot("collections", "/collections", signed_out=False),
        Shot("collections-search", "/collections?q=diffusion", signed_out=False),  # searching saved papers
        Shot("collection", collection),
        Shot("collection-imported", imported.headers["location"], signed_out=False),  # the import's report
        Shot("member", f"/members/{grace_id}"),
        Shot("digest", digest),
        Shot("admin", "/admin", signed_out=False, admin=True),
        Shot("api-docs", "/docs"),
        Shot("not-found", "/no/such/page", status=404),
    ]
    with serve_app_in_thread(app) as base:
        yield base, shots


def _signed_in_state(browser, base: str, email: str = MEMBER_EMAIL) -> dict:
    ctx = browser.new_context()
    page = ctx.new_page()
    page.goto(base + "/signin")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.locator('form.account-form button[type="submit"]').click()
    page.wait_for_load_state()
    state = ctx.storage_state()
    ctx.close()
    return state


def _file(shot: Shot, who: str, scheme: str, device: str) -> str:
    return f"{shot.name}-{who}-{scheme}-{device}.jpg"


def test_every_page_is_styled_fits_a_phone_and_keeps_the_header_small(gallery, browser):
    base, shots = gallery
    states = {"out": None, "in": _signed_in_state(browser, base), "admin": _signed_in_state(browser, base, ADMIN_EMAIL)}
    # Without writing, light covers layout and dark is checked on one size (colours only).
    schemes = ("light", "dark")
    problems: list[str] = []
    written: set[str] = set()
    for who, state in states.items():
        for device, viewport in DEVICES.items():
            for scheme in schemes:
                if not WRITE and scheme == "dark" and device == "phone":
                    continue
                ctx = browser.new_context(viewport=viewport, color_scheme=scheme, storage_state=state,
                                          reduced_motion="reduce")
                page = ctx.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                for shot in shots:
                    if (who == "out" and not shot.signed_out) or (who != "out" and shot.admin != (who == "admin")):
                        continue
                    where = f"{shot.name} {who} {scheme} {device}"
                    response = page.goto(base + shot.path)
                    if shot.name == "comment-edit":  # the preview of the stored text, with its formula
                        page.locator(".comment-preview math").wait_for()
                    if response.status != shot.status:
                        problems.append(f"{where}: status {response.status}")
                    facts = page.evaluate("""() => ({
                        font: getComputedStyle(document.body).fontFamily,
                        bg: getComputedStyle(document.body).backgroundColor,
                        scroll: document.documentElement.scrollWidth,
                        width: window.innerWidth,
                        header: document.querySelector('.site-header').getBoundingClientRect().height,
                        signedIn: !!document.querySelector('.account-menu'),
                        actionTops: new Set([...document.querySelectorAll('.action-row > *')].map(el =>
                            Math.round((el.querySelector(':scope > summary') || el).getBoundingClientRect().top))).size,
                        voteOnMeta: [...document.querySelectorAll('.card')].filter(card => {
                            const vote = card.querySelector('.card-vote'), meta = card.querySelector('.card-meta');
                            if (!vote || !meta || !vote.offsetParent) return false;
                            const v = vote.getBoundingClientRect(), m = meta.getBoundingClientRect();
                            return v.top < m.bottom - 1 && v.bottom > m.top + 1 && v.left < m.right && v.right > m.left;
                        }).length,
                        whyCut: [...document.querySelectorAll('.pick .why')].filter(
                            el => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight).length,
                    })""")
                    if "system-ui" not in facts["font"]:
                        problems.append(f"{where}: unstyled (body font {facts['font']})")
                    if (facts["bg"] == LIGHT_BG) != (scheme == "light"):
                        problems.append(f"{where}: background {facts['bg']} is not the {scheme} one")
                    if facts["scroll"] > facts["width"]:
                        problems.append(f"{where}: {facts['scroll']} px wide in a {facts['width']} px window")
                    if facts["header"] >= HEADER_MAX[device]:
                        problems.append(f"{where}: header {facts['header']:.0f} px high")
                    if device == "desktop" and facts["actionTops"] > 1:  # a paper's actions: one even row
                        problems.append(f"{where}: the paper's actions are not in one row")
                    if facts["voteOnMeta"]:  # on a phone the vote joins the actions row, below the links
                        problems.append(f"{where}: {facts['voteOnMeta']} vote button(s) over the paper's links")
                    if facts["whyCut"]:  # a "Why" line says all it has to say
                        problems.append(f"{where}: {facts['whyCut']} why line(s) cut short")
                    if facts["signedIn"] != (who != "out"):
                        problems.append(f"{where}: signed-in header is {facts['signedIn']}")
                    if WRITE:
                        name = _file(shot, "out" if who == "out" else "in", scheme, device)
                        page.screenshot(path=str(SHOTS / name), type="jpeg", quality=60)
                        written.add(name)
                problems += [f"{who} {scheme} {device}: script error {e}" for e in errors]
                ctx.close()
    assert not problems, "\n".join(problems)
    if WRITE:
        _write_gallery_page(shots, written)


def _write_gallery_page(shots: list[Shot], written: set[str]) -> None:
    """docs/gallery.md: one row per page, a link per (signed in/out, scheme, device)."""
    for stale in SHOTS.glob("*.jpg"):
        if stale.name not in written:
            stale.unlink()
    combos = [(who, scheme, device) for who in ("out", "in") for scheme in ("light", "dark") for device in DEVICES]
    head = ["page"] + [f"{'signed in' if who == 'in' else 'signed out'}, {scheme}, {device}" for who, scheme, device in combos]
    lines = [
        "# Gallery",
        "",
        "Every page as `tests/web/test_gallery.py` saw it in Chromium: signed out and signed in (as an",
        "ordinary member; the admin page as an administrator), light and dark colour scheme, phone (390×844)",
        "and desktop (1366×900). Regenerate",
        "with `PAPERBOY_GALLERY=1 scripts/test tests/web/test_gallery.py -k sqlite`; the run rewrites",
        "the images and this page. A dash: the page is for members only (signed out it sends you to sign in).",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
    ]
    for shot in shots:
        path = re.sub(r"/subscriptions/[^/]+/", "/subscriptions/…/", shot.path.split("#")[0])
        first = _first_link(shot, written)
        cells = [f'<a href="{first}"><img src="{first}" width="200" alt="{shot.name}"></a><br>{shot.name} `{path}`']
        for who, scheme, device in combos:
            name = _file(shot, who, scheme, device)
            cells.append(f"[{device}](screenshots/{name})" if name in written else "–")
        lines.append("| " + " | ".join(cells) + " |")
    (DOCS / "gallery.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _first_link(shot: Shot, written: set[str]) -> str:
    for who in ("out", "in"):
        name = _file(shot, who, "light", "desktop")
        if name in written:
            return f"screenshots/{name}"
    return ""


def _inside_viewport(page, selector: str) -> bool:
    return page.locator(selector).evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.left >= 0 && r.right <= window.innerWidth; }")


def test_menus_work_by_keyboard_fit_a_phone_and_close_on_escape_or_a_click_elsewhere(gallery, browser):
    base, _ = gallery
    ctx = browser.new_context(viewport=DEVICES["phone"], storage_state=_signed_in_state(browser, base))
    page = ctx.new_page()
    page.goto(base + "/")
    menu = page.locator(".account-menu")
    for _ in range(12):  # skip link, brand, the four sections, then the account menu
        page.keyboard.press("Tab")
        if menu.locator("summary").evaluate("el => el === document.activeElement"):
            break
    summary = menu.locator("summary")
    assert summary.evaluate("el => el === document.activeElement"), "the account menu is not reachable by Tab"
    assert summary.evaluate("el => getComputedStyle(el).outlineStyle") != "none"  # focus is visible
    page.keyboard.press("Enter")
    assert menu.evaluate("el => el.open")
    assert page.get_by_role("link", name="Submit a paper").is_visible()  # the bar's Submit moves into the menu
    assert menu.get_by_role("link", name="Trends").is_visible()  # and the section the bar has no room for
    assert _inside_viewport(page, ".account-menu .menu-panel")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.keyboard.press("Escape")
    assert not menu.evaluate("el => el.open")
    assert summary.evaluate("el => el === document.activeElement")

    save = page.locator(".save-menu").first
    save.locator("summary").click()
    assert save.evaluate("el => el.open") and _inside_viewport(page, ".save-menu[open] .menu-panel")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("h1").click()
    assert not save.evaluate("el => el.open")
    ctx.close()


# The header search box's prompt, against the room its box leaves for text (px).
SEARCH_ROOM = """() => {
    const box = document.getElementById('header-q');
    if (!box || box.offsetParent === null) return null;
    const style = getComputedStyle(box);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = style.font;
    return {need: Math.ceil(ctx.measureText(box.placeholder).width),
            room: box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)};
}"""


@pytest.mark.parametrize("who", ["out", "in"])
def test_the_header_search_box_shows_its_whole_prompt_wherever_the_header_has_it(gallery, browser, who):
    """Wherever the header holds a search box (desktop widths), it is wide enough to read
    what it is for ("Search papers or paste an arXiv id"), a member's name and the Submit
    link beside it or not; below that width it is left out (Search is a section)."""
    base, _ = gallery
    state = _signed_in_state(browser, base) if who == "in" else None
    ctx = browser.new_context(storage_state=state, reduced_motion="reduce")
    page = ctx.new_page()
    seen = {}
    for width in (640, 919, 920, 1000, 1024, 1099, 1100, 1280, 1366, 1920):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(base + "/")
        seen[width] = page.evaluate(SEARCH_ROOM)
    ctx.close()
    assert seen[640] is None and seen[919] is None  # a phone's or a narrow window's bar has none
    cramped = {w: s for w, s in seen.items() if s is not None and s["room"] < s["need"]}
    assert cramped == {}, seen
    assert all(seen[w] is not None for w in (1024, 1280, 1366, 1920)), seen



# WCAG 2.2 A and AA as axe-core checks them (the axe-playwright-python package bundles it).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Signed out, the pages whose markup differs from a member's most (forms, prompts to sign in).
AXE_SIGNED_OUT = {"front", "search", "paper", "signin", "signup", "not-found"}
# Shots of a template another shot checks already (a day, week and month are the front
# page's listing; the account page with its tokens; a collection's search and import
# report; For you's seeded page): axe takes 0.3-5 s a page, so each template is run once.
# A list's cards are one template: its first five are checked, not all fifty.
AXE_CONTEXT = {"exclude": [[".cards > :nth-child(n+6)"]]}
AXE_SAME_TEMPLATE = {"day", "week", "month", "account-tokens", "collections-search", "collection-imported",
                     "for-you-seeded"}


def test_every_page_passes_axe_for_wcag_aa_as_a_member_and_in_dark_keeps_its_contrast(gallery, browser):
    """axe-core's automated WCAG 2.2 AA rules (labels, names, landmarks, ARIA, contrast,
    target size...) on every page as the member sees it (the admin page as the admin), and
    on the signed-out pages that differ most; the dark scheme is checked for contrast, the
    one rule the scheme changes. axe runs ~0.3-5 s a page, so not on every combination the
    layout test visits."""
    from axe_playwright_python.sync_playwright import Axe

    base, shots = gallery
    axe = Axe()
    every_rule = {"runOnly": {"type": "tag", "values": AXE_TAGS}}
    contrast = {"runOnly": {"type": "rule", "values": ["color-contrast"]}}
    states = {"out": None, "in": _signed_in_state(browser, base), "admin": _signed_in_state(browser, base, ADMIN_EMAIL)}
    problems: list[str] = []
    for who, state in states.items():
        for scheme in ("light", "dark") if who == "in" else ("light",):
            ctx = browser.new_context(viewport=DEVICES["desktop"], color_scheme=scheme, storage_state=state,
                                      reduced_motion="reduce")
            page = ctx.new_page()
            for shot in shots:
                if (who == "out" and shot.name not in AXE_SIGNED_OUT) or (who == "in" and shot.admin) \
                        or (who == "admin" and not shot.admin) or shot.name in AXE_SAME_TEMPLATE:
                    continue
                page.goto(base + shot.path)
                found = axe.run(page, context=AXE_CONTEXT, options=every_rule if scheme == "light" else contrast).response
                for v in found["violations"]:
                    where = "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:3])
                    problems.append(f"{shot.name} {who} {scheme}: {v['id']} ({v['impact']}, {len(v['nodes'])} "
                                    f"element(s)): {v['help']}: {where}")
            ctx.close()
    assert not problems, "\n".join(problems)
