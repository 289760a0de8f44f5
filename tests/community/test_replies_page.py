"""``/replies``: what others said to a member, newest first: replies to their comments
and new threads on papers they submitted, never their own words, deleted or hidden ones."""

from __future__ import annotations

import re

from sqlalchemy import insert, select, update

from paperboy.community.models import Comment, Submission
from paperboy.store.models import Paper, User
from tests.community.conftest import PASSWORD


def _comment(client, arxiv_id: str, body: str, parent: int | None = None) -> int:
    fields = {"body": body, **({"parent_id": str(parent)} if parent else {})}
    r = client.form(f"/papers/{arxiv_id}/comments", fields, page="/")
    assert r.status_code == 303, r.text[:300]
    return int(r.headers["location"].rsplit("#comment-", 1)[1])


def _said(html: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", "", x).split()) for x in re.findall(r'<div class="comment-body">(.*?)</div>', html, re.S)]


def test_replies_to_a_member_and_threads_on_their_submissions_newest_first(site):
    paper = site.paper(title="Sparse attention")
    submitted = site.paper(title="A paper Ada submitted")
    ada_user, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    with site.engine.begin() as conn:  # as /submit records a submission
        conn.execute(update(Paper).where(Paper.id == submitted.id).values(submitted_by_id=ada_user.id))
        conn.execute(insert(Submission).values(user_id=ada_user.id, paper_id=submitted.id))
    assert "No replies yet" in ada.get("/replies").text
    question = _comment(ada, paper.arxiv_id, "Ada asks a question.")
    answer = _comment(bob, paper.arxiv_id, "Bob answers.", parent=question)
    _comment(ada, paper.arxiv_id, "Ada thanks Bob.", parent=answer)  # her own words: not shown to her
    _comment(bob, paper.arxiv_id, "Bob starts a thread elsewhere.")  # not to her, not on her paper
    _comment(bob, submitted.arxiv_id, "Bob comments on Ada's submission.")
    gone = _comment(bob, paper.arxiv_id, "Bob says something and deletes it.", parent=question)
    bob.form(f"/comments/{gone}/delete", page="/")
    hidden = _comment(bob, paper.arxiv_id, "Bob says something a moderator hides.", parent=question)
    with site.engine.begin() as conn:
        conn.execute(update(Comment).where(Comment.id == hidden).values(hidden=True))
    page = ada.get("/replies").text
    assert _said(page) == ["Bob comments on Ada's submission.", "Bob answers."]
    assert "commented on your submission" in page and "replied to your comment on" in page
    assert f'href="/papers/{paper.arxiv_id}#comment-{answer}"' in page
    # Which of her comments each reply answers (a new thread on her paper answers none).
    assert page.count('class="reply-answered') == 1 and "To your comment: “Ada asks a question.”" in page
    # Bob sees Ada's reply to him, and nothing of his own.
    assert _said(bob.get("/replies").text) == ["Ada thanks Bob."]
    assert 'href="/replies"' in ada.get("/").text  # in the account menu


def test_the_page_is_for_members_and_escapes_what_it_shows(site):
    paper = site.paper(title="A <b>bold</b> title $x^2$")
    _, ada = site.member()
    _, eve = site.member(name="<script>alert(1)</script>")
    question = _comment(ada, paper.arxiv_id, "A question.")
    _comment(eve, paper.arxiv_id, "<img src=x onerror=alert(1)> and $E=mc^2$", parent=question)
    page = ada.get("/replies").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror" in page  # the text, inert
    assert "<b>bold</b>" not in page and "<math" in page
    # The excerpt of her own comment is text too, cut at a word.
    long_question = _comment(ada, paper.arxiv_id, "<b>Loud</b> " + "word " * 40)
    _comment(eve, paper.arxiv_id, "An answer.", parent=long_question)
    excerpt = re.search(r"To your comment: “([^”]*)”", ada.get("/replies").text).group(1)
    assert excerpt.startswith("&lt;b&gt;Loud&lt;/b&gt; word") and excerpt.endswith("word…")
    r = site.client().get("/replies", follow_redirects=False)
    assert r.status_code in (303, 401) and "/signin" in r.headers.get("location", "/signin")


def test_replies_are_paged(site):
    paper = site.paper()
    _, ada = site.member()
    _, bob = site.member()
    site.app.state.rate_limits["comment"] = (100, 60)
    question = _comment(ada, paper.arxiv_id, "A question.")
    for i in range(31):
        _comment(bob, paper.arxiv_id, f"Answer number {i}.", parent=question)
    first = ada.get("/replies").text
    assert len(_said(first)) == 30 and _said(first)[0] == "Answer number 30." and 'href="/replies?p=2"' in first
    assert _said(ada.get("/replies?p=2").text) == ["Answer number 0."]
    assert ada.get("/replies?p=0").status_code == 422


def test_a_reply_kept_after_its_author_deleted_their_account_still_shows_signed_deleted_member(site):
    paper = site.paper()
    _, ada = site.member(name="Ada")
    carl_user, carl = site.member()
    with site.engine.begin() as conn:  # no display name: "Member N", never the address's local part
        conn.execute(update(User).where(User.id == carl_user.id).values(display_name=""))
    question = _comment(ada, paper.arxiv_id, "A question.")
    _comment(carl, paper.arxiv_id, "Carl's answer.", parent=question)
    page = ada.get("/replies").text
    assert f'<a class="comment-author" href="/members/{carl_user.id}">Member {carl_user.id}</a>' in page
    assert carl_user.email.split("@")[0] not in page
    carl.form("/account/delete", {"password": PASSWORD, "comments": "keep"}, page="/account")
    page = ada.get("/replies").text
    assert _said(page) == ["Carl's answer."]
    assert '<span class="comment-author">deleted member</span>' in page



def _badge(html: str) -> str | None:
    """The header's count of new replies, as shown, or None without one."""
    found = re.search(r'<span class="unread-badge"[^>]*>.*?<span aria-hidden="true">([^<]+)</span>', html)
    return found.group(1) if found else None


def test_new_replies_show_as_a_badge_until_the_member_opens_replies(site):
    paper = site.paper(title="Sparse attention")
    submitted = site.paper(title="A paper Ada submitted")
    ada_user, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == submitted.id).values(submitted_by_id=ada_user.id))
        conn.execute(insert(Submission).values(user_id=ada_user.id, paper_id=submitted.id))
    question = _comment(ada, paper.arxiv_id, "Ada asks.")
    assert _badge(ada.get("/").text) is None
    answer = _comment(bob, paper.arxiv_id, "Bob answers.", parent=question)
    _comment(ada, paper.arxiv_id, "Ada answers herself.", parent=question)  # her own words: not counted
    _comment(ada, paper.arxiv_id, "Ada thanks Bob.", parent=answer)  # for Bob
    _comment(bob, submitted.arxiv_id, "Bob opens a thread on Ada's submission.")
    # On every page (cached ones too: the badge is hers, filled per response), and in the API.
    for path in ("/", f"/papers/{paper.arxiv_id}", "/account"):
        page = ada.get(path).text
        assert _badge(page) == "2", path
        assert '2 new replies' in page and '<span class="menu-count" title="2 new replies">2 new</span>' in page
    assert _badge(bob.get("/").text) == "1" and "1 new reply" in bob.get("/").text
    assert _badge(site.client().get("/").text) is None
    assert ada.get("/api/me").json()["unread_replies"] == 2
    # Opening the page marks the two newest as new, and the badge goes, on that page too.
    page = ada.get("/replies").text
    assert page.count('class="reply-item reply-new"') == 2 and _badge(page) is None
    assert _badge(ada.get("/").text) is None and ada.get("/api/me").json()["unread_replies"] == 0
    assert 'reply-new' not in ada.get("/replies").text  # seen now
    with site.engine.connect() as conn:
        assert conn.scalar(select(User.unread_replies).where(User.id == ada_user.id)) == 0


