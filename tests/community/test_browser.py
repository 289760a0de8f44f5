"""In real Chromium: hostile content stays inert, and a member's whole first day works."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from paperboy.community import accounts
from paperboy.community.models import Comment
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Collection, CollectionItem, InterestSignal, Paper, Vote
from tests.community.conftest import PASSWORD, Site, make_settings
from tests.support.contrast import below_aa, contrast_ratios
from tests.support.fake_arxiv import FakeArxiv
from tests.support.servers import serve_app_in_thread

pytestmark = pytest.mark.browser


@pytest.fixture
def sqlite_only(fresh_engine):
    """The journeys below the first run once, on SQLite, as the other browser tests do:
    the pages are backend-independent and the writes they make are tested on both
    backends without a browser. The first journey (sign up to export) runs on both."""
    if fresh_engine.dialect.name != "sqlite":
        pytest.skip("the browser tests run once, on SQLite (the pages are backend-independent)")

PAYLOADS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "<svg onload=\"window.__pwned = 'svg'\"></svg>",
    "\"><script>window.__pwned = 'attr'</script>",
    "javascript:window.__pwned='js'",
]
MARKDOWN_TRICKS = [
    "[click me](javascript:window.__pwned='md-link')",
    "[click me](JAVASCRIPT:window.__pwned='md-upper')",
    "![img](x\" onerror=\"window.__pwned='md-img')",
    "<a href=\"javascript:window.__pwned='raw-a'\">raw</a>",
    "[x](data:text/html,<script>window.__pwned='data'</script>)",
    "$<img src=x onerror=\"window.__pwned='math'\">$",
    "$\\href{javascript:window.__pwned='href'}{x}$",
    "<details open ontoggle=\"window.__pwned='details'\">",
    "[ok](https://example.org) and <https://example.org/\" onclick=\"window.__pwned='auto'>",
]


def _watch(page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return dialogs


def _sign_in(page, base, email, password=PASSWORD):
    page.goto(base + "/signin")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', password)
    page.locator('form.account-form button[type="submit"]').click()
    page.wait_for_load_state()


def test_a_refused_sign_in_puts_the_focus_on_the_reason(sqlite_only, fresh_engine, tmp_path, page):
    """The reason is in the page as it loads (a role=alert then is not read out): the
    focus goes to it, and Tab goes on to the form."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email, password="not the password")
        reason = page.locator("main .error[role=alert]")
        expect(reason).to_be_focused()
        for field in ("Email", "Password"):  # each field says it is what was refused, and why
            box = page.get_by_label(field, exact=True)
            expect(box).to_have_attribute("aria-invalid", "true")
            expect(box).to_have_accessible_description("Wrong email or password.")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('form') !== null")
    assert page.js_errors == []


def test_hostile_comments_names_and_collections_render_inert(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    site.app.state.rate_limits["comment"] = (100, 60)
    paper = site.paper(authors=["Ada Lovelace", PAYLOADS[2]])  # a hostile author, followed below
    admin = site.user(admin=True, name=PAYLOADS[1])
    _, client = site.member(name=PAYLOADS[0])
    for body in PAYLOADS + MARKDOWN_TRICKS:
        assert client.form(f"/papers/{paper.arxiv_id}/comments", {"body": body}, page="/").status_code == 303
    for i, name in enumerate(PAYLOADS):
        client.form("/collections", {"name": f"{name} {i}", "public": "1", "arxiv_id": paper.arxiv_id}, page="/")
    with site.engine.connect() as conn:
        coll_ids = list(conn.scalars(select(Collection.id)))
    assert client.form("/follows", {"kind": "author", "target": PAYLOADS[2]}, page="/").status_code == 303
    dialogs = _watch(page)
    # Control: the detector does see a payload that runs.
    page.set_content(PAYLOADS[1])
    page.wait_for_function("() => window.__pwned === 'img'")
    page.goto("about:blank")
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, admin.email)
        urls = [f"/papers/{paper.arxiv_id}", "/admin", "/collections", "/following", "/account"]
        urls += [f"/collections/{cid}" for cid in coll_ids]
        for url in urls:
            page.goto(base + url)
            page.wait_for_load_state("load")
            # Open every reply box and menu, hover every link in comments.
            for summary in page.locator("details > summary").all()[:20]:
                summary.click()
            assert page.evaluate("window.__pwned") is None, url
        page.goto(base + f"/papers/{paper.arxiv_id}")
        hrefs = page.eval_on_selector_all(".comment-body a", "els => els.map(e => e.getAttribute('href'))")
        assert hrefs and all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), hrefs
        rels = page.eval_on_selector_all(".comment-body a", "els => els.map(e => e.rel)")
        assert all(r == "nofollow noopener" for r in rels)
        assert page.locator(".comment-body script, .comment-body img, .comment-body svg, .comment-body iframe").count() == 0
        # The payloads are shown as text, not swallowed.
        assert "window.__pwned = 'script'" in page.locator("#comments").inner_text()
        for link in page.locator(".comment-body a").all():
            link.click(modifiers=["Control"])  # opens nothing harmful; javascript: links do not exist
        assert page.evaluate("window.__pwned") is None
    assert dialogs == [] and page.js_errors == []


