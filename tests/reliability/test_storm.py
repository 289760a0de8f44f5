"""Mixed traffic from 50 concurrent clients while a snapshot import runs, on each
backend: no 5xx, every acknowledged write stored, reads keep answering, the import
completes. (bench/storm.py runs the same storm bigger and prints its figures.)"""

from __future__ import annotations

import pytest

from tests.support.storm import run_storm


@pytest.mark.slow
def test_a_storm_of_member_and_anonymous_traffic_during_an_import(fresh_url, tmp_path, shared_data):
    result = run_storm(fresh_url, tmp_path / "storm", clients=50, rounds=3, records=4000)
    print(result.summary())
    assert result.server_errors == []
    assert result.acknowledged > 150 and result.missing == []
    readers_and_pages = result.statuses[200]
    assert readers_and_pages > 0 and len(result.get_latencies) > 100  # every GET was answered (timeouts raise)
    assert result.import_returncode == 0, result.import_output
    assert result.import_stored == result.import_records
