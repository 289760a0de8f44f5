"""The arXiv listing day of a paper whose listing was never imported.

Papers from daily listings carry their announce day (``papers.announced_on``). A paper
fetched one by one (a member submits an id the instance had not seen) only knows when
it was submitted; its listing day follows arXiv's published schedule: submissions
received before 14:00 US Eastern on a weekday are announced at 20:00 Eastern that
evening, in the listing dated the next weekday (a Friday afternoon or weekend
submission waits for Monday's deadline and is listed on Tuesday). Holidays are not
known here, so the day is an estimate that is right on ordinary weeks.
"""

from __future__ import annotations

import datetime as dt

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    EASTERN: dt.tzinfo = ZoneInfo("America/New_York")
except (ImportError, ZoneInfoNotFoundError):  # no tz database (some Windows installs)
    EASTERN = dt.timezone(dt.timedelta(hours=-5))

DEADLINE = dt.time(14, 0)


def _next_weekday(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def listing_day(submitted_at: dt.datetime) -> dt.date:
    """The date of the arXiv listing that announces a paper submitted at ``submitted_at``."""
    if submitted_at.tzinfo is None:  # stored timestamps are UTC
        submitted_at = submitted_at.replace(tzinfo=dt.UTC)
    local = submitted_at.astimezone(EASTERN)
    deadline_day = local.date()
    if local.time() >= DEADLINE or deadline_day.weekday() >= 5:
        deadline_day = _next_weekday(deadline_day)
    return _next_weekday(deadline_day)
