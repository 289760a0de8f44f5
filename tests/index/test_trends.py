"""Topics counted per week and month from the keyword index, against a known corpus."""

from __future__ import annotations

import datetime as dt

import pytest

from paperboy.index.jobs import refresh_index
from paperboy.index.trends import MAX_TOPICS, TopicError, parse_topic, periods
from tests.index.conftest import set_paper


def by_label(trend, series=0, what="counts"):
    values = getattr(trend.series[series], what)
    return {label: v for label, v in zip(trend.labels, values, strict=True) if v}


def test_months_count_matches_votes_and_totals(service, corpus, settings):
    set_paper(corpus, "2402.00003", upvotes=4)
    set_paper(corpus, "2502.00008", upvotes=2)
    refresh_index(settings, corpus, progress=False)
    trend = service.trends.trend(['"graph neural networks"', "cat:cs.LG", 'author:"Yann LeCun"'], "month",
                                 dt.date(2024, 1, 1), dt.date(2025, 2, 28))
    assert trend.labels[0] == "2024-01" and trend.labels[-1] == "2025-02" and len(trend.labels) == 14
    assert by_label(trend) == {"2024-01": 2, "2024-02": 1}
    assert by_label(trend, 1) == {"2024-01": 1, "2024-02": 1, "2024-07": 1, "2025-01": 1, "2025-02": 1}
    assert by_label(trend, 2) == {"2024-03": 1, "2024-07": 1, "2025-01": 1}
    assert by_label(trend, 1, "votes") == {"2024-02": 4, "2025-02": 2}
    assert dict(zip(trend.labels, trend.totals, strict=True))["2024-01"] == 2
    assert sum(trend.totals) == 8
    assert by_label(trend, 0, "shares") == {"2024-01": 1.0, "2024-02": 1.0}


def test_hidden_papers_are_not_counted(service, corpus, settings):
    set_paper(corpus, "2401.00001", hidden=True)
    refresh_index(settings, corpus, progress=False)
    trend = service.trends.trend(['"graph neural networks"'], "month", dt.date(2024, 1, 1), dt.date(2024, 2, 28))
    assert trend.series[0].counts == [1, 1] and trend.totals == [1, 1]


def test_weeks_start_on_monday_and_default_range_ends_at_the_last_paper(service):
    trend = service.trends.trend(["cat:cs.LG"], "week")
    assert trend.periods[-1].start == dt.date(2025, 1, 27)  # the week of 2025-02-01
    assert trend.labels[-1] == "2025-W05" and len(trend.periods) == 26
    assert all(p.start.weekday() == 0 for p in trend.periods)
    assert sum(trend.series[0].counts) == 2  # 2025-01-15 and 2025-02-01 fall in those 26 weeks


def test_free_words_count_what_search_finds(service):
    trend = service.trends.trend(["message passing"], "month", dt.date(2024, 1, 1), dt.date(2025, 12, 31))
    assert trend.series[0].total == service.search("message passing", mode="keyword").total == 3


@pytest.mark.parametrize("topic", ["", "   ", "2401.00001", "the of and", "x" * 201, "word " * 60])
def test_topics_that_cannot_be_counted(topic):
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_too_many_topics_and_bad_ranges(service):
    with pytest.raises(TopicError, match="At most 5"):
        service.trends.trend(["a1"] * (MAX_TOPICS + 1), "month")
    with pytest.raises(TopicError, match="after it ends"):
        service.trends.trend(["graph"], "month", dt.date(2025, 1, 1), dt.date(2024, 1, 1))
    with pytest.raises(TopicError, match="At most 600"):
        periods("week", dt.date(2000, 1, 1), dt.date(2025, 1, 1))
    with pytest.raises(TopicError, match="not a period"):
        service.trends.trend(["graph"], "day")
