"""Rising now on synthetic corpora where the answer is known: a term injected at a growing
rate is found; a flat term, a term of one paper and a word of style are not."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from paperboy.ingest.normalise import make_record
from paperboy.ingest.pipeline import upsert_batch
from paperboy.rank import rising
from paperboy.store.db import session_scope

LAST = dt.date(2025, 6, 30)
FILLER = [f"word{i}" for i in range(400)]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(n))


def synthetic_corpus(engine, seed: int = 7) -> None:
    """210 days of papers, 5 a day. "quokka routing" is in 1% of the titles six months ago,
    rising to 20% in the last month; "graph networks" is in 20% throughout; "zebrafish
    tomography" is in one recent paper; "notably" starts every recent abstract (style)."""
    rng = random.Random(seed)
    records = []
    n = 0
    for back in range(210):
        day = LAST - dt.timedelta(days=back)
        recent = back < 30
        rate = 0.2 if recent else 0.01 + 0.04 * (180 - (back - 30)) / 180
        for _ in range(5):
            n += 1
            title = _text(rng, 6)
            if rng.random() < rate:
                title += " with quokka routing"
            if rng.random() < 0.2:
                title += " for graph networks"
            abstract = ("notably " if recent else "") + _text(rng, 60)
            if recent and n % 150 == 0:
                title += " by zebrafish tomography"
            records.append(make_record(arxiv_id=f"2501.{n:05d}", title=title, abstract=abstract, authors=["A. Writer"],
                                       categories=["cs.LG"], announced_on=day, source="listing"))
    with engine.begin() as conn:
        upsert_batch(conn, records)


def test_the_growing_term_rises_and_the_flat_one_does_not(fresh_engine):
    synthetic_corpus(fresh_engine)
    result = rising.compute(fresh_engine, "month")
    assert (result.recent_from, result.recent_to) == (dt.date(2025, 6, 1), LAST)
    assert result.recent_total == 150 and result.base_total == 900
    terms = [r.term for r in result.terms]
    assert terms == ["quokka routing"], terms  # and nothing of the random filler text
    assert not {"graph networks", "graph", "networks", "quokka", "routing"} & set(terms)  # flat; or nested in the phrase
    assert not any("zebrafish" in t for t in terms)  # one paper is not a trend
    assert "notably" not in terms  # in every recent abstract but no title: a style, not a topic
    top = result.terms[0]
    assert top.recent_count >= rising.MIN_COUNT and top.llr >= rising.MIN_LLR and top.query == '"quokka routing"'


def test_stored_lists_replace_the_previous_ones(fresh_engine):
    synthetic_corpus(fresh_engine)
    assert rising.refresh(fresh_engine)["month"] >= 1
    rising.refresh(fresh_engine)  # again: replaced, not added
    with session_scope(fresh_engine) as db:
        rows = rising.stored(db, "month")
        assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0].term == "quokka routing" and rows[0].recent_total == 150
        assert rows[0].base_from == dt.date(2024, 12, 3)


def test_units_counted_in_one_pass_get_what_each_gets_counted_alone(fresh_engine):
    """The job reads the papers of all four windows once (they overlap: the week's papers
    are the month's); each unit's lists and totals are those of the unit on its own."""
    synthetic_corpus(fresh_engine)
    together = rising.compute_all(fresh_engine)
    assert set(together) == {"week", "month"}
    for unit in ("week", "month"):
        assert together[unit] == rising.compute(fresh_engine, unit)
    assert (together["week"].recent_total, together["week"].base_total) == (35, 900)
    assert together["month"].terms[0].term == "quokka routing"


def test_no_papers_no_list(fresh_engine):
    assert rising.compute(fresh_engine, "week") is None
    assert rising.refresh(fresh_engine) == {}


def test_significance_floor_on_counts_alone():
    n1, n0 = 1000, 6000
    recent = Counter({"new topic": 40, "flat topic": 100, "one paper": 1, "small rise": 4, "noise": 12})
    base = Counter({"new topic": 10, "flat topic": 600, "one paper": 0, "small rise": 0, "noise": 55})
    found = [r.term for r in rising.rising_terms(recent, n1, base, n0)]
    # "noise": 1.2% after 0.9%, G² ≈ 1: chance; "small rise" is four papers.
    assert found == ["new topic"]


def test_paper_terms_break_at_common_words_and_punctuation():
    terms = rising.paper_terms("Large Language Models for code: a survey of LLM-based agents.")
    assert {"large language models", "large language", "language models", "code", "survey", "llm-based agents"} <= terms
    assert not any(t.startswith(("for ", "a ")) or " for " in t or "models code" in t for t in terms)


def test_a_phrase_replaces_the_words_it_holds_whatever_their_order():
    recent = Counter({"routing": 30, "quokka": 30, "quokka routing": 29, "zeta": 30})
    base = Counter({"routing": 1, "quokka": 1, "quokka routing": 1, "zeta": 1})
    assert sorted(r.term for r in rising.rising_terms(recent, 500, base, 3000)) == ["quokka routing", "zeta"]
