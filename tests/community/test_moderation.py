"""Moderators hide papers and comments and suspend accounts; counts and caches follow."""

from __future__ import annotations

from sqlalchemy import select

from paperboy.community.models import Comment
from paperboy.store.models import User

JSON = {"Accept": "application/json"}


def test_hide_and_unhide_a_comment_keeps_num_comments_exact(site):
    paper = site.paper()
    a = paper.arxiv_id
    _, member = site.member()
    _, admin = site.member(admin=True)
    member.form(f"/papers/{a}/comments", {"body": "rude words"}, page="/")
    member.form(f"/papers/{a}/comments", {"body": "kind words"}, page="/")
    with site.engine.connect() as conn:
        cid = conn.scalar(select(Comment.id).where(Comment.body == "rude words"))
    before = site.get_paper(a).modified_at
    assert admin.form(f"/admin/comments/{cid}/hide", page="/").status_code == 303
    assert site.get_paper(a).num_comments == 1 and site.get_paper(a).modified_at > before
    assert admin.form(f"/admin/comments/{cid}/hide", page="/").status_code == 303  # twice: no double count
    assert site.get_paper(a).num_comments == 1
    assert "rude words" not in member.get(f"/papers/{a}").text
    assert "rude words" in admin.get(f"/papers/{a}").text  # moderators still see it, marked hidden
    assert "rude words" in admin.get("/admin").text
    admin.form(f"/admin/comments/{cid}/unhide", page="/")
    assert site.get_paper(a).num_comments == 2
    # The author deletes a hidden comment: still exact.
    admin.form(f"/admin/comments/{cid}/hide", page="/")
    member.form(f"/comments/{cid}/delete", page="/")
    admin.form(f"/admin/comments/{cid}/unhide", page="/")
    assert site.get_paper(a).num_comments == 1


def test_hide_a_paper(site):
    paper = site.paper()
    _, admin = site.member(admin=True)
    _, member = site.member()
    before = site.get_paper(paper.arxiv_id).modified_at
    assert admin.form(f"/admin/papers/{paper.arxiv_id}/hide", page="/").status_code == 303
    hidden = site.get_paper(paper.arxiv_id)
    assert hidden.hidden and hidden.modified_at > before
    r = member.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": member.token("/")})
    assert r.status_code == 404
    assert member.form(f"/papers/{paper.arxiv_id}/comments", {"body": "x"}, page="/").status_code == 404
    assert paper.arxiv_id in admin.get("/admin").text
    admin.form(f"/admin/papers/{paper.arxiv_id}/unhide", page="/")
    assert not site.get_paper(paper.arxiv_id).hidden


def test_suspend_and_unsuspend_an_account(site):
    paper = site.paper()
    user, member = site.member()
    admin_user, admin = site.member(admin=True)
    done = admin.form(f"/admin/users/{user.id}/suspend", page="/admin?notice=hidden")
    assert done.status_code == 303 and "notice=suspended" in done.headers["location"]
    page = admin.get(done.headers["location"]).text
    assert "The member is suspended" in page and "The paper is hidden" not in page  # no stale notice
    r = member.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": member.token("/")})
    assert r.status_code == 403 and "suspended" in r.json()["detail"]
    assert "suspended" in member.get("/account").text
    # Every page says so under the header (the buttons would refuse without a word).
    banner = "Your account is suspended: you can read, but not vote, save, comment or submit."
    for path in ("/", f"/papers/{paper.arxiv_id}", "/search?q=anything"):
        assert banner in member.get(path).text, path
    assert banner not in admin.get("/").text and banner not in site.client().get("/").text
    # ... and the buttons that would refuse are not offered: no live vote, no save menu.
    front = member.get("/").text
    assert 'class="vote-button" aria-pressed="false" disabled' in front and "save-menu" not in front
    assert "disabled" not in site.client().get("/").text.split('class="vote-button"')[1][:40]
    assert admin.form(f"/admin/users/{admin_user.id}/suspend", page="/").status_code == 400  # not oneself
    back = admin.form(f"/admin/users/{user.id}/unsuspend", page="/")
    assert "The member can take part again." in admin.get(back.headers["location"]).text
    assert banner not in member.get("/").text
    r = member.post(f"/papers/{paper.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": member.token("/")})
    assert r.status_code == 200
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.is_suspended).where(User.id == user.id)) is False


