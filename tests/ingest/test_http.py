"""The polite client's waits, observed through its ``sleep`` hook (nothing really sleeps)."""

import pytest

from paperboy.config import load_settings
from paperboy.ingest.http import PoliteClient, SourceError

PARAMS = {"search_query": "testing", "start": "0", "max_results": "10"}


def _client(fake_arxiv, tmp_path, **overrides):
    settings = load_settings(data_dir=tmp_path, arxiv_api_url=fake_arxiv.api_url, **overrides)
    sleeps: list[float] = []
    return PoliteClient(settings, sleep=sleeps.append), sleeps


def test_requests_are_spaced_by_the_configured_delay(fake_arxiv, tmp_path):
    client, sleeps = _client(fake_arxiv, tmp_path, arxiv_delay=3.0)
    with client:
        for _ in range(3):
            client.get(fake_arxiv.api_url, PARAMS)
    # The first request goes at once; each later one waits out the rest of 3 seconds.
    assert len(sleeps) == 2 and all(2.0 < s <= 3.0 for s in sleeps)


def test_5xx_answers_are_retried_with_exponential_backoff(fake_arxiv, tmp_path):
    client, sleeps = _client(fake_arxiv, tmp_path, arxiv_delay=0, http_retries=3)
    fake_arxiv.fail_next("status", status=500, times=3)
    with client:
        assert client.get(fake_arxiv.api_url, PARAMS).status_code == 200
    assert sleeps == [0.05, 0.1, 0.2]  # base 0.05 s without a delay, doubled each time


def test_retry_after_overrides_the_backoff_and_retries_are_bounded(fake_arxiv, tmp_path, caplog):
    client, sleeps = _client(fake_arxiv, tmp_path, arxiv_delay=0, http_retries=2)
    fake_arxiv.fail_next("503", retry_after="7", times=5)
    with client, pytest.raises(SourceError, match="HTTP 503 .gave up after 3 attempts"):
        client.get(fake_arxiv.api_url, PARAMS)
    assert sleeps == [7.0, 7.0]
    assert len(fake_arxiv.requests) == 3
    # Each wait is said as it starts: minutes of retries are never silent.
    assert [r.getMessage() for r in caplog.records if r.name == "paperboy.ingest.http"] == [
        "127.0.0.1: HTTP 503; trying again in 7 s (attempt 2 of 3)",
        "127.0.0.1: HTTP 503; trying again in 7 s (attempt 3 of 3)"]


def test_a_client_error_is_not_retried(fake_arxiv, tmp_path):
    client, sleeps = _client(fake_arxiv, tmp_path, arxiv_delay=0)
    with client, pytest.raises(SourceError, match="HTTP 404"):
        client.get(fake_arxiv.api_url, {"search_query": "never recorded"})
    assert sleeps == [] and len(fake_arxiv.requests) == 1


def test_a_long_request_is_named_briefly_when_it_fails(fake_arxiv, tmp_path):
    """A worker asks arXiv for 100 wanted ids at once: its failure filled a log line with
    the whole address (~1,500 characters)."""
    client, _ = _client(fake_arxiv, tmp_path, arxiv_delay=0, http_retries=0)
    fake_arxiv.fail_next("status", status=500)
    ids = ",".join(f"2401.{i:05d}" for i in range(100))
    with client, pytest.raises(SourceError) as failed:
        client.get(fake_arxiv.api_url, {"id_list": ids, "max_results": "100"})
    message = str(failed.value)
    assert len(message) < 260 and message.startswith(f"{fake_arxiv.api_url}?id_list=2401.00000")
    assert "… (1," in message and "characters): HTTP 500 (gave up after 1 attempt)" in message