def test_a_badge_past_99_is_shortened(site):
    user, ada = site.member()
    with site.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(unread_replies=250))
    page = ada.get("/").text
    assert _badge(page) == "99+" and "250 new replies" in page


def _unread(site, user) -> int:
    with site.engine.connect() as conn:
        return conn.scalar(select(User.unread_replies).where(User.id == user.id))


def test_the_badge_counts_only_replies_still_there(site):
    """A reply its author deletes, a moderator hides (it or its paper), or whose author
    deletes their account (comments removed) no longer counts; one shown again counts again. Replies already read
    stay read whatever happens to the others."""
    paper = site.paper(title="Sparse attention")
    ada_user, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    _, carl = site.member(name="Carl")
    _, mod = site.member(name="Mod", admin=True)
    question = _comment(ada, paper.arxiv_id, "Ada asks.")
    seen = _comment(bob, paper.arxiv_id, "Bob's first answer, which Ada reads.", parent=question)
    ada.get("/replies")
    assert _badge(ada.get("/").text) is None
    second = _comment(bob, paper.arxiv_id, "Bob's second answer.", parent=question)
    hidden = _comment(bob, paper.arxiv_id, "Bob's answer a moderator hides.", parent=question)
    _comment(carl, paper.arxiv_id, "Carl's answer; Carl then leaves.", parent=question)
    assert _badge(ada.get("/").text) == "3"
    bob.form(f"/comments/{seen}/delete", page="/")  # already read: the count stays
    assert _badge(ada.get("/").text) == "3" and _unread(site, ada_user) == 3
    bob.form(f"/comments/{second}/delete", page="/")
    assert _badge(ada.get("/").text) == "2" and ada.get("/api/me").json()["unread_replies"] == 2
    assert mod.form(f"/admin/comments/{hidden}/hide", page="/admin").status_code == 303
    assert _badge(ada.get("/").text) == "1"
    assert mod.form(f"/admin/comments/{hidden}/unhide", page="/admin").status_code == 303
    assert _badge(ada.get("/").text) == "2"
    r = carl.form("/account/delete", {"password": PASSWORD, "comments": "remove"}, page="/account")
    assert r.status_code == 200 and "Your comments are removed." in r.text
    assert _badge(ada.get("/").text) == "1" and _unread(site, ada_user) == 1
    spam = site.paper(title="A paper a moderator hides")
    on_spam = _comment(ada, spam.arxiv_id, "Ada asks there too.")
    _comment(bob, spam.arxiv_id, "Bob answers there.", parent=on_spam)
    assert _badge(ada.get("/").text) == "2"
    assert mod.form(f"/admin/papers/{spam.arxiv_id}/hide", page="/admin").status_code == 303
    assert _badge(ada.get("/").text) == "1"
    assert mod.form(f"/admin/papers/{spam.arxiv_id}/unhide", page="/admin").status_code == 303
    assert _badge(ada.get("/").text) == "2"
    assert mod.form(f"/admin/papers/{spam.arxiv_id}/hide", page="/admin").status_code == 303
    page = ada.get("/replies").text  # the one left is the one marked new
    assert page.count('class="reply-item reply-new"') == 1 and _said(page)[0] == "Bob's answer a moderator hides."