def test_the_moderation_page_finds_accounts_by_name_and_names_hidden_comments_authors(site):
    paper = site.paper()
    author, writer = site.member(email="plain@example.org", name="Grace Hopper")
    _, admin = site.member(admin=True)
    writer.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A comment to hide."}, page="/")
    assert "plain@example.org" in admin.get("/admin?q=hopper").text
    assert "No account's address or name contains “nobody-here”." in admin.get("/admin?q=nobody-here").text
    with site.engine.connect() as conn:
        cid = conn.scalar(select(Comment.id))
    hidden = admin.form(f"/admin/comments/{cid}/hide", page="/admin", headers={"Referer": "http://testserver/admin"})
    assert hidden.headers["location"] == "/admin?notice=comment_hidden"
    page = admin.get(hidden.headers["location"]).text
    assert "The comment is hidden: only moderators see it now." in page
    assert f"#{cid} on {paper.arxiv_id}</a> by plain@example.org: A comment to hide." in page
    # From the paper's page, back at the comment: a spam wave is hidden going down the page.
    shown = admin.form(f"/admin/comments/{cid}/unhide", page="/",
                       headers={"Referer": f"http://testserver/papers/{paper.arxiv_id}"})
    assert shown.headers["location"] == f"/papers/{paper.arxiv_id}?notice=comment_shown#comment-{cid}"


def test_what_a_moderator_hid_its_author_cannot_rewrite_but_can_delete(site):
    paper, other = site.paper(), site.paper()
    _, writer = site.member()
    _, admin = site.member(admin=True)
    writer.form(f"/papers/{paper.arxiv_id}/comments", {"body": "Spam, first version."}, page="/")
    writer.form(f"/papers/{other.arxiv_id}/comments", {"body": "On a paper about to be hidden."}, page="/")
    with site.engine.connect() as conn:
        spam, on_other = conn.scalars(select(Comment.id).order_by(Comment.id)).all()
    admin.form(f"/admin/comments/{spam}/hide", page="/admin")
    admin.form(f"/admin/papers/{other.arxiv_id}/hide", page="/admin")
    assert writer.get(f"/comments/{spam}/edit").status_code == 403
    r = writer.form(f"/comments/{spam}/edit", {"body": "Innocent now."}, page="/")
    assert r.status_code == 403 and "A moderator hid this comment" in r.text
    r = writer.form(f"/comments/{on_other}/edit", {"body": "Changed."}, page="/")
    assert r.status_code == 403 and "The moderators hid this paper" in r.text
    with site.engine.connect() as conn:
        assert conn.scalars(select(Comment.body).order_by(Comment.id)).all() == [
            "Spam, first version.", "On a paper about to be hidden."]
    assert writer.form(f"/comments/{spam}/delete", page="/").status_code == 303


def test_a_spammer_is_suspended_and_every_comment_of_theirs_hidden_in_one_step(site):
    papers = [site.paper(), site.paper()]
    spammer, spam = site.member(name="Cheap Pills")
    _, reader = site.member(name="Reader")
    _, admin = site.member(admin=True)
    reader.form(f"/papers/{papers[0].arxiv_id}/comments", {"body": "A real question."}, page="/")
    for paper in papers:
        spam.form(f"/papers/{paper.arxiv_id}/comments", {"body": "BUY CHEAP PILLS http://spam.example"}, page="/")
    assert "Suspend and hide their comments" in admin.get("/admin").text
    done = admin.form(f"/admin/users/{spammer.id}/suspend", {"hide_comments": "1"}, page="/admin")
    assert "every comment of theirs is hidden" in admin.get(done.headers["location"]).text
    for paper in papers:
        assert "CHEAP PILLS" not in reader.get(f"/papers/{paper.arxiv_id}").text
    assert [site.get_paper(p.arxiv_id).num_comments for p in papers] == [1, 0]  # the counts follow
    assert "A real question." in reader.get(f"/papers/{papers[0].arxiv_id}").text  # others' stay
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.is_suspended).where(User.id == spammer.id)) is True
    # Suspended first, hidden later: the same, from the suspended account's row.
    later, spam2 = site.member(name="Later Spam")
    spam2.form(f"/papers/{papers[1].arxiv_id}/comments", {"body": "more spam"}, page="/")
    admin.form(f"/admin/users/{later.id}/suspend", page="/admin")
    assert f"/admin/users/{later.id}/hide-comments" in admin.get("/admin").text
    admin.form(f"/admin/users/{later.id}/hide-comments", page="/admin")
    assert "more spam" not in reader.get(f"/papers/{papers[1].arxiv_id}").text
    assert site.get_paper(papers[1].arxiv_id).num_comments == 0
    assert reader.form(f"/admin/users/{later.id}/hide-comments", page="/").status_code == 403  # admins only


