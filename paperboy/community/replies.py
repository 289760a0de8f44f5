"""Telling a member, by mail, that someone replied to their comment, or commented on a
paper they submitted.

The mail is queued in the transaction that stores the comment (the outbox sends it once
that commits, exactly once), so a crash never sends a mail for a comment that was not
kept, nor loses one for a comment that was. Nobody is mailed about their own comment,
and nobody whose account is suspended, unverified, deleted or who turned these mails off
(``users.reply_mails``; every mail turns it off in one click, RFC 8058, as the digest's
do). The comment is quoted as the Markdown its author wrote, escaped in the HTML part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy import Integer, and_, bindparam, func, literal, or_, select, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from paperboy.community import markdown
from paperboy.community.accounts import EMAIL_TEMPLATES, commenter_name
from paperboy.community.models import Comment, Submission
from paperboy.config import Settings
from paperboy.mail.addresses import mail_domain
from paperboy.mail.render import render_email
from paperboy.papers.mathplain import plain_text
from paperboy.papers.visibility import visible
from paperboy.store.models import Paper, User, UTCDateTime
from paperboy.web.security import forget_member

QUOTE_CHARS = 2000  # the mail quotes this much of a long reply; the link shows the rest


@lru_cache(maxsize=16)
def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt="paperboy.community.reply-mails-off")


def off_link(settings: Settings, user_id: int, email: str) -> str:
    """The signed link that turns a member's reply mails off (no sign-in needed)."""
    signed = _serializer(settings.resolved_secret_key()).dumps([user_id, email])
    return f"{settings.resolved_base_url}/account/reply-mails/off/{signed}"


def member_of_off_link(settings: Settings, signed: str) -> tuple[int, str] | None:
    """(member id, address) a link of ``off_link`` names, or None if this site did not make it."""
    try:
        value = _serializer(settings.resolved_secret_key()).loads(signed)
    except BadSignature:
        return None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], int) and isinstance(value[1], str)):
        return None
    return value[0], value[1]


def set_reply_mails(conn, user_id: int, on: bool) -> None:
    conn.execute(update(User).where(User.id == user_id).values(reply_mails=on))


def tell_about_comment(app, conn: Connection, *, paper_id: int, parent_id: int | None, comment_id: int,
                       author: User, text: str) -> str | None:
    """Tell the member a new comment is for, in ``conn``'s transaction: the author of the
    comment it replies to or, for a new thread, the member who submitted the paper. Their
    unread count (the header's badge) goes up by one, and, when they take reply mails,
    a mail is queued. The address it goes to, or None when no mail is to be sent. The
    caller wakes the outbox once the transaction has committed."""
    settings = app.state.settings
    who = select(User.id, User.email, User.display_name, User.reply_mails, User.is_suspended,
                 User.email_verified_at, Paper.arxiv_id, Paper.title)
    if parent_id is not None:
        template = "reply"
        who = (who.join(Comment, Comment.user_id == User.id).join(Paper, Paper.id == Comment.paper_id)
               .where(Comment.id == parent_id))
    else:
        template = "new_comment"
        who = who.join(Paper, Paper.submitted_by_id == User.id).where(Paper.id == paper_id)
    row = conn.execute(who).first()
    if row is None or row.id == author.id:
        return None
    conn.execute(update(User).where(User.id == row.id).values(unread_replies=User.unread_replies + 1))
    forget_member(row.id)  # this process shows the badge on their next page (others within MemberCache's ttl)
    if not row.reply_mails or row.is_suspended or row.email_verified_at is None:
        return None
    quoted = text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS].rstrip() + " …"
    off = off_link(settings, row.id, row.email)
    base = settings.resolved_base_url
    # The HTML part shows the comment as its page does (emphasis, links), not its Markdown;
    # the links an arXiv mention makes are the site's own, made absolute for a mail.
    quoted_html = Markup(markdown.render(quoted).replace('href="/', f'href="{base}/'))
    root = thread_root(settings, row.arxiv_id)
    msg = render_email(EMAIL_TEMPLATES, template, {
        "site_name": settings.site_name, "name": row.display_name,
        "author": commenter_name(author.display_name, author.email, author.id), "title": " ".join(plain_text(row.title).split()),
        "quoted": quoted, "quoted_html": quoted_html, "link": f"{base}/papers/{row.arxiv_id}#comment-{comment_id}",
        "off_link": off, "account_link": f"{base}/account#mail",
    }, to=row.email, sender=settings.mail_from,
        headers={"List-Unsubscribe": f"<{off}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 # One paper's mails make one conversation in a mail client: each refers to
                 # the same root id, made from the paper (no such message is ever sent).
                 "References": root, "In-Reply-To": root})
    app.state.outbox.enqueue_in(conn, msg, template, to=row.email)
    return row.email


def thread_root(settings: Settings, arxiv_id: str) -> str:
    """The Message-ID a paper's discussion mails all refer to."""
    return f"<discussion.{arxiv_id.replace('/', '.')}@{mail_domain(settings.mail_from)}>"


def mark_replies_read(conn, user_id: int, seen_at: dt.datetime) -> None:
    """The member has seen their replies up to ``seen_at`` (when the page read them): the
    badge counts only what came after (none, unless a reply came while the page was made)."""
    conn.execute(update(User).where(User.id == user_id).values(replies_read_at=seen_at))
    recount_unread(conn, [user_id])


