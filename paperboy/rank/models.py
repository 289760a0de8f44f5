"""Tables owned by the rank package.

``rising_terms`` keeps the worker's latest "rising now" list per period kind (week,
month): the terms whose share of papers grew most against the months before, with the
counts behind each, so ``/trends`` serves it without computing anything.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime, utcnow


class RisingTerm(Base):
    __tablename__ = "rising_terms"

    unit: Mapped[str] = mapped_column(String(10), primary_key=True)  # week or month
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1 = grew most
    term: Mapped[str] = mapped_column(String(200))
    query: Mapped[str] = mapped_column(String(300))  # its search: the term as a phrase
    recent_count: Mapped[int] = mapped_column(Integer)  # papers with it in the recent window
    recent_total: Mapped[int] = mapped_column(Integer)  # papers read in that window
    base_count: Mapped[int] = mapped_column(Integer)
    base_total: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)  # lower bound of the log share ratio
    llr: Mapped[float] = mapped_column(Float)  # Dunning's log-likelihood ratio (G²)
    recent_from: Mapped[dt.date] = mapped_column(Date)
    recent_to: Mapped[dt.date] = mapped_column(Date)
    base_from: Mapped[dt.date] = mapped_column(Date)
    computed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