def test_the_moderation_page_pages_through_every_account(site):
    from paperboy.community.admin_views import ACCOUNTS_PAGE

    _, admin = site.member(admin=True, email="boss@example.org")
    for i in range(ACCOUNTS_PAGE + 1):
        site.user(email=f"late{i:02d}@example.org")
    everyone = ACCOUNTS_PAGE + 2
    first = admin.get("/admin").text
    assert f"1–{ACCOUNTS_PAGE} of {everyone}" in first and "late50@example.org" in first
    assert "boss@example.org" not in first  # the oldest, on the last page
    assert 'href="/admin?q=&amp;p=1&amp;cp=0#accounts">Older →' in first and "← Newer" not in first
    last = admin.get("/admin?p=1").text
    assert f"{ACCOUNTS_PAGE + 1}–{everyone} of {everyone}" in last and "boss@example.org" in last
    assert "Older →" not in last and "← Newer" in last
    assert f"No accounts on this page ({everyone} in all)" in admin.get("/admin?p=9").text
    found = admin.get("/admin?q=late").text  # a search pages the same way, by address
    assert f"1–{ACCOUNTS_PAGE} of {ACCOUNTS_PAGE + 1}" in found and "late00@example.org" in found


def test_the_moderation_page_pages_through_every_recent_comment(site):
    import datetime as dt

    from paperboy.community.admin_views import COMMENTS_PAGE
    from paperboy.store.db import session_scope

    paper = site.paper()
    author, _ = site.member(email="chatty@example.org")
    _, admin = site.member(admin=True)
    start = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with session_scope(site.engine) as db:  # more than a page, one a minute: the oldest is "comment 000"
        db.add_all(Comment(paper_id=paper.id, user_id=author.id, body=f"comment {i:03d}", body_html="",
                           created_at=start + dt.timedelta(minutes=i)) for i in range(COMMENTS_PAGE + 5))
    first = admin.get("/admin").text
    assert f"comment {COMMENTS_PAGE + 4:03d}" in first and "comment 004" not in first
    assert 'href="/admin?q=&amp;p=0&amp;cp=1#recent-comments">Older →' in first
    older = admin.get("/admin?cp=1").text
    shown = [f"comment {i:03d}" for i in range(5) if f"comment {i:03d}" in older]
    assert shown == [f"comment {i:03d}" for i in range(5)]  # the 5 oldest, not one lost between pages
    assert f"comment {COMMENTS_PAGE + 4:03d}" not in older.split('id="recent-comments"')[1]
    assert "← Newer" in older and "Older →" not in older.split('id="recent-comments"')[1]
    assert "no comments this far back" in admin.get("/admin?cp=7").text


def test_a_comment_on_a_hidden_paper_is_not_linked_to_a_page_that_is_gone(site):
    paper = site.paper(title="Soon hidden")
    _, member = site.member()
    _, admin = site.member(admin=True)
    member.form(f"/papers/{paper.arxiv_id}/comments", {"body": "On a paper about to go."}, page="/")
    admin.form(f"/admin/papers/{paper.arxiv_id}/hide", page="/")
    page = admin.get("/admin").text
    assert f'href="/papers/{paper.arxiv_id}#comment-' not in page  # it was a link to a 404
    assert "a hidden paper: its page is gone" in page and f"https://arxiv.org/abs/{paper.arxiv_id}" in page
