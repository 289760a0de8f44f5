"""Helpers for the digest tests: settings by construction, papers and subscribers."""

from __future__ import annotations

import datetime as dt
import os
from email.message import EmailMessage

import pytest

from paperboy.config import Settings
from paperboy.digest import services
from paperboy.digest.models import Subscription
from paperboy.store.db import session_scope
from tests.support.factories import make_paper

PERIOD = "2025-01-15"  # a Wednesday; the factories' papers are announced that day
DAY = dt.date(2025, 1, 15)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPERBOY = os.path.join(ROOT, ".venv", "bin", "paperboy")


def make_settings(tmp_path, **kw) -> Settings:
    base = dict(data_dir=tmp_path, secret_key="test", digest_retry_base_seconds=0.01,
                digest_retry_max_seconds=0.2, digest_max_attempts=60, mail_from="Paperboy <digest@paperboy.test>")
    base.update(kw)
    return Settings(**base)


def seed_papers(engine, n: int = 12, **fields) -> list[int]:
    ids = []
    with session_scope(engine) as db:
        for i in range(n):
            ids.append(make_paper(db, title=fields.get("title", f"Digest paper {i}"), announced_on=DAY,
                                  categories=fields.get("categories", ["cs.LG"])).id)
    return ids


def seed_subscribers(engine, settings, emails: list[str], confirmed: bool = True, **prefs) -> list[Subscription]:
    with session_scope(engine) as db:
        subs = [services.subscribe(db, settings, e, confirmed=confirmed).subscription for e in emails]
        for s in subs:
            for k, v in prefs.items():
                setattr(s, k, v)
    return subs


def by_recipient(messages: list[EmailMessage]) -> dict[str, list[EmailMessage]]:
    out: dict[str, list[EmailMessage]] = {}
    for m in messages:
        out.setdefault(str(m["To"]), []).append(m)
    return out


@pytest.fixture
def postgres_only(backend):
    if backend != "postgresql":
        pytest.skip("several workers at once is a PostgreSQL feature (SQLite has one writer)")
