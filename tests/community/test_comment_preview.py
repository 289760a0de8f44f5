"""The comment box's live preview: the same HTML a posted comment gets, for members only,
bounded and rate-limited, storing nothing; and in Chromium it renders as one types."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from paperboy.community import markdown
from paperboy.community.models import Comment
from tests.community.conftest import PASSWORD
from tests.support.servers import serve_app_in_thread

JSON = {"Accept": "application/json"}
BODY = "**bold** and $x^2$, [a link](https://example.org) <script>window.__pwned = 1</script>"


def _comments(site) -> int:
    with site.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Comment))


def test_the_preview_is_exactly_what_the_posted_comment_shows(site):
    paper = site.paper()
    _, client = site.member()
    r = client.form("/comments/preview", {"body": BODY}, page="/", headers=JSON)
    assert r.status_code == 200
    html = r.json()["html"]
    assert "<strong>bold</strong>" in html and "<math" in html and "<msup>" in html
    assert "<script" not in html and "window.__pwned = 1" in html  # shown as text, inert
    assert _comments(site) == 0  # a preview stores nothing
    posted = client.form(f"/papers/{paper.arxiv_id}/comments", {"body": BODY}, page="/")
    assert posted.status_code == 303
    with site.engine.connect() as conn:
        assert conn.scalar(select(Comment.body_html)) == html == markdown.render(BODY)


def test_empty_text_previews_as_nothing_and_too_long_is_refused(site):
    _, client = site.member()
    assert client.form("/comments/preview", {"body": "  \n "}, page="/", headers=JSON).json() == {"html": ""}
    r = client.form("/comments/preview", {"body": "x" * (markdown.MAX_BODY + 1)}, page="/", headers=JSON)
    assert r.status_code == 400
    assert str(markdown.MAX_BODY) in r.json()["detail"]


def test_only_members_may_preview_and_only_with_the_csrf_token(site):
    anonymous = site.client()
    assert anonymous.form("/comments/preview", {"body": "hi"}, page="/", headers=JSON).status_code == 401
    _, suspended = site.member(suspended=True)
    assert suspended.form("/comments/preview", {"body": "hi"}, page="/", headers=JSON).status_code == 403
    _, member = site.member()
    r = member.post("/comments/preview", data={"body": "hi"}, headers=JSON)
    assert r.status_code == 403  # no token


def test_previews_are_rate_limited(site):
    site.app.state.rate_limits["preview"] = (2, 60)
    _, client = site.member()
    codes = [client.form("/comments/preview", {"body": "hi"}, page="/", headers=JSON).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


@pytest.mark.browser
def test_typing_a_comment_shows_its_rendered_preview(site, page):
    paper = site.paper()
    user = site.user()
    with serve_app_in_thread(site.app) as base:
        page.goto(base + "/signin")
        page.fill('input[name="email"]', user.email)
        page.fill('input[name="password"]', PASSWORD)
        page.locator('form.account-form button[type="submit"]').click()
        page.wait_for_load_state()
        page.goto(base + f"/papers/{paper.arxiv_id}")
        preview = page.locator("#new-comment .comment-preview")
        assert preview.is_hidden()  # nothing typed, nothing shown
        page.locator("#comment-body").press_sequentially("Is it **bold** that $x^2$ grows?", delay=5)
        page.wait_for_function("() => !!document.querySelector('#new-comment .comment-preview math')")
        assert preview.locator("strong").inner_text() == "bold"
        assert preview.locator("math msup").count() == 1
        assert preview.is_visible()
        # Not read out again at every pause in the typing: the preview is no live region,
        # and the one status beside it says nothing while the preview works.
        assert preview.get_attribute("aria-live") is None and preview.locator("[aria-live], [role=status]").count() == 0
        assert page.locator("#new-comment [role=status]").inner_text() == ""
        page.locator("#comment-body").fill("")
        page.wait_for_function("() => document.querySelector('#new-comment .comment-preview').hidden")
    assert _comments(site) == 0
    assert page.js_errors == []
