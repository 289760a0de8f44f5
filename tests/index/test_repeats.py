"""Background work that fails the same way every round says so once, in full, then in one
line now and then; a new failure, or one after a success, is said in full again."""

from __future__ import annotations

import logging

from paperboy.index import repeats
from paperboy.index.repeats import Repeats


def test_the_same_failure_is_said_once_in_full_then_now_and_then_in_a_line(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(repeats.time, "monotonic", lambda: clock[0])
    said = Repeats(logging.getLogger("paperboy.test.repeats"), every=600)
    broken = RuntimeError("embedder 'x' failed to start")
    with caplog.at_level(logging.ERROR, logger="paperboy.test.repeats"):
        for _ in range(30):  # 30 rounds, 5 s apart: 2.5 minutes
            said.failed("index refresh failed", broken)
            clock[0] += 5
        assert [(r.getMessage(), bool(r.exc_info)) for r in caplog.records] == [("index refresh failed", True)]
        clock[0] += 600
        said.failed("index refresh failed", broken)
        assert caplog.records[-1].getMessage() == (
            "index refresh failed again: RuntimeError: embedder 'x' failed to start (31 times in 12 min)")
        assert not caplog.records[-1].exc_info
        said.failed("index refresh failed", OSError("disk full"))  # another failure: in full
        assert caplog.records[-1].getMessage() == "index refresh failed" and caplog.records[-1].exc_info
        said.ok()
        said.failed("index refresh failed", OSError("disk full"))  # after a success: in full again
        assert len(caplog.records) == 4 and caplog.records[-1].exc_info