@pytest.mark.slow
def test_sign_up_verify_submit_vote_comment_collect_export(fresh_engine, tmp_path, page, smtp_server, shared_data):
    with FakeArxiv() as fake:
        fake.load_api_recordings(shared_data / "arxiv/api/new_api_2026_json_wrapped")
        settings = make_settings(tmp_path, mail_backend="", smtp_url=smtp_server.url, arxiv_api_url=fake.api_url,
                                 arxiv_delay=0, http_timeout=5.0)
        app = create_app(settings, fresh_engine)
        dialogs = _watch(page)
        email = "ada@example.org"
        with serve_app_in_thread(app) as base:
            page.goto(base + "/")
            page.get_by_role("link", name="Sign up").click()
            page.fill('input[name="email"]', email)
            page.fill('input[name="display_name"]', "Ada")
            page.fill('input[name="password"]', PASSWORD)
            page.locator('form.account-form button[type="submit"]').click()
            page.wait_for_load_state()
            assert "Check your inbox" in page.content()

            (mail,) = smtp_server.wait_for(email)
            text = mail.get_body(("plain",)).get_content()
            path = re.search(r"https?://[^/\s]+(/verify/\S+)", text).group(1)
            page.goto(base + path)  # in the browser that signed up: signed in, on For you
            assert "/for-you" in page.url and "your address is confirmed and you are signed in" in page.content()
            assert page.locator(".account-name").inner_text() == "Ada"

            # Submit a paper arXiv does know (served by the loopback stand-in).
            page.get_by_role("link", name="Submit").first.click()
            page.fill('input[name="arxiv"]', "https://arxiv.org/abs/1605.08386")
            page.locator("form.submit-form button").click()
            page.wait_for_url(re.compile(r"/papers/1605\.08386\?notice=submitted_listed$"))
            assert "submitted by Ada" in page.content()

            # Vote (the page's script sends it with fetch and updates the count in place).
            button = page.locator(".paper-head .vote-button")
            button.click()
            page.wait_for_function("() => document.querySelector('.paper-head .vote-count').textContent.trim() === '1'")
            assert button.get_attribute("aria-label") == "Upvote (1 vote)"

            # Comment, with math.
            page.fill("#comment-body", "Nice bound: $O(n \\log n)$, see [the code](https://example.org/code).")
            page.locator("#new-comment button").click()
            page.wait_for_load_state()
            assert page.locator(".comment-body math").count() == 1
            assert "Discussion (1)" in page.content()

            # A public collection, the paper in it, and its BibTeX.
            page.goto(base + "/collections")
            page.fill('input[name="name"]', "Reading group")
            page.check('input[name="public"]')
            page.locator('form.account-form button[type="submit"]').click()
            page.wait_for_url(re.compile(r"/collections/\d+$"))
            page.locator(".collection-settings summary").click()
            page.fill('.add-paper-form input[name="arxiv_id"]', "1605.08386")
            page.locator(".add-paper-form button").click()
            page.wait_for_load_state()
            assert page.locator(".card").count() == 1
            with page.expect_download() as info:
                page.locator("a.export-bibtex").click()
            bib = open(info.value.path(), encoding="utf-8").read()
            assert "eprint = {1605.08386}" in bib and "Stanley" in bib
    assert dialogs == [] and page.js_errors == []
    with session_scope(fresh_engine) as db:
        user = accounts.user_by_email(db, email)
        assert user.email_verified_at is not None


