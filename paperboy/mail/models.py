"""The mail outbox table: every message a request wants sent (account links, digest
confirmations) is a row written in the request's own transaction, then delivered by a
background deliverer, so no request ever waits for a mail server.

``state`` goes pending → sent, or failed after ``max attempts`` or a permanent refusal.
``lease_until`` marks a row a deliverer is sending; a deliverer that died leaves a lease
that runs out, and the row is sent again (at least once: SMTP has no way to ask whether
a message already arrived).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime


class OutgoingMail(Base):
    __tablename__ = "mail_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(320))
    message: Mapped[bytes] = mapped_column(LargeBinary)  # the whole message, as sent
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_mail_outbox_due", "state", "next_attempt_at"),)
