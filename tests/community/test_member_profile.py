"""``/members/{id}``: a member's public side (submissions, public collections, latest
comments), reached from their name under a comment; nothing private on it."""

from __future__ import annotations

from sqlalchemy import update

from paperboy.community.models import Comment
from paperboy.store.models import Paper
from tests.community.test_replies_page import _comment


def test_a_members_page_shows_what_they_did_in_public_and_nothing_private(site):
    paper = site.paper(title="Sparse attention")
    other = site.paper(title="Protein diffusion")
    submitted = site.paper(title="A paper Ada submitted")
    ada_user, ada = site.member(email="ada.private@example.org", name="Ada")
    _, bob = site.member(name="Bob")
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == submitted.id).values(submitted_by_id=ada_user.id,
                                                                           featured_on=submitted.announced_on))
    ada.form("/collections", {"name": "Shared reading", "public": "1", "arxiv_id": paper.arxiv_id}, page="/")
    ada.form("/collections", {"name": "Secret list", "arxiv_id": other.arxiv_id}, page="/")
    ada.form(f"/papers/{other.arxiv_id}/vote", page="/")
    first = _comment(ada, paper.arxiv_id, "Ada's first comment.")
    _comment(ada, other.arxiv_id, "Ada's second comment.")
    gone = _comment(ada, paper.arxiv_id, "Ada says something and deletes it.")
    ada.form(f"/comments/{gone}/delete", page="/")
    hidden = _comment(ada, paper.arxiv_id, "Ada says something a moderator hides.")
    with site.engine.begin() as conn:
        conn.execute(update(Comment).where(Comment.id == hidden).values(hidden=True))
    _comment(bob, paper.arxiv_id, "Bob's comment.", parent=first)

    # Bob reaches Ada's page from her name under her comment.
    thread = bob.get(f"/papers/{paper.arxiv_id}").text
    assert f'<a class="comment-author" href="/members/{ada_user.id}">Ada</a>' in thread
    page = site.client().get(f"/members/{ada_user.id}")  # anyone may read it
    assert page.status_code == 200
    html = page.text
    assert "<h1" in html and "Ada" in html and '<meta name="robots" content="noindex">' in html
    assert "A paper Ada submitted" in html
    assert "Shared reading" in html and "Secret list" not in html
    assert "s second comment." in html and "s first comment." in html
    assert html.index("second comment") < html.index("first comment")  # newest first
    assert "deletes it" not in html and "moderator hides" not in html and "Bob" not in html
    assert "ada.private@example.org" not in html  # never the address, nor what they voted for
    assert "▲ 0" in html  # the submitted paper's votes; the vote on "Protein diffusion" is not a listed fact


def test_a_member_finds_their_comment_a_moderator_hid_on_their_own_page_and_nobody_else_does(site):
    paper = site.paper(title="Sparse attention")
    ada_user, ada = site.member(name="Ada")
    _, bob = site.member(name="Bob")
    _comment(ada, paper.arxiv_id, "Ada's visible comment.")
    hidden = _comment(ada, paper.arxiv_id, "Ada says something a moderator hides.")
    with site.engine.begin() as conn:
        conn.execute(update(Comment).where(Comment.id == hidden).values(hidden=True))
    assert "moderator hides" not in ada.get(f"/papers/{paper.arxiv_id}").text  # gone from the thread
    own = ada.get(f"/members/{ada_user.id}").text
    assert "Ada says something a moderator hides." in own and "hidden by a moderator" in own
    assert "Only you and the moderators see this comment now." in own
    assert own.count("hidden by a moderator") == 1  # the visible comment is not flagged
    for viewer in (bob, site.client()):
        html = viewer.get(f"/members/{ada_user.id}").text
        assert "Ada's visible comment." in html
        assert "moderator hides" not in html and "hidden by a moderator" not in html


def test_unknown_and_deleted_members_are_404_and_hostile_names_are_escaped(site):
    assert site.client().get("/members/999").status_code == 404
    assert site.client().get("/members/2147483648").status_code == 404
    user, eve = site.member(name="<script>alert(1)</script>")
    html = site.client().get(f"/members/{user.id}").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    eve.form("/account/delete", {"password": "correct horse battery staple", "comments": "keep"}, page="/account")
    assert site.client().get(f"/members/{user.id}").status_code == 404


def test_an_avatar_shows_the_names_first_letter_or_digit():
    from paperboy.web.slots import initial

    assert [initial(n) for n in ("Ada", "“ada”", "(Ada)", "<Ada>", "42 Lab", "¿?", "")] == ["A", "A", "A", "A", "4", "?", "?"]
