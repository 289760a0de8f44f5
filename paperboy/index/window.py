"""Incremental reads by a time stamp, without reading the same rows again each time.

The keyword index follows ``papers.modified_at`` and the vector file follows
``paper_embeddings.embedded_at``. A writer takes its stamp before it commits, so a row
can become visible after a refresh that already saw later stamps; each refresh therefore
looks ``slack`` back before its watermark. Reading that whole window every time re-read
every row stamped in the last two minutes before the newest one, on every round, for
ever: after a bulk import of 2.6M papers that was ~780k papers re-indexed every 30 s by
every web node (docs/scale.md).

So the state also keeps, for each stamp in the window, how many rows were read with it.
A writer's rows share its stamp and become visible together (one transaction), so a
stamp whose count in the store is no higher than the count read was read whole (fewer:
rows stamped again since, which are read under their new stamp). A refresh first counts
the window's rows per stamp (an index range scan), then reads only rows stamped after
the watermark and those of window stamps that gained rows (a late commit). A stamp
shared by two writers by chance (same microsecond) gains rows, so it is read again.
Once a refresh has counted the store ``slack`` after the watermark, the window is closed
(every row stamped in it had committed by then) and idle refreshes scan nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.engine import Connection

# More late stamps than this in one window: read the whole window instead (one range
# condition rather than a long IN list; it only happens after a burst of late commits).
MAX_LATE_STAMPS = 500


@dataclass
class Window:
    """A refresh's watermark and the rows it read per stamp within ``slack`` of it."""

    watermark: dt.datetime | None = None
    counts: dict[dt.datetime, int] = field(default_factory=dict)
    # When the last whole refresh counted the store: rows stamped ``slack`` before that
    # had all committed then, so they were counted and read; none can come later.
    checked_at: dt.datetime | None = None
    _checking: dt.datetime | None = None

    @classmethod
    def from_state(cls, state: dict) -> Window:
        def when(value: str | None) -> dt.datetime | None:
            return dt.datetime.fromisoformat(value) if value else None

        counts = {dt.datetime.fromisoformat(k): int(v) for k, v in (state.get("window") or {}).items()}
        return cls(when(state.get("watermark")), counts, when(state.get("checked_at")))

    def to_state(self, state: dict) -> dict:
        state["watermark"] = self.watermark.isoformat() if self.watermark else None
        state["window"] = {k.isoformat(): n for k, n in sorted(self.counts.items())}
        state["checked_at"] = self.checked_at.isoformat() if self.checked_at else None
        return state

    def to_read(self, conn: Connection, stamp: ColumnElement, where: ColumnElement | bool, slack: dt.timedelta,
                ) -> tuple[ColumnElement | bool | None, int | None]:
        """The condition selecting what is left to read (``where`` already applied by the
        caller), or ``None`` when nothing is: everything if there is no watermark yet; and
        how many rows it selects, from the count per stamp (``None`` when not counted)."""
        self._checking = dt.datetime.now(dt.UTC)
        if self.watermark is None:
            return True, None
        # An idle node's window closes: once the last check is ``slack`` past the
        # watermark, only rows stamped after it are looked for (an empty range scan).
        since = max(self.watermark, self.checked_at or self.watermark) - slack
        in_store = conn.execute(
            select(stamp, func.count()).where(and_(where, stamp >= since)).group_by(stamp)
        ).all()
        late, rows = [], 0
        for t, n in in_store:
            seen = self.counts.get(t, 0)
            if t > self.watermark:
                rows += n
            elif n > seen:
                late.append(t)
                rows += n
            elif n < seen:  # rows stamped again later: read under their new stamp
                self.counts[t] = n
        if not rows:
            return None, 0
        if len(late) > MAX_LATE_STAMPS:
            return stamp >= since, sum(n for _t, n in in_store)
        after = stamp > self.watermark
        return (or_(after, stamp.in_(late)) if late else after), rows

    def advance(self, read: Counter, slack: dt.timedelta, *, done: bool = True) -> None:
        """Take in the rows just read (``read``: rows per stamp): a new watermark, and the
        window's counts (a stamp read again is counted anew). ``done``: the refresh read
        all it was to read (not a commit in the middle of one, after which a kill may
        leave the last stamp read in part)."""
        if done and self._checking is not None:
            self.checked_at = max(self._checking, self.checked_at or self._checking)
        if not read:
            return
        self.counts.update(read)
        self.watermark = max(self.watermark or max(read), max(read))
        since = self.watermark - slack
        self.counts = {t: n for t, n in self.counts.items() if t >= since}
