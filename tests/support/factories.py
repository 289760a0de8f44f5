"""Factories for test objects, written through the same upsert the ingesters use."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperboy.ingest.normalise import make_record
from paperboy.ingest.pipeline import upsert_batch
from paperboy.store.models import Paper, User
from paperboy.store.namekeys import name_key

_seq = itertools.count(1)


def paper_record(**fields):
    n = next(_seq)
    defaults = dict(
        arxiv_id=f"2501.{n:05d}",
        title=f"Paper number {n}",
        abstract=f"An abstract about topic {n}.",
        authors=["Ada Lovelace", f"Author {n}"],
        categories=["cs.LG"],
        announced_on=dt.date(2025, 1, 15),
        source="listing",
    )
    defaults.update(fields)
    return make_record(**defaults)


def make_paper(db: Session, **fields) -> Paper:
    """Store one paper (flushing the session) and return it as an ORM object."""
    rec = paper_record(**fields)
    upsert_batch(db.connection(), [rec])
    return db.scalars(select(Paper).where(Paper.arxiv_id == rec.arxiv_id)).one()


def make_user(db: Session, **fields) -> User:
    n = next(_seq)
    name = fields.pop("display_name", f"User {n}")
    user = User(email=fields.pop("email", f"user{n}@example.org"), display_name=name,
                display_name_key=fields.pop("display_name_key", name_key(name) if name else None), **fields)
    db.add(user)
    db.flush()
    return user
