"""The ``jobs`` table: one row per job and slot, claimed by one worker at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime, utcnow


class Job(Base):
    """One scheduled run of a job (ingest, index, digest) in one slot, claimed by one worker."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    slot: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="due")  # due | running | done | failed
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("name", "slot", name="uq_jobs_name_slot"),
        Index("ix_jobs_state_due", "state", "due_at"),
    )