def test_save_and_follow_from_a_paper_then_unfollow_from_the_author_page(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Protein diffusion models", abstract="Diffusion for proteins.",
                       authors=["Ada Lovelace", "José García"], categories=["q-bio.BM"])
    site.paper(title="Protein diffusion, again", abstract="Diffusion for proteins again.", authors=["Other Person"])
    user = site.user()
    dialogs = _watch(page)
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers/{paper.arxiv_id}")
        actions = page.locator("#paper-actions")
        # Save this paper to a new collection, from the menu of the paper itself.
        actions.locator("summary", has_text="Save").click()
        actions.get_by_label("New collection name").fill("Proteins")
        actions.get_by_role("button", name="Create the collection and save “Protein diffusion models” in it").click()
        # In place: the menu stays open and says so, the page is not reloaded.
        status = actions.locator(".save-status")
        expect(status).to_have_text("Saved to “Proteins”.")
        assert page.url == base + f"/papers/{paper.arxiv_id}"
        expect(actions.locator(".save-menu > summary")).to_have_text("Saved")
        # The menu's button for the new collection is pressed: pressing it takes the paper
        # out, and pressing it again puts it back (one form, a route per button).
        menu = actions.get_by_role("form", name="Collections for “Protein diffusion models”")
        menu.get_by_role("button", name="✓ Proteins", pressed=True).click()
        expect(status).to_have_text("Removed from “Proteins”.")
        expect(actions.locator(".save-menu > summary")).to_have_text("Save")
        menu.get_by_role("button", name="+ Proteins", pressed=False).click()
        expect(status).to_have_text("Saved to “Proteins”.")
        page.reload()  # what the page says is what is stored
        expect(actions.locator(".save-menu > summary")).to_have_text("Saved")
        actions.locator("summary", has_text="Saved").click()
        expect(menu.get_by_role("button", name="✓ Proteins", pressed=True)).to_be_visible()
        actions.locator("summary", has_text="Saved").click()
        # Follow one of its authors.
        actions.locator("summary", has_text="Follow authors or categories").click()
        actions.get_by_role("button", name="Follow José García").click()
        page.wait_for_load_state()
        assert "You now follow José García" in page.locator("#paper-actions .notice").inner_text()
        # The page came back: focus is on what it says (a status there as the page loads is
        # not read out, so it is said again), not on the page a dozen Tab stops away.
        expect(page.locator("#paper-actions .notice")).to_be_focused()
        said = page.locator("body > p.visually-hidden[role=status]")
        expect(said).to_have_text(page.locator("#paper-actions .notice").inner_text())
        back = page.url.split("#")[0] + "#%E0%A4%A"  # a malformed fragment: the notice, no error
        page.goto("about:blank")
        page.goto(back)
        expect(page.locator("#paper-actions .notice")).to_be_focused()
        assert page.js_errors == []
        assert actions.get_by_role("button", name="Follow José García").get_attribute("aria-pressed") == "true"
        # The Following page lists the author and the paper.
        # the header keeps these in the account menu, which says what it is, not only a name
        expect(page.locator(".account-menu > summary")).to_have_accessible_name(re.compile(r"^Account menu: "))
        page.locator(".account-menu summary").click()
        page.get_by_role("link", name="Following").first.click()
        page.wait_for_load_state()
        assert "author: José García" in " ".join(page.locator("ul.follows").inner_text().split())
        assert "Protein diffusion models" in page.locator(".cards").inner_text()
        # Unfollow from the author's own page.
        page.locator("ul.follows").get_by_role("link", name="José García").click()
        page.wait_for_load_state()
        assert page.locator("h1").inner_text() == "José García"
        button = page.locator(".follow-row").get_by_role("button", name="Follow José García")
        assert button.get_attribute("aria-pressed") == "true"
        button.click()
        page.wait_for_load_state()
        assert "You no longer follow José García" in page.locator(".notice").inner_text()
        assert page.locator(".follow-row button").get_attribute("aria-pressed") == "false"
        page.goto(base + "/following")
        assert page.locator("ul.follows").count() == 0
        # What they saved is searchable from their collections (the other paper has the words too).
        page.goto(base + "/collections")
        box = page.get_by_label("Search your saved papers")
        box.fill("protein diffusion")
        box.press("Enter")
        page.wait_for_load_state()
        assert "1 of your saved papers matches" in page.locator("#saved-results-h").inner_text()
        assert page.locator(".saved-results .card-title").all_inner_texts() == ["Protein diffusion models"]
        assert page.get_by_label("Search your saved papers").input_value() == "protein diffusion"
    with session_scope(fresh_engine) as db:
        names = list(db.scalars(select(Collection.name)))
    assert names == ["Proteins"]
    assert dialogs == [] and page.js_errors == []


