"""Tables owned by the community feature.

Accounts themselves (``users``), their sessions (``user_sessions``), ``rate_limits``,
``votes``, ``follows``, ``collections`` and their items are core tables in
``paperboy.store.models``; the counters they feed (``papers.upvotes``,
``papers.num_comments``) live on the paper row.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime, utcnow


class AccountToken(Base):
    """A single-use emailed token (password reset, magic sign-in link); stored hashed."""

    __tablename__ = "account_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))  # 'reset' | 'magic'
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Comment(Base):
    """One comment on a paper; ``parent_id`` makes threads. Deleted ones keep their place."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text, default="")  # Markdown as written
    body_html: Mapped[str] = mapped_column(Text, default="")  # rendered and sanitised
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_comments_paper_created", "paper_id", "created_at"),)


class Submission(Base):
    """A member brought a paper to the feed (history, and the daily cap counts these)."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_submissions_user_created", "user_id", "created_at"),)
