"""A member is mailed when someone replies to their comment, or starts a thread on a paper
they submitted, through a real SMTP server on loopback: once per comment, never about
their own, and never once they said no (on their account page, or with the one-click
link every such mail carries)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper, User
from tests.community.conftest import Site, drain_mail, make_settings


@pytest.fixture
def mail_site(fresh_engine, tmp_path, smtp_server) -> Site:
    settings = make_settings(tmp_path, mail_backend="smtp", smtp_url=smtp_server.url)
    return Site(create_app(settings, fresh_engine), fresh_engine)


def _comment(client, arxiv_id: str, body: str, parent: int | None = None) -> int:
    fields = {"body": body, **({"parent_id": str(parent)} if parent else {})}
    r = client.form(f"/papers/{arxiv_id}/comments", fields, page="/")
    assert r.status_code == 303, r.text[:300]
    return int(r.headers["location"].rsplit("#comment-", 1)[1])


def _text(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _html(message) -> str:
    return message.get_body(("html",)).get_content()


def test_the_author_of_a_comment_is_mailed_each_reply_with_a_link_to_it(mail_site, smtp_server):
    paper = mail_site.paper(title="Sparse attention  for long\ncontexts")
    ada, ada_client = mail_site.member(email="ada@example.org", name="Ada")
    _, bob = mail_site.member(email="bob@example.org", name="Bob")
    first = _comment(ada_client, paper.arxiv_id, "Does this hold for $n > 10^6$?")
    reply = _comment(bob, paper.arxiv_id, "It does: see **section 4**.\nAnd the appendix.", parent=first)
    (mail,) = smtp_server.wait_for("ada@example.org")
    assert mail["Subject"] == "Bob replied to your comment on “Sparse attention for long contexts”"
    text = _text(mail)
    assert "> It does: see **section 4**.\n> And the appendix." in text  # quoted as written
    assert f"{paper.arxiv_id}#comment-{reply}" in text
    link = re.search(r"http://\S+(/papers/\S+)", text).group(1)
    assert f'id="comment-{reply}"' in bob.get(link.split("#")[0]).text  # the anchor names the reply
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = mail.get_body(("html",)).get_content()
    assert "<strong>section 4</strong>" in html and "**" not in html  # shown as on the page, not as Markdown
    # As sent, not as Python reads it back: the address whole between < and > (the default
    # policy folded it into encoded-words, which no client reads as an address), and a
    # subject without an empty encoded-word.
    raw = {name: value for name, value in mail.raw_items()}
    assert raw["List-Unsubscribe"].startswith("<http://") and "=?" not in raw["List-Unsubscribe"]
    assert "=?utf-8?q??=" not in raw["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"  # no vacation replies to the sender
    # One paper's mails are one conversation in a mail client; the HTML reads on a phone.
    assert mail["References"] == mail["In-Reply-To"] == f"<discussion.{paper.arxiv_id}@localhost>"  # mail_from's domain
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    # Ada answering in her own thread mails Bob, not herself; Bob's own reply mailed nobody else.
    _comment(ada_client, paper.arxiv_id, "Thanks!", parent=reply)
    smtp_server.wait_for("bob@example.org")
    drain_mail(mail_site.app)
    assert len(smtp_server.to("ada@example.org")) == 1 and len(smtp_server.to("bob@example.org")) == 1
    # A comment that is not a reply, and a reply to oneself, mail nobody.
    own = _comment(bob, paper.arxiv_id, "A new thread.")
    _comment(bob, paper.arxiv_id, "Correcting myself.", parent=own)
    drain_mail(mail_site.app)
    assert len(smtp_server.messages) == 2


def test_a_reply_sent_twice_at_once_is_one_reply_and_one_mail(mail_site, smtp_server):
    """A double click on Post, or a resend: the same text again within moments is the
    comment already posted, not a copy, and its author is mailed once."""
    paper = mail_site.paper(title="Posted twice")
    _, ada_client = mail_site.member(email="ada@example.org", name="Ada")
    _, bob = mail_site.member(email="bob@example.org", name="Bob")
    first = _comment(ada_client, paper.arxiv_id, "A question.")
    reply = _comment(bob, paper.arxiv_id, "An answer.", parent=first)
    assert _comment(bob, paper.arxiv_id, "An answer.", parent=first) == reply
    smtp_server.wait_for("ada@example.org")
    drain_mail(mail_site.app)
    assert len(smtp_server.to("ada@example.org")) == 1
    assert mail_site.get_paper(paper.arxiv_id).num_comments == 2
    # Other words, or the same words in another place, are another comment.
    assert _comment(bob, paper.arxiv_id, "An answer, and more.", parent=first) != reply
    assert _comment(bob, paper.arxiv_id, "An answer.") != reply
    assert mail_site.get_paper(paper.arxiv_id).num_comments == 4


def test_the_member_who_submitted_a_paper_is_mailed_each_new_thread_on_it(mail_site, smtp_server):
    paper = mail_site.paper(title="A submitted paper")
    sue, sue_client = mail_site.member(email="sue@example.org", name="Sue")
    _, bob = mail_site.member(email="bob@example.org", name="Bob")
    with mail_site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == paper.id).values(submitted_by_id=sue.id))
    thread = _comment(bob, paper.arxiv_id, "Is the code public?")
    (mail,) = smtp_server.wait_for("sue@example.org")
    assert mail["Subject"] == "Bob commented on “A submitted paper”, which you submitted"
    text = _text(mail)
    assert "> Is the code public?" in text and f"#comment-{thread}" in text
    assert "because you submitted this paper" in text
    # A reply in that thread tells the thread's author (Bob, here himself: nobody), not
    # the submitter again; the submitter's own thread mails nobody.
    _comment(bob, paper.arxiv_id, "Found it, sorry.", parent=thread)
    _comment(sue_client, paper.arxiv_id, "Slides are up too.")
    drain_mail(mail_site.app)
    assert len(smtp_server.messages) == 1


def test_hostile_text_in_a_reply_is_escaped_in_the_mail(mail_site, smtp_server):
    paper = mail_site.paper()
    _, ada = mail_site.member(email="ada@example.org")
    _, eve = mail_site.member(email="eve@example.org", name='Eve <img src=x onerror=alert(1)>')
    first = _comment(ada, paper.arxiv_id, "A question.")
    _comment(eve, paper.arxiv_id, '<script>alert("x")</script> [click](javascript:alert(1))', parent=first)
    (mail,) = smtp_server.wait_for("ada@example.org")
    html = _html(mail)
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert '<script>alert("x")</script>' in _text(mail)  # plain text: the words as written


def _answered(site: Site, smtp_server):
    """Ada asks on a paper, Bob answers: (paper, Ada, her client, Bob's client, her
    comment's id, the path of the off link in the mail Ada got)."""
    paper = site.paper()
    ada_user, ada = site.member(email="ada@example.org")
    _, bob = site.member(email="bob@example.org")
    first = _comment(ada, paper.arxiv_id, "A question.")
    _comment(bob, paper.arxiv_id, "An answer.", parent=first)
    (mail,) = smtp_server.wait_for("ada@example.org")
    whole = re.search(r"http://\S+/account/reply-mails/off/\S+", _text(mail)).group(0)
    assert mail["List-Unsubscribe"] == f"<{whole}>"
    return paper, ada_user, ada, bob, first, "/account/" + whole.split("/account/", 1)[1]


def test_the_mails_link_turns_them_off_in_one_click_and_the_account_page_turns_them_on(mail_site, smtp_server):
    paper, ada_user, ada, bob, first, off = _answered(mail_site, smtp_server)
    reader = mail_site.client()  # a mail client or scanner: no session, no CSRF token
    page = reader.get(off)
    assert page.status_code == 200 and "No more reply mails" in page.text
    assert _reply_mails(mail_site, ada_user.id) is True  # opening the link changes nothing
    r = reader.post(off, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "will not be mailed" in r.text
    assert _reply_mails(mail_site, ada_user.id) is False
    _comment(bob, paper.arxiv_id, "Another answer.", parent=first)
    drain_mail(mail_site.app)
    assert len(smtp_server.to("ada@example.org")) == 1
    # The account page shows it off, and turns it on again.
    assert 'name="on" value="1" checked' not in ada.get("/account").text
    r = ada.form("/account/reply-mails", {"on": "1"}, page="/account")
    assert r.headers["location"] == "/account?done=reply_mails_on#mail"
    assert 'name="on" value="1" checked' in ada.get("/account").text
    _comment(bob, paper.arxiv_id, "A third answer.", parent=first)
    smtp_server.wait_for("ada@example.org", count=2)
    assert ada.form("/account/reply-mails", {}, page="/account").headers["location"].endswith("reply_mails_off#mail")
    assert _reply_mails(mail_site, ada_user.id) is False
    assert ada.form("/account/export", page="/account").json()["profile"]["reply_mails"] is False


def test_forged_or_outdated_off_links_change_nothing(mail_site, smtp_server):
    _paper, ada_user, _ada, _bob, _first, off = _answered(mail_site, smtp_server)
    reader = mail_site.client()
    assert reader.post(off[:-2] + "xx").status_code == 404
    assert reader.post("/account/reply-mails/off/not-a-token").status_code == 404
    with mail_site.engine.begin() as conn:  # Ada's address changed since the mail
        conn.execute(update(User).where(User.id == ada_user.id).values(email="ada@new.example.org"))
    assert reader.post(off).status_code == 404
    assert _reply_mails(mail_site, ada_user.id) is True


def test_suspended_unverified_and_deleted_authors_are_not_mailed(mail_site, smtp_server):
    paper = mail_site.paper()
    _, bob = mail_site.member(email="bob@example.org")
    authors = {}
    for who in ("suspended", "unverified", "deleted"):
        user, client = mail_site.member(email=f"{who}@example.org")
        authors[who] = (user, _comment(client, paper.arxiv_id, f"A comment by the {who} one."))
    with mail_site.engine.begin() as conn:
        conn.execute(update(User).where(User.id == authors["suspended"][0].id).values(is_suspended=True))
        conn.execute(update(User).where(User.id == authors["unverified"][0].id).values(email_verified_at=None))
    deleted = mail_site.client()
    deleted.sign_in("deleted@example.org")
    deleted.form("/account/delete", {"password": "correct horse battery staple", "comments": "keep"}, page="/account")
    for _user, comment in authors.values():
        _comment(bob, paper.arxiv_id, "A reply.", parent=comment)
    drain_mail(mail_site.app)
    assert smtp_server.messages == []


def _reply_mails(site: Site, user_id: int) -> bool:
    with session_scope(site.engine) as db:
        return db.scalar(select(User.reply_mails).where(User.id == user_id))