def test_new_means_since_the_member_last_opened_replies(site):
    """The page marks as new what came after the member's last visit, not the newest N."""
    paper = site.paper(title="Sparse attention")
    _, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    question = _comment(ada, paper.arxiv_id, "Ada asks.")
    _comment(bob, paper.arxiv_id, "Read before.", parent=question)
    assert 'reply-new' in ada.get("/replies").text  # a first visit: everything is new
    _comment(bob, paper.arxiv_id, "Came after.", parent=question)
    page = ada.get("/replies").text
    assert page.count('class="reply-item reply-new"') == 1
    assert re.search(r'class="reply-item reply-new".*?Came after\.', page, re.S)
    assert 'reply-new' not in ada.get("/replies").text


def test_a_script_reads_the_replies_as_json_and_marks_them_read(site):
    """``GET /api/me/replies`` lists what /replies shows, with the Markdown and which are
    new, and marks nothing; ``PUT /api/me/replies/read`` clears the badge (write tokens
    and signed-in browsers only)."""
    from tests.community.test_api_tokens import make_token, script

    paper = site.paper(title="Sparse  attention")
    ada_user, ada = site.member(name="Ada")
    bob_user, bob = site.member(name="Bob")
    question = _comment(ada, paper.arxiv_id, "Ada asks.")
    old = _comment(bob, paper.arxiv_id, "Read already.", parent=question)
    ada.get("/replies")
    new = _comment(bob, paper.arxiv_id, "Try **k = 4** <script>x</script>", parent=question)
    reader, writer = make_token(ada, "reader"), make_token(ada, "writer", access="write")

    r = script(site, reader).get("/api/me/replies")
    assert r.status_code == 200
    got = r.json()
    assert [x["id"] for x in got] == [new, old] and [x["new"] for x in got] == [True, False]
    first = got[0]
    assert first["kind"] == "reply" and first["arxiv_id"] == paper.arxiv_id and first["title"] == "Sparse attention"
    assert first["author"] == "Bob" and first["author_id"] == bob_user.id
    assert first["text"] == "Try **k = 4** <script>x</script>"
    assert "<strong>k = 4</strong>" in first["html"] and "<script>" not in first["html"]
    assert first["url"].endswith(f"/papers/{paper.arxiv_id}#comment-{new}")
    assert first["in_reply_to"] == question and first["answered"] == "Ada asks."  # which of hers it answers
    assert script(site, reader).get("/api/me").json()["unread_replies"] == 1  # reading marked nothing
    # Paged as the other lists, with a Link to the next page.
    r = script(site, reader).get("/api/me/replies?limit=1")
    assert [x["id"] for x in r.json()] == [new] and 'rel="next"' in r.headers["link"]
    assert [x["id"] for x in script(site, reader).get("/api/me/replies?limit=1&p=1").json()] == [old]
    assert 'rel="next"' not in script(site, reader).get("/api/me/replies?limit=1&p=1").headers["link"]  # the last page

    # Marking needs a write token; then the badge goes, on the site too.
    assert script(site, reader).put("/api/me/replies/read").status_code == 403
    r = script(site, writer).put("/api/me/replies/read")
    assert r.status_code == 200 and r.json() == {"unread_replies": 0}
    assert _badge(ada.get("/").text) is None and _unread(site, ada_user) == 0
    assert [x["new"] for x in script(site, reader).get("/api/me/replies").json()] == [False, False]
    # A browser session marks them too (with its CSRF token), and strangers get nothing.
    _comment(bob, paper.arxiv_id, "One more.", parent=question)
    assert ada.put("/api/me/replies/read").status_code == 403  # no CSRF token: refused
    assert _unread(site, ada_user) == 1
    r = ada.put("/api/me/replies/read", headers={"X-CSRF-Token": ada.token("/")})
    assert r.status_code == 200 and _unread(site, ada_user) == 0
    assert site.client().get("/api/me/replies").status_code == 401
