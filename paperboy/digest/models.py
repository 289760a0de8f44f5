"""Tables owned by the digest feature: subscriptions and the outbox (the job table is the worker's).

- ``subscriptions``: one per address; ``token`` is a random id that signed links carry
  (rotating it revokes every link). ``status`` is pending (not confirmed), active,
  paused (``paused_reason`` says why) or unsubscribed.
- ``digest_outbox``: one row per (subscription, period), unique, written *before*
  anything is sent. Its ``state`` goes queued → claimed → sending → sent (or
  skipped/failed); ``lease_until`` lets another worker take over a row whose worker died.
- ``jobs``: one row per (job name, schedule slot), claimed by one worker.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime, utcnow


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    # Changed on every new confirmation request, cleared on confirmation: a link works once.
    confirm_nonce: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    paused_reason: Mapped[str | None] = mapped_column(Text)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    frequency: Mapped[str] = mapped_column(String(10), default="daily")  # daily (weekdays) | weekly
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # weekly: 0 = Monday
    send_hour: Mapped[int] = mapped_column(Integer, default=7)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    top_n: Mapped[int] = mapped_column(Integer, default=10)
    categories: Mapped[str] = mapped_column(Text, default="")  # space-separated
    include_follows: Mapped[bool] = mapped_column(Boolean, default=True)
    alerts: Mapped[list] = mapped_column(JSON, default=list)  # saved search queries
    skip_empty: Mapped[bool] = mapped_column(Boolean, default=True)
    bounces: Mapped[int] = mapped_column(Integer, default=0)  # failed digests in a row

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_subscriptions_status", "status"),)

    @property
    def category_list(self) -> list[str]:
        return self.categories.split() if self.categories else []


class OutboxEntry(Base):
    __tablename__ = "digest_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(16))  # 2025-01-15 (daily) or 2025-W03 (weekly)
    message_id: Mapped[str] = mapped_column(String(255))
    # {"sections": [{"kind", "title", "ids": [paper ids]}]}: chosen once, so a resend is the same mail.
    content: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Times a row left "sending" without a recorded outcome (its worker died): possible duplicates.
    uncertain: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("subscription_id", "period", name="uq_digest_outbox_subscription_period"),
        Index("ix_digest_outbox_state_next", "state", "next_attempt_at"),
    )
