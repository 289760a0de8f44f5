"""The sparkline of a topic's trend that search, author and category pages show, linking
to ``/trends`` for that topic (the foundation draws it so those pages need not know the
trends feature; the counts are the index's, ``index/trends.py``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup

from paperboy.index.trends import TopicError, TrendCounter
from paperboy.web.charts import percent, sparkline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpark:
    svg: Markup
    url: str  # /trends for the topic
    text: str  # the trend in words (also the sparkline's accessible name)


def topic_spark(counter: TrendCounter, topic: str, unit: str = "month") -> TopicSpark | None:
    """The share of each of the last 24 months' papers matching ``topic``, or None when the
    topic has nothing to count or fewer than two months of papers are indexed."""
    try:
        trend = counter.trend([topic], unit)
    except TopicError:
        return None
    except Exception:  # a sparkline never breaks the page it sits on
        log.exception("sparkline failed for %r", topic[:200])
        return None
    if len(trend.periods) < 2:
        return None
    series = trend.series[0]
    shares = series.shares
    text = (f"Share of papers matching {series.topic} per {unit}, {trend.labels[0]} to {trend.labels[-1]}: "
            f"{percent(shares[0])} then {percent(shares[-1])}, at most {percent(max(shares))}")
    url = "/trends?" + urlencode({"q": series.topic, "unit": unit})
    return TopicSpark(sparkline(shares, label=text), url, text)