def told_about(conn, comment_ids: list[int]) -> set[int]:
    """The members whom these comments were said to (``tell_about_comment``'s rule): the
    author of the comment each replies to, or the submitter of the paper a new thread is on."""
    if not comment_ids:
        return set()
    parent = aliased(Comment)
    to_authors = (select(parent.user_id).join(Comment, Comment.parent_id == parent.id)
                  .where(Comment.id.in_(comment_ids), parent.user_id.is_not(None)))
    to_submitters = (select(Paper.submitted_by_id).join(Comment, Comment.paper_id == Paper.id)
                     .where(Comment.id.in_(comment_ids), Comment.parent_id.is_(None),
                            Paper.submitted_by_id.is_not(None)))
    return set(conn.scalars(union_all(to_authors, to_submitters)))


def recount_unread(conn, user_ids) -> None:
    """Count each member's badge again from what is still shown on /replies since they last
    opened it: for when a reply goes away (deleted, hidden, its author's account deleted)
    or comes back (shown again by a moderator). The member's row is locked first, so a
    reply stored meanwhile either is counted here or raises the count after this."""
    for uid in sorted(set(user_ids)):
        read_at = conn.execute(select(User.replies_read_at).where(User.id == uid).with_for_update()).first()
        if read_at is None:
            continue
        n = conn.execute(_COUNT_SINCE, {"me": uid, "since": read_at[0] or NEVER}).scalar_one()
        conn.execute(update(User).where(User.id == uid, User.unread_replies != n).values(unread_replies=n))
        forget_member(uid)


# --- the page: replies to a member and new threads on their submissions --------------

@dataclass(frozen=True)
class Reply:
    comment_id: int
    body_html: str  # sanitised when stored (community/markdown.py)
    created_at: dt.datetime
    author: str
    author_id: int | None  # None once their account is deleted
    arxiv_id: str
    title: str
    is_reply: bool  # a reply to the member's comment, else a new thread on their submission
    body: str  # the Markdown its author wrote (for the API)
    answered: str = ""  # the start of the member's comment it answers ("" for a new thread, or one deleted)
    parent_id: int | None = None  # the member's comment it answers (None for a new thread)


ANSWERED_CHARS = 100  # of the member's comment, shown above a reply to it


def _replies_statements():
    """The page's statements (how many, how many since a time, one page), built once with
    the member, the time, the page size and the offset as parameters: building them per
    request cost 5 ms of a 8 ms page."""
    me = bindparam("me")
    parent = aliased(Comment)
    replies = (select(Comment.id.label("cid"), literal(True).label("is_reply"))
               .join(parent, parent.id == Comment.parent_id).where(parent.user_id == me))
    threads = (select(Comment.id.label("cid"), literal(False).label("is_reply"))
               .join(Paper, Paper.id == Comment.paper_id)
               .where(Comment.paper_id.in_(select(Submission.paper_id).where(Submission.user_id == me)),
                      Paper.submitted_by_id == me, Comment.parent_id.is_(None)))
    said = union_all(replies, threads).subquery()
    answered = aliased(Comment)
    shown = (select(Comment.id, Comment.body_html, Comment.created_at, User.display_name, User.email, Comment.user_id,
                    Paper.arxiv_id, Paper.title, said.c.is_reply, Comment.body,
                    func.substr(answered.body, 1, ANSWERED_CHARS + 1).label("answered"), Comment.parent_id)
             .join(said, said.c.cid == Comment.id).join(Paper, Paper.id == Comment.paper_id)
             .outerjoin(User, User.id == Comment.user_id)
             .outerjoin(answered, and_(answered.id == Comment.parent_id, said.c.is_reply))
             # A deleted member's kept comment has no author (NULL), and still counts.
             .where(Comment.deleted_at.is_(None), Comment.hidden.is_(False),
                    or_(Comment.user_id.is_(None), Comment.user_id != me), visible()))
    count = select(func.count()).select_from(shown.subquery())
    since = select(func.count()).select_from(
        shown.where(Comment.created_at > bindparam("since", type_=UTCDateTime)).subquery())
    page = (shown.order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(bindparam("limit", type_=Integer)).offset(bindparam("offset", type_=Integer)))
    return count, since, page


_COUNT_REPLIES, _COUNT_SINCE, _PAGE_OF_REPLIES = _replies_statements()
NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # a member who never opened /replies has read nothing


def replies_to(conn, user_id: int, *, limit: int, offset: int = 0) -> tuple[list[Reply], int]:
    """What others said to a member, newest first: replies to their comments, and new
    threads on papers they submitted (the same as the mails tell; kept here for a member
    who turned those off, or reads later). Deleted and hidden comments and hidden papers
    are left out. Both halves are read through indexes: the member's comments and their
    children, the member's submissions and their papers' comments."""
    total = conn.execute(_COUNT_REPLIES, {"me": user_id}).scalar_one()
    rows = conn.execute(_PAGE_OF_REPLIES, {"me": user_id, "limit": limit, "offset": offset}).all()
    return [Reply(r.id, r.body_html, r.created_at, commenter_name(r.display_name, r.email, r.user_id), r.user_id, r.arxiv_id,
                  r.title, bool(r.is_reply), r.body, _excerpt(r.answered or ""),
                  r.parent_id if r.is_reply else None) for r in rows], total


def _excerpt(text: str) -> str:
    """The start of a comment, on one line, cut at a word with "…" when longer."""
    text = " ".join(text.split())
    if len(text) <= ANSWERED_CHARS:
        return text
    cut = text[:ANSWERED_CHARS].rsplit(" ", 1)[0]
    return (cut if len(cut) > ANSWERED_CHARS // 2 else text[:ANSWERED_CHARS]) + "…"