def test_a_reply_is_mailed_to_the_commenter_who_reads_it_and_stops_the_mails(sqlite_only, fresh_engine, tmp_path, page,
                                                                               smtp_server):
    settings = make_settings(tmp_path, mail_backend="smtp", smtp_url=smtp_server.url)
    site = Site(create_app(settings, fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention for long contexts")
    _, ada = site.member(email="ada@example.org", name="Ada")
    ada.form(f"/papers/{paper.arxiv_id}/comments", {"body": "Does this scale past a million tokens?"}, page="/")
    bob = site.user(email="bob@example.org", name="Bob")
    dialogs = _watch(page)
    with serve_app_in_thread(site.app) as base:
        # Bob replies from the paper's page.
        _sign_in(page, base, bob.email)
        page.goto(base + f"/papers/{paper.arxiv_id}")
        thread = page.locator(".comment", has_text="Does this scale")
        thread.locator("details.reply summary").click()
        thread.get_by_label("Reply").fill("Yes: **section 4** goes to 4M tokens.")
        thread.get_by_role("button", name="Reply").click()
        page.wait_for_load_state()
        reply_anchor = page.url.split("#", 1)[1]
        # Ada's mail names Bob and the paper, quotes the reply and links to it.
        (mail,) = smtp_server.wait_for("ada@example.org")
        assert mail["Subject"] == "Bob replied to your comment on “Sparse attention for long contexts”"
        text = mail.get_body(("plain",)).get_content()
        assert "> Yes: **section 4** goes to 4M tokens." in text
        link = re.search(r"http://\S+(/papers/\S+)", text).group(1)
        page.context.clear_cookies()
        page.goto(base + link)
        assert page.locator(f"#{reply_anchor}").inner_text().count("goes to 4M tokens") == 1
        # The mail's own link stops these mails, after a button (opening it changes nothing).
        off = re.search(r"http://\S+(/account/reply-mails/off/\S+)", text).group(1)
        page.goto(base + off)
        page.get_by_role("button", name="No more reply mails").click()
        page.wait_for_load_state()
        assert "will not be mailed about replies" in page.locator("main").inner_text()
        # Her account page shows the box unticked; she ticks it again.
        _sign_in(page, base, "ada@example.org")
        page.goto(base + "/account#mail")
        box = page.get_by_label("Mail me when someone replies to my comments or comments on papers I submitted")
        assert not box.is_checked()
        box.check()
        page.locator("#mail").get_by_role("button", name="Save").click()
        page.wait_for_load_state()
        assert page.locator("main [role=status]").inner_text() == "You will be mailed about replies to your comments and comments on papers you submitted."
        assert page.get_by_label("Mail me when someone replies to my comments or comments on papers I submitted").is_checked()
        # The header counts the reply she has not opened on /replies yet, until she does.
        page.goto(base + "/")
        assert page.locator(".account-menu .unread-badge").inner_text().endswith("1")
        page.locator(".account-menu summary").click()
        page.get_by_role("link", name="Replies 1 new").click()
        page.wait_for_load_state()
        assert "goes to 4M tokens" in page.locator(".reply-new").inner_text()
        assert page.locator(".account-menu .unread-badge").count() == 0
        page.goto(base + "/")
        assert page.locator(".account-menu .unread-badge").count() == 0
    assert dialogs == [] and page.js_errors == []


def test_a_member_makes_an_api_token_their_script_votes_with_it_and_they_revoke_it(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user = site.user()
    dialogs = _watch(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/account#tokens")
        tokens = page.locator("#tokens")
        assert "You have no tokens." in tokens.inner_text()
        tokens.get_by_label("Name").fill("Zotero sync")
        tokens.get_by_label("read and write").check()
        tokens.get_by_label("Expires").select_option("30")
        tokens.get_by_role("button", name="Make a token").click()
        page.wait_for_load_state()
        # Shown once, with a Copy button that copies exactly the token.
        token = page.locator("#new-token").inner_text()
        assert re.fullmatch(r"pb_[A-Za-z0-9_-]{40}", token)
        assert "shown only this once" in page.locator(".notice").inner_text()
        page.get_by_role("button", name="Copy").click()
        page.wait_for_function("() => document.querySelector('button[data-copy]').textContent === 'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == token
        # The member's script votes with it: no cookie, no CSRF token.
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.put(f"{base}/api/papers/{paper.arxiv_id}/vote", headers=auth)
        assert r.status_code == 200 and r.json()["voted"] is True
        page.goto(base + f"/papers/{paper.arxiv_id}")
        assert page.locator(".paper-head .vote-button").get_attribute("aria-pressed") == "true"
        # The account page lists it, used today, and revokes it.
        page.goto(base + "/account#tokens")
        row = page.locator(".token-row")
        assert "Zotero sync" in row.inner_text() and "read and write" in row.inner_text()
        assert row.locator(".token-used").inner_text() != "never"  # last used: a date
        assert token not in page.content()
        row.get_by_role("button", name="Revoke the token Zotero sync").click()
        page.wait_for_load_state()
        assert "The token is revoked" in page.locator(".notice").inner_text()
        assert page.locator(".token-row").count() == 0
        r = httpx.get(f"{base}/api/me", headers=auth)
        assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert dialogs == [] and page.js_errors == []


def test_back_after_signing_out_does_not_show_the_account_page_again(sqlite_only, fresh_engine, tmp_path, page):
    """A shared computer: the member signs out from their account page and the next
    person presses Back. The browser asks the server again (no-store) and gets the
    sign-in page, not the address and tokens from its memory."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    user = site.user(email="shared-computer@example.org")
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/account")
        assert user.email in page.content()
        page.locator(".account-menu summary").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_load_state()
        assert user.email not in page.content()
        page.go_back()
        page.wait_for_load_state()
        assert user.email not in page.content()
        assert "/signin" in page.url
    assert page.js_errors == []


def test_a_refused_password_change_low_on_the_account_page_shows_its_reason(sqlite_only, fresh_engine, tmp_path, page):
    """The password form is below the fold: the page that comes back with "That is not
    your current password" must show that line, not its top."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    user = site.user(email="forgetful@example.org")
    page.set_viewport_size({"width": 1280, "height": 700})
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/account")
        form = page.locator("form.password-form")
        form.locator("input[type=password]").nth(0).fill("not the password at all")
        for field in form.locator("input[type=password]").all()[1:]:
            field.fill("a brand new long password")
        form.get_by_role("button").click()
        page.wait_for_load_state()
        reason = page.get_by_role("alert").filter(has_text="not your current password")
        expect(reason).to_be_in_viewport()
        expect(reason).to_be_focused()
    assert page.js_errors == []


def test_a_comment_of_only_spaces_is_stopped_in_the_page_with_its_reason(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers/{paper.arxiv_id}")
        page.evaluate("window.__stayed = true")
        box = page.locator("#comment-body")
        box.fill("   \n   ")
        page.get_by_role("button", name="Post comment").click()
        assert "cannot be empty" in box.evaluate("el => el.validationMessage")
        assert page.evaluate("window.__stayed === true")  # nothing was sent
        box.fill("Now with words.")
        page.get_by_role("button", name="Post comment").dblclick()  # an impatient double click
        expect(page.locator(".comment-body").filter(has_text="Now with words.")).to_be_visible()
        page.wait_for_load_state()
        assert page.locator(".comment-body").filter(has_text="Now with words.").count() == 1
        # Back: the text posted is not left in the box to be posted again.
        page.go_back()
        page.wait_for_load_state()
        expect(page.locator("#comment-body")).to_have_value("")
    with session_scope(fresh_engine) as db:
        assert db.scalar(select(func.count()).select_from(Comment)) == 1
    assert page.js_errors == []


def test_a_comment_refused_after_signing_out_in_another_tab_is_kept_until_it_is_posted(sqlite_only, fresh_engine,
                                                                                     tmp_path, page):
    """A member writes a comment and a reply, signs out in another tab, then posts: the
    post is refused, and once signed in again the paper's page holds both texts, said to
    be kept. Posting the comment forgets its text; the reply's stays until it is sent."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user = site.user()
    _, other = site.member(name="Other Member")
    other.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A first comment to reply to."}, page="/")
    text, answer = "Does the bound hold for $n < 8$?", "Only for even n, I think."
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers/{paper.arxiv_id}")
        page.locator("#comment-body").fill(text)
        page.locator("details.reply summary").first.click()
        page.locator("details.reply textarea").first.fill(answer)
        elsewhere = page.context.new_page()  # the other tab signs out
        elsewhere.goto(base + "/account")
        elsewhere.locator(".account-menu summary").click()
        elsewhere.get_by_role("button", name="Sign out").click()
        elsewhere.close()
        page.get_by_role("button", name="Post comment").click()
        page.wait_for_load_state()
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers/{paper.arxiv_id}")
        expect(page.locator("#comment-body")).to_have_value(text)
        expect(page.locator("details.reply textarea").first).to_have_value(answer)
        assert page.locator("details.reply").first.evaluate("el => el.open")  # the kept reply is in view
        expect(page.locator(".draft-note").first).to_have_text("Your unsent text, kept in this tab.")
        page.get_by_role("button", name="Post comment").click()
        expect(page.locator(".comment-body").filter(has_text="Does the bound hold")).to_be_visible()
        page.goto(base + f"/papers/{paper.arxiv_id}")
        expect(page.locator("#comment-body")).to_have_value("")  # posted: forgotten
        expect(page.locator("details.reply textarea").first).to_have_value(answer)
    assert page.js_errors == []


def test_every_button_on_the_account_page_is_readable_in_light_and_dark(sqlite_only, fresh_engine, tmp_path, browser):
    """Text on a button at 4.5:1 against its own background at least (WCAG AA); the
    "Delete my account" button was orange on the primary blue (1.4:1, 1.1:1 in dark)."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    user = site.user(email="contrast@example.org")
    with serve_app_in_thread(site.app) as base:
        for scheme in ("light", "dark"):
            ctx = browser.new_context(color_scheme=scheme)
            page = ctx.new_page()
            _sign_in(page, base, user.email)
            page.goto(base + "/account")
            assert "Delete my account" in [text for text, _ in contrast_ratios(page, "main button")]
            assert below_aa(page, "main button") == [], scheme
            ctx.close()


def test_a_vote_or_not_interested_sent_with_enter_keeps_the_keyboard_focus(sqlite_only, fresh_engine, tmp_path, page):
    """Its button stays focused while the form is sent in place, so Enter again takes the
    vote back and Tab goes on to the card's next control (a disabled button lost focus
    to the page, and the next Tab started from its top)."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers?date={paper.announced_on.isoformat()}")
        card = page.locator("article.card").first

        def enter_keeps_focus(name: str, pressed: str) -> None:
            button = card.locator(f".{name}")
            page.keyboard.press("Enter")
            expect(button).to_have_attribute("aria-pressed", pressed)
            expect(button).not_to_have_attribute("aria-busy", "true")
            assert page.evaluate(f"document.activeElement.classList.contains('{name}')"), name

        card.locator(".vote-button").focus()
        enter_keeps_focus("vote-button", "true")
        enter_keeps_focus("vote-button", "false")  # the same key again: the vote taken back
        card.locator(".dismiss-button").focus()
        enter_keeps_focus("dismiss-button", "true")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('article.card') !== null")
    assert page.js_errors == []


def test_a_comment_nested_as_deep_as_allowed_stays_inside_a_phones_width(sqlite_only, fresh_engine, tmp_path, page):
    """Lists and quotes nested as deep as a comment may: the comment keeps to its box, the
    page does not scroll sideways, and every word is on the page."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user, client = site.member()
    body = "- " * 8 + "deep list end, after a long sentence that must wrap\n\n" + "> " * 16 + "deep quote end"
    assert client.form(f"/papers/{paper.arxiv_id}/comments", {"body": body}, page="/").status_code == 303
    page.set_viewport_size({"width": 390, "height": 844})
    with serve_app_in_thread(site.app) as base:
        page.goto(base + f"/papers/{paper.arxiv_id}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        comment = page.locator(".comment-body").first
        box = comment.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        expect(comment.get_by_text("deep quote end")).to_be_attached()
        expect(comment.get_by_text("deep list end", exact=False)).to_be_attached()
    assert page.js_errors == []


@pytest.mark.parametrize("width", [390, 1366])
def test_one_long_word_typed_by_a_member_wraps_instead_of_widening_the_page(sqlite_only, fresh_engine, tmp_path, page, width):
    """A collection named with one 100-letter word (the longest name allowed) in every
    card's Save menu, and an error quoting a 300-letter name on the Following page: each
    wraps in its box, and the page stays as wide as the window."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    user = site.user()
    page.set_viewport_size({"width": width, "height": 844})

    def page_width() -> int:
        return page.evaluate("document.documentElement.scrollWidth")

    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/collections")
        page.get_by_label("Name").fill("L" * 100)
        page.get_by_role("button", name="Create collection").click()
        page.wait_for_load_state()
        page.goto(base + f"/papers?date={paper.announced_on.isoformat()}")
        page.locator("article.card details.save-menu > summary").first.click()
        panel = page.locator("article.card details.save-menu .menu-panel").first
        expect(panel).to_be_visible()
        box = panel.bounding_box()
        assert box["x"] + box["width"] <= width, box
        assert page_width() <= width
        page.goto(base + "/following")
        page.get_by_label("Category or author").fill("N" * 300)
        page.get_by_role("button", name="Follow").click()
        page.wait_for_load_state()
        expect(page.get_by_role("alert")).to_contain_text("is not an arXiv category")
        assert page_width() <= width
    assert page.js_errors == []


def test_a_member_goes_down_the_day_by_keyboard(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    first = site.paper(title="Sparse attention at scale")
    site.paper(title="Protein diffusion")
    site.paper(title="Graph transformers")
    user = site.user()
    dialogs = _watch(page)
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers?date={first.announced_on.isoformat()}")
        page.evaluate("window.__stayed = true")  # gone if anything reloads the page
        cards = page.locator("article.card")
        titles = [cards.nth(i).locator(".card-title").inner_text() for i in range(cards.count())]

        def reached() -> str:
            return page.locator("article.card.card-current .card-title").inner_text()

        page.keyboard.press("j")
        assert reached() == titles[0]
        assert page.evaluate("document.activeElement.closest('.card-title') !== null")  # focus follows
        page.keyboard.press("j")
        page.keyboard.press("j")
        page.keyboard.press("j")  # past the last: stays there
        assert reached() == titles[2]
        page.keyboard.press("k")
        assert reached() == titles[1]
        card = page.locator("article.card.card-current")
        # v votes in place, and again takes it back; x marks it not interested.
        page.keyboard.press("v")
        vote = card.locator(".vote-button")
        expect(vote).to_have_attribute("aria-pressed", "true")
        assert card.locator(".vote-count").inner_text() == "1"
        page.keyboard.press("v")
        expect(vote).to_have_attribute("aria-pressed", "false")
        page.keyboard.press("x")
        expect(card.locator(".dismiss-button")).to_have_attribute("aria-pressed", "true")
        # s opens the card's save menu; Escape closes it.
        page.keyboard.press("s")
        assert card.locator("details.save-menu").get_attribute("open") is not None
        # the focus is in the open menu, on something visible that can be used
        assert page.evaluate("""() => { const el = document.activeElement;
            return !!el.closest('details.save-menu[open] .menu-panel') && el.type !== 'hidden'
                   && el.getBoundingClientRect().height > 0; }""")
        page.keyboard.press("Escape")
        assert card.locator("details.save-menu").get_attribute("open") is None
        # Tabbing out of an open menu closes it: left open, it covered the next card's
        # controls, so the one focused beneath it could not be seen.
        page.keyboard.press("s")
        menu = card.locator("details.save-menu")
        for _ in range(40):
            page.keyboard.press("Tab")
            if not page.evaluate("() => !!document.activeElement.closest('details.save-menu')"):
                break
        assert menu.get_attribute("open") is None
        # Typing in the search box types; the keys do nothing there.
        page.locator(".header-search input[type=search]").first.fill("")
        page.locator(".header-search input[type=search]").first.type("jk")
        assert page.locator(".header-search input[type=search]").first.input_value() == "jk"
        assert reached() == titles[1]
        # ? lists the keys, in a dialog Escape closes; the footer's button opens it too.
        # (a click on the heading leaves the box; main's corner may be scrolled out of view)
        page.locator("main h1").first.click()
        page.keyboard.press("?")
        help_box = page.locator("dialog.keys-help")
        assert help_box.is_visible() and "next paper" in help_box.inner_text()
        page.keyboard.press("Escape")
        assert not help_box.is_visible()
        page.get_by_role("button", name="Keyboard shortcuts").click()
        assert help_box.is_visible()
        help_box.get_by_role("button", name="Close").click()
        # / goes to the search box, its text selected to be typed over.
        page.locator("main h1").first.click()
        page.keyboard.press("/")
        assert page.evaluate("document.activeElement.id") == "header-q"
        assert page.locator("#header-q").input_value() == "jk"  # nothing typed by the key itself
        page.locator("main h1").first.click()
        # The single keys can be turned off (WCAG 2.1.4), and stay off on the next page.
        page.get_by_role("button", name="Keyboard shortcuts").click()
        help_box.get_by_role("checkbox", name="Use these single-key shortcuts").uncheck()
        help_box.get_by_role("button", name="Close").click()
        page.reload()
        page.locator("main h1").first.click()
        page.keyboard.press("j")
        assert page.locator("article.card.card-current").count() == 0  # nothing reached
        page.get_by_role("button", name="Keyboard shortcuts").click()
        help_box.get_by_role("checkbox", name="Use these single-key shortcuts").check()
        help_box.get_by_role("button", name="Close").click()
        page.evaluate("window.__stayed = true")
        page.locator("main h1").first.click()
        # A screen reader hears each card's buttons with the paper they are for.
        for i in range(cards.count()):
            said = page.evaluate("""card => [...card.querySelectorAll('.vote-button, .dismiss-button')].map(
                b => document.getElementById(b.getAttribute('aria-describedby'))?.innerText)""",
                cards.nth(i).element_handle())
            assert said == [titles[i], titles[i]]
        assert page.evaluate("window.__stayed === true")
        # o opens the paper reached (the page was reloaded: j starts from the first card).
        for _ in range(3):
            page.keyboard.press("j")
        assert reached() == titles[2]
        page.keyboard.press("o")
        page.wait_for_load_state()
        assert page.locator("h1.paper-title").inner_text() == titles[2]
    with session_scope(fresh_engine) as db:  # stored: the vote taken back, the dismissal kept
        assert db.scalar(select(func.count()).select_from(Vote)) == 0
        dismissed = db.scalars(select(Paper.title).join(InterestSignal, InterestSignal.paper_id == Paper.id)
                               .where(InterestSignal.kind == "not_interested")).all()
    assert dismissed == [titles[1]]
    assert dialogs == [] and page.js_errors == []


def test_saving_from_a_long_day_keeps_the_members_place_and_says_where_it_went(sqlite_only, fresh_engine, tmp_path,
                                                                              page):
    """Saving from a feed, search or For you is done in place, as a vote is: the member
    does not lose their place on a long day, and the menu says what happened."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    papers = [site.paper(title=f"Paper number {i}") for i in range(12)]
    user = site.user()
    dialogs = _watch(page)
    page.set_viewport_size({"width": 1280, "height": 600})
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + f"/papers?date={papers[0].announced_on.isoformat()}")
        page.evaluate("window.__stayed = true")  # gone if anything reloads the page
        card = page.locator("article.card").nth(8)
        card.scroll_into_view_if_needed()
        title = card.locator(".card-title").inner_text()
        at = page.evaluate("window.scrollY")
        assert at > 0
        card.locator(".save-menu > summary").click()
        card.get_by_label("New collection name").fill("To read")
        card.get_by_role("button", name=f"Create the collection and save “{title}” in it").click()
        expect(card.locator(".save-status")).to_have_text("Saved to “To read”.")
        expect(card.locator(".save-menu > summary")).to_have_text("Saved")
        assert card.locator(".save-menu > summary").get_attribute("aria-label") == f"Saved: {title}"
        # A second new collection joins the list under the first, both pressed.
        card.get_by_label("New collection name").fill("Reading group")
        card.get_by_role("button", name=f"Create the collection and save “{title}” in it").click()
        expect(card.locator(".save-status")).to_have_text("Saved to “Reading group”.")
        pressed = card.get_by_role("form", name=f"Collections for “{title}”").get_by_role("button", pressed=True)
        expect(pressed).to_have_text(["✓ To read", "✓ Reading group"])
        # Another card's menu: the collections are there (after a reload), unpressed.
        assert page.evaluate("window.__stayed") is True and page.evaluate("window.scrollY") == at
        page.reload()
        other = page.locator("article.card").nth(9)
        other.locator(".save-menu > summary").click()
        other.get_by_role("button", name="+ To read", pressed=False).click()
        expect(other.locator(".save-status")).to_have_text("Saved to “To read”.")
    with session_scope(fresh_engine) as db:
        saved = {(c, a) for c, a in db.execute(
            select(Collection.name, Paper.title).join(CollectionItem, CollectionItem.collection_id == Collection.id)
            .join(Paper, Paper.id == CollectionItem.paper_id))}
    other_title = saved - {("To read", title), ("Reading group", title)}
    assert len(saved) == 3 and {name for name, _ in other_title} == {"To read"}
    assert page.js_errors == [] and dialogs == []


def test_a_member_imports_a_zotero_bibtex_file_into_a_collection(sqlite_only, fresh_engine, tmp_path, page, shared_data):
    """Papers the instance has are saved at once; one it lacks is fetched from arXiv by the
    worker, and a journal entry without an arXiv id is found there by its title: both are
    there when the member reloads, and the entry arXiv has no paper for is said."""
    from paperboy.store.claims import Heartbeat
    from paperboy.worker.wanted import serve_batch

    with FakeArxiv() as fake:
        fake.load_api_recordings(shared_data / "arxiv/api/new_api_2026_json_wrapped")
        settings = make_settings(tmp_path, arxiv_api_url=fake.api_url, arxiv_delay=0, http_timeout=5.0)
        site = Site(create_app(settings, fresh_engine), fresh_engine)
        first = site.paper(title="Graph diffusion kernels")
        second = site.paper(title="Score matching on graphs")
        user, member = site.member()
        made = member.form("/collections", {"name": "From Zotero", "arxiv_id": first.arxiv_id}, page="/")
        path = made.headers["location"].split("?")[0]
        bib = tmp_path / "My Library.bib"
        bib.write_text("@article{a, title={Score matching on graphs}, eprint={ID}, archivePrefix={arXiv}}\n"
                       "@article{b, title={A journal paper arXiv never saw}, journal={Nature}}\n"
                       "@misc{c, title={Elsewhere}, url={https://arxiv.org/abs/1605.08386}}\n"
                       "@inproceedings{d, title={Proceedings of Workshop {AEW10}: Concepts in Information Theory and "
                       "Communications}, author={Immink, Kees A. Schouhamer and Baggen, Stan}, booktitle={AEW10}}\n"
                       .replace("ID", second.arxiv_id))
        dialogs = _watch(page)
        with serve_app_in_thread(site.app) as base:
            _sign_in(page, base, user.email)
            page.goto(base + path)
            page.locator("summary", has_text="Import papers").click()
            page.get_by_label("or a BibTeX file").set_input_files(str(bib))
            page.get_by_role("button", name="Import into From Zotero").click()
            page.wait_for_load_state()
            report = " ".join(page.locator(".import-report").inner_text().split())
            assert "Added 1 paper to “From Zotero”." in report
            assert "1 is not on this instance yet: it is being fetched from arXiv" in report
            assert "2 BibTeX entries name no arXiv id: their titles are being looked up on arXiv" in report
            waiting = page.locator(".waiting-papers").inner_text()
            assert "Fetching 1 paper from arXiv" in waiting and "Looking up 2 BibTeX entries" in waiting
            assert sorted(page.locator(".card-title").all_inner_texts()) == ["Graph diffusion kernels",
                                                                             "Score matching on graphs"]
            # The form led to the page (post/redirect/get): a reload shows the same outcome
            # and sends nothing (sent again, it would say "Added 0 papers").
            assert "?imported=" in page.url
            page.reload()
            assert "Added 1 paper to “From Zotero”." in page.locator(".import-report").inner_text()
            beat = Heartbeat(site.engine, "worker", 60)  # what the instance's worker does within a minute
            try:
                assert serve_batch(settings, beat).saved == 1  # the arXiv id
                assert serve_batch(settings, beat).saved == 1  # then the titles
            finally:
                beat.stop()
            page.get_by_role("link", name="See what has arrived").click()
            assert page.url == base + path
            waiting = " ".join(page.locator(".waiting-papers").inner_text().split())
            assert "Fetching" not in waiting and "Looking up" not in waiting
            assert ("Not found on arXiv by title (a journal or proceedings paper without an arXiv version, or titled "
                    "differently there): A journal paper arXiv never saw (arXiv has no paper with this title)") in waiting
            assert sorted(page.locator(".card-title").all_inner_texts()) == [
                "Graph diffusion kernels", "Heat-bath random walks with Markov bases",
                "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications",
                "Score matching on graphs"]
        assert dialogs == [] and page.js_errors == []


def test_seeding_for_you_from_search_results_keeps_the_members_place(sqlite_only, fresh_engine, tmp_path, page):
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    papers = [site.paper(title=f"Speech recognition method {i}", abstract=f"Spoken audio, method {i}.")
              for i in range(12)]
    user = site.user()
    page.set_viewport_size({"width": 1280, "height": 600})
    with serve_app_in_thread(site.app) as base:
        _sign_in(page, base, user.email)
        page.goto(base + "/search?q=speech+recognition")
        page.evaluate("window.__stayed = true")  # gone if anything reloads the page
        card = page.locator("article.card").nth(9)
        card.scroll_into_view_if_needed()
        at = page.evaluate("window.scrollY")
        arxiv_id = card.get_attribute("data-arxiv-id")
        under = card.locator("xpath=following-sibling::*[1]")  # the form under the card
        seed = under.get_by_role("button", name="+ Seed For you")
        # Which paper it seeds is said, as on the card's own buttons (20 alike on a page)
        expect(seed).to_have_accessible_description(card.locator(".card-title").inner_text())
        seed.focus()
        page.keyboard.press("Enter")
        done = card.locator("xpath=following-sibling::*[1]")
        expect(done).to_have_text("✓ Seeds your For you feed")
        assert done.get_attribute("role") == "status"
        expect(done).to_be_focused()  # focus stays there, not thrown back to the page
        assert page.evaluate("window.__stayed") is True and page.evaluate("window.scrollY") == at
    with session_scope(fresh_engine) as db:
        seeded = list(db.scalars(select(Paper.arxiv_id).join(InterestSignal, InterestSignal.paper_id == Paper.id)
                                 .where(InterestSignal.user_id == user.id, InterestSignal.kind == "seed")))
    assert seeded == [arxiv_id] and arxiv_id in {p.arxiv_id for p in papers}
    assert page.js_errors == []


def test_a_long_display_name_wraps_instead_of_widening_a_phone_page(sqlite_only, fresh_engine, tmp_path, browser):
    """Display names run to 100 characters, without a space if a member likes: a thread,
    the replies page and their member page wrap the name rather than scroll sideways."""
    site = Site(create_app(make_settings(tmp_path), fresh_engine), fresh_engine)
    paper = site.paper(title="Sparse attention at scale")
    long_name = "Averyveryverylongdisplaynamewithoutanyspaces" * 2
    author, author_client = site.member(name=long_name)
    reader, reader_client = site.member(name="Reader")
    first = reader_client.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A question."}, page="/")
    first_id = int(first.headers["location"].rsplit("#comment-", 1)[1])
    author_client.form(f"/papers/{paper.arxiv_id}/comments", {"body": "An answer.", "parent_id": str(first_id)},
                       page="/")
    with serve_app_in_thread(site.app) as base:
        ctx = browser.new_context(viewport={"width": 360, "height": 780}, has_touch=True)
        page = ctx.new_page()
        _sign_in(page, base, reader.email)
        for path in (f"/papers/{paper.arxiv_id}", "/replies", f"/members/{author.id}"):
            page.goto(base + path)
            assert long_name in page.content(), path
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 360, (path, wide)
        ctx.close()
