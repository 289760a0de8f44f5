"""Incremental reads by a time stamp, without reading the same rows again each time.

The keyword index follows ``papers.modified_at`` and the vector file follows
``paper_embeddings.embedded_at``. A writer takes its stamp before it commits, so a row
can become visible after a refresh that already saw later stamps; each refresh therefore
looks ``slack`` back before its watermark. Reading that whole window every time re-read
every row stamped in the last two minutes before the newest one, on every round, for
ever: after a bulk import of 2.6M papers that was ~750k papers re-indexed every 30 s by
every web node (docs/scale.md).

So the state also keeps, for each stamp in the window, how many rows were read with it.
A writer's rows share its stamp and become visible together (one transaction), so a
stamp whose count in the store is no higher than the count read was read whole (fewer:
rows stamped again since, which are read under their new stamp). A refresh first counts
the window's rows per stamp (an index range scan), then reads only rows stamped after
the watermark and those of window stamps that gained rows (a late commit). A stamp
shared by two writers by chance (same microsecond) gains rows, so it is read again.
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

    @classmethod
    def from_state(cls, state: dict) -> Window:
        mark = state.get("watermark")
        counts = {dt.datetime.fromisoformat(k): int(v) for k, v in (state.get("window") or {}).items()}
        return cls(dt.datetime.fromisoformat(mark) if mark else None, counts)

    def to_state(self, state: dict) -> dict:
        state["watermark"] = self.watermark.isoformat() if self.watermark else None
        state["window"] = {k.isoformat(): n for k, n in sorted(self.counts.items())}
        return state

    def to_read(self, conn: Connection, stamp: ColumnElement, where: ColumnElement | bool, slack: dt.timedelta,
                ) -> ColumnElement | bool | None:
        """The condition selecting what is left to read (``where`` already applied by the
        caller), or ``None`` when nothing is: everything if there is no watermark yet."""
        if self.watermark is None:
            return True
        since = self.watermark - slack
        in_store = conn.execute(
            select(stamp, func.count()).where(and_(where, stamp >= since)).group_by(stamp)
        ).all()
        late = []
        for t, n in in_store:
            if t > self.watermark:
                continue
            seen = self.counts.get(t, 0)
            if n > seen:
                late.append(t)
            elif n < seen:  # rows stamped again later: read under their new stamp
                self.counts[t] = n
        newer = any(t > self.watermark for t, _n in in_store)
        if not late and not newer:
            return None
        if len(late) > MAX_LATE_STAMPS:
            return stamp >= since
        after = stamp > self.watermark
        return or_(after, stamp.in_(late)) if late else after

    def advance(self, read: Counter, slack: dt.timedelta) -> None:
        """Take in the rows just read (``read``: rows per stamp): a new watermark, and the
        window's counts (a stamp read again is counted anew)."""
        if not read:
            return
        self.counts.update(read)
        self.watermark = max(self.watermark or max(read), max(read))
        since = self.watermark - slack
        self.counts = {t: n for t, n in self.counts.items() if t >= since}
