"""When a subscription's digest is due, and which period it covers.

A period is named by a string that is part of the outbox's unique key:
``2025-01-15`` for a daily digest (weekdays only) and ``2025-W03`` for a weekly one.
A digest is due at ``send_hour`` local time on its day (weekly: on ``weekday``), in
the subscription's IANA time zone. Only the latest due period is ever queued, so a
worker that was down for three days sends one digest, not three.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAILY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WEEKLY_RE = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class DigestPeriod:
    """What one digest covers, keyed as it is sent. Not a feed period
    (``papers.queries.Period``, a calendar day, ISO week or month): a daily digest covers
    the announce days since the previous weekday (Monday's holds the weekend), a weekly one
    the seven days up to its send day."""

    key: str
    frequency: str
    first_day: dt.date  # first announce day the digest covers
    last_day: dt.date  # last announce day it covers (inclusive)


@lru_cache(maxsize=1024)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _previous_weekday(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


def daily_period(day: dt.date) -> DigestPeriod:
    """Covers the announce days after the previous weekday, up to ``day``."""
    return DigestPeriod(day.isoformat(), "daily", _previous_weekday(day) + dt.timedelta(days=1), day)


def weekly_period(day: dt.date) -> DigestPeriod:
    """The ISO week holding the send day ``day``, covering the seven days up to it."""
    year, week, _ = day.isocalendar()
    return DigestPeriod(f"{year}-W{week:02d}", "weekly", day - dt.timedelta(days=6), day)


def parse_digest_period(key: str) -> DigestPeriod:
    """``2025-01-15`` or ``2025-W03``; ValueError otherwise."""
    if DAILY_RE.match(key):
        day = dt.date.fromisoformat(key)
        if day.weekday() >= 5:
            raise ValueError(f"{key} is a weekend day; daily digests go out on weekdays")
        return daily_period(day)
    m = WEEKLY_RE.match(key)
    if m:
        return weekly_period(dt.date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1))
    raise ValueError(f"period must look like 2025-01-15 (daily) or 2025-W03 (weekly), got {key!r}")


def stored_period(key: str, content: dict | None) -> DigestPeriod:
    """The period of an outbox row: the days it was composed for when the row says them
    (a weekly digest sent on a Thursday covers Friday to Thursday, while its key names only
    the ISO week), else as the key gives them (rows written before the days were kept)."""
    days = (content or {}).get("days") or []
    if len(days) == 2 and all(days):
        try:
            first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[1])
        except ValueError:
            return parse_digest_period(key)
        return DigestPeriod(key, "weekly" if WEEKLY_RE.match(key) else "daily", first, last)
    return parse_digest_period(key)


def latest_due(frequency: str, send_hour: int, tz: str, weekday: int, now: dt.datetime) -> tuple[DigestPeriod, dt.datetime]:
    """The most recent period whose send time is at or before ``now``, and that time (UTC)."""
    local = now.astimezone(zone(tz))
    day = local.date()
    for _ in range(15):
        if frequency == "weekly":
            ok = day.weekday() == weekday
        else:
            ok = day.weekday() < 5
        if ok:
            due = dt.datetime.combine(day, dt.time(send_hour), tzinfo=zone(tz)).astimezone(dt.UTC)
            if due <= now:
                period = weekly_period(day) if frequency == "weekly" else daily_period(day)
                return period, due
        day -= dt.timedelta(days=1)
    raise AssertionError("unreachable: a due day exists within two weeks")


def next_due(frequency: str, send_hour: int, tz: str, weekday: int, now: dt.datetime) -> tuple[DigestPeriod, dt.datetime]:
    """The next period whose send time is after ``now`` (for previews and settings pages)."""
    local = now.astimezone(zone(tz))
    day = local.date()
    for _ in range(15):
        ok = day.weekday() == weekday if frequency == "weekly" else day.weekday() < 5
        if ok:
            due = dt.datetime.combine(day, dt.time(send_hour), tzinfo=zone(tz)).astimezone(dt.UTC)
            if due > now:
                return (weekly_period(day) if frequency == "weekly" else daily_period(day)), due
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable: a due day exists within two weeks")
