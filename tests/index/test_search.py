"""Ranking, filters, sorting, redirects, snippets and hostile input, on both backends."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from paperboy.index import jobs
from paperboy.index.embedder import HashEmbedder
from paperboy.index.jobs import refresh_index
from paperboy.index.service import SIMILAR_MIN_COVERAGE, SearchResults, SearchService
from tests.index.conftest import CORPUS, add_papers, ids, set_paper
from tests.index.test_query import HOSTILE


def test_title_match_beats_abstract_match(service):
    res = service.search("protein", mode="keyword")
    assert ids(res)[0] == "2401.00002"
    # "survey" is in one title and one abstract: the title wins
    res = service.search("graph survey", mode="keyword")
    assert ids(res)[0] == "2402.00003"


def test_field_order_title_over_abstract_over_authors(fresh_engine, settings):
    add_papers(fresh_engine, [
        ("2501.10001", "Hinton networks", "Nothing else here to see.", ["A B"], ["cs.LG"], dt.date(2025, 1, 1)),
        ("2501.10002", "Something else", "We discuss hinton networks here.", ["C D"], ["cs.LG"], dt.date(2025, 1, 1)),
        ("2501.10003", "Unrelated study", "Nothing about it.", ["Geoffrey Hinton"], ["cs.LG"], dt.date(2025, 1, 1)),
    ])
    refresh_index(settings, fresh_engine, progress=False)
    from paperboy.index.service import SearchService

    res = SearchService(settings, fresh_engine).search("hinton", mode="keyword")
    assert ids(res) == ["2501.10001", "2501.10002", "2501.10003"]


def test_phrase_must_match_exactly(service):
    res = service.search('"graph neural networks"', mode="keyword")
    assert set(ids(res)) == {"2401.00001", "2401.00002", "2402.00003"}
    res = service.search('"neural graph"', mode="keyword")
    assert ids(res) == []


def test_exclusions(service):
    res = service.search("graph neural networks -survey", mode="keyword")
    assert "2402.00003" not in ids(res) and "2401.00001" in ids(res)
    res = service.search('graph -"message passing"', mode="keyword")
    assert "2401.00001" not in ids(res) and "2401.00002" in ids(res)


def test_filters_in_query_and_as_arguments(service):
    def kw(q, **kw):
        return set(ids(service.search(q, mode="keyword", **kw)))

    assert kw("networks cat:q-bio.BM") == {"2401.00001", "2401.00002"}
    assert kw("models", category="cs.CV") == {"2407.00006"}
    assert kw('author:"Yann LeCun"') == {"2403.00004", "2407.00006", "2501.00007"}
    assert kw("models", author="yann lecun") == {"2407.00006", "2501.00007"}
    assert kw("models year:2025") == {"2501.00007"}
    assert kw("date:2024-01..2024-02") == {"2401.00001", "2401.00002", "2402.00003"}
    assert kw("networks", date_from=dt.date(2024, 1, 11), date_to="2024-02") == {"2401.00002", "2402.00003"}
    assert "2502.00008" in kw("molecules cat:cs.LG")  # a cross-listed category counts too
    # hybrid results (semantic matches included) obey the same filters
    cats = {c[0]: c[4] for c in CORPUS}
    res = service.search("models", category="cs.CV")
    assert res.hits and all("cs.CV" in cats[a] for a in ids(res))
    lecun = {c[0] for c in CORPUS if "Yann LeCun" in c[3]}
    assert set(ids(service.search("learning", author="Yann LeCun"))) <= lecun


def test_filters_apply_to_semantic_matches(service):
    res = service.search("robot grasping", category="cs.LG")
    assert "2406.00005" not in ids(res)
    res = service.search("robot grasping", mode="semantic")
    assert ids(res)[0] == "2406.00005"


def test_sort_by_date_and_votes_and_pagination(service, corpus):
    res = service.search("networks", sort="date", mode="keyword")
    days = [dict((c[0], c[5]) for c in CORPUS)[a] for a in ids(res)]
    assert days == sorted(days, reverse=True)
    set_paper(corpus, "2402.00003", upvotes=7)
    set_paper(corpus, "2401.00002", upvotes=3)
    refresh_index(service.settings, corpus, progress=False)
    assert ids(service.search("networks", sort="votes"))[:2] == ["2402.00003", "2401.00002"]
    full = ids(service.search("networks molecules", limit=50))
    pages = ids(service.search("networks molecules", limit=2)) + ids(service.search("networks molecules", limit=2, offset=2))
    assert pages == full[:4]
    res = service.search("networks molecules", limit=2)
    assert res.total >= len(full)


def test_hidden_papers_never_appear(service, corpus):
    assert "2401.00001" in ids(service.search("molecules"))
    set_paper(corpus, "2401.00001", hidden=True)
    # even before the index knows, results are checked against the database
    assert "2401.00001" not in ids(service.search("molecules"))
    refresh_index(service.settings, corpus, progress=False)
    for query in ("molecules", "graph", 'author:"Alice Smith"', "2401.00001", "cat:cs.LG"):
        assert "2401.00001" not in ids(service.search(query))
    assert all(h.arxiv_id != "2401.00001" for h in service.similar("2502.00008"))
    assert service.similar("2401.00001") == []


def test_arxiv_id_and_url_redirect(service):
    for q in ("2403.00004", "arXiv:2403.00004v2", "https://arxiv.org/abs/2403.00004"):
        res = service.search(q)
        assert res.redirect_arxiv_id == "2403.00004"
        assert ids(res) == ["2403.00004"]
        assert res.messages
    res = service.search("2499.99999")
    assert res.redirect_arxiv_id is None and res.hits == [] and "not in this instance" in res.messages[0]


def test_snippets_are_safe_html_with_marks(corpus, settings):
    add_papers(corpus, [("2509.00009", "<script>alert('x')</script> Attention & masks",
                         'We show <img src=x onerror=alert(1)> that "attention" masks matter.',
                         ["Mallory <b>Evil</b>"], ["cs.LG"], dt.date(2025, 9, 1))])
    refresh_index(settings, corpus, progress=False)
    from paperboy.index.service import SearchService

    hit = SearchService(settings, corpus).search("attention masks").hits[0]
    assert hit.arxiv_id == "2509.00009"
    for html in (hit.snippet, hit.title_html):
        assert "<script" not in html and "<img" not in html
        assert html.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    assert "&lt;script&gt;" in hit.title_html
    assert "<mark>Attention</mark>" in hit.title_html
    assert "<mark>masks</mark>" in hit.snippet and "&lt;img" in hit.snippet


def test_a_snippet_keeps_each_formula_whole_and_unmarked():
    from paperboy.index.snippets import highlight

    formula = r"$\mathcal{O}(n \log n)$"
    # the window (280 characters) would end at the space inside the formula: it takes the formula whole
    cut = highlight("word " * 53 + formula + " and more words" * 20, set(), window=280)
    assert cut.endswith(f"word {formula} …")
    # the window with the match would start inside a formula: it starts at the formula
    long = r"$\mathcal{O}(n \log n + m \log m + k^{2} + q^{3})$"
    cut = highlight("y " * 30 + long + " sparse " + "z " * 200, {"spars"}, window=60)
    assert cut.startswith(f"… {long} <mark>sparse</mark>")
    # a matched word inside math is not marked (the page renders the formula)
    marked = highlight(r"We define $\text{attention}(q)$ and attention.", {"attent"})
    assert marked == r"We define $\text{attention}(q)$ and <mark>attention</mark>."


def test_hostile_queries_give_results_or_a_message(service):
    for text in [*HOSTILE, None, 12345, b"bytes"]:
        for mode in ("hybrid", "keyword", "semantic"):
            res = service.search(text, mode=mode)
            assert isinstance(res, SearchResults), text
            assert res.error is None or res.messages, text


def test_bad_arguments_are_reported(service):
    res = service.search("networks", sort="random", limit=-5, offset=-1, date_from="junk")
    assert res.hits and any("sort" in m for m in res.messages) and any("date_from" in m for m in res.messages)
    assert service.search("networks", limit=10**9).hits
    assert service.search("").error


def test_similar_papers(service):
    sims = service.similar("2401.00001", limit=3)
    assert sims and all(h.arxiv_id != "2401.00001" for h in sims)
    assert sims[0].arxiv_id == "2502.00008"  # same topic, shared words
    assert service.similar("https://arxiv.org/abs/2401.00001v1", limit=3)[0].arxiv_id == "2502.00008"
    assert service.similar("9999.99999") == []
    assert service.similar("'; DROP TABLE papers") == []


def test_hybrid_reports_semantic_coverage(service):
    res = service.search("graph networks")
    assert res.semantic_coverage == 1.0
    assert res.mode == "hybrid"


TWIN = ("2403.00020", "Graph neural networks for molecules and crystals",
        "We study message passing on molecular graphs and crystals and predict chemical properties.",
        ["Jo Park"], ["cs.LG"], dt.date(2024, 3, 2))
LATER = [("2508.00030", "Sparse attention for long documents", "Attention over long documents made sparse.",
          ["Kim Lo"], ["cs.CL"], dt.date(2025, 8, 1)),
         ("2508.00031", "Weather forecasting with neural operators", "Operators learn the weather.",
          ["Lu Ma"], ["physics.ao-ph"], dt.date(2025, 8, 2))]


def test_similar_papers_use_words_until_most_papers_have_vectors(service, corpus, settings):
    """The twin of 2401.00001 has no vector: only the keyword more-like-this can find it."""
    emb = HashEmbedder()
    add_papers(corpus, [TWIN])
    jobs.refresh_keyword(settings, corpus)
    assert service.search("graph").semantic_coverage == round(8 / 9, 4) < SIMILAR_MIN_COVERAGE
    assert TWIN[0] in ids_of(service.similar("2401.00001", limit=3))

    # two newer papers get vectors (newest first), the twin does not: 10 of 11 is over 90%
    add_papers(corpus, LATER)
    jobs.refresh_keyword(settings, corpus)
    stop = threading.Event()
    assert jobs.embed_missing(corpus, emb, batch_size=2, on_batch=stop.set, stop=stop) == 2
    jobs.refresh_vectors(settings, corpus, emb)
    assert service.search("graph").semantic_coverage == round(10 / 11, 4) >= SIMILAR_MIN_COVERAGE
    sims = service.similar("2401.00001", limit=3)
    assert TWIN[0] not in ids_of(sims) and sims[0].arxiv_id == "2502.00008"
    assert all(h.score <= 1.0 for h in sims)  # cosines
    # ... but a paper without a vector still gets the words' neighbours (BM25 scores)
    twin_sims = service.similar(TWIN[0], limit=3)
    assert "2401.00001" in ids_of(twin_sims) and all(h.score > 1.0 for h in twin_sims)

    refresh_index(settings, corpus, progress=False)
    assert TWIN[0] in ids_of(service.similar("2401.00001", limit=3))
    assert all(h.score <= 1.0 for h in service.similar(TWIN[0], limit=3))


# A paper twelve of whose words each two other papers use, every one of those papers
# sharing two of its words: none shares a fifth of its distinctive terms.
LONER_WORDS = ["zorbat", "quillon", "marvex", "tupelo", "gandrel", "fennix",
               "brisket", "oxlip", "hazmir", "pelion", "corvid", "yarrowby"]
LONER = ("2509.00040", "A study of " + " ".join(LONER_WORDS[:6]), " ".join(LONER_WORDS[6:]) + " are measured.",
         ["Al Bo"], ["cs.DL"], dt.date(2025, 9, 1))
SHARERS = [(f"2509.{41 + j:05d}", f"Notes on {LONER_WORDS[j]} and {LONER_WORDS[(j + 1) % 12]}",
            f"Plain remarks number {j}.", ["Cy Do"], ["cs.DL"], dt.date(2025, 9, 2)) for j in range(12)]


def test_a_paper_few_share_enough_words_with_still_gets_similar_papers(service, corpus, settings):
    """Before vectors cover the corpus, similar papers are its words' neighbours; where
    none shares a fifth of its distinctive terms, those sharing two of them are shown
    rather than none."""
    add_papers(corpus, [LONER, *SHARERS])  # no vectors: the keyword neighbours answer
    jobs.refresh_keyword(settings, corpus)
    assert service.search("graph").semantic_coverage < SIMILAR_MIN_COVERAGE
    sims = ids_of(service.similar(LONER[0], limit=5))
    assert len(sims) == 5 and set(sims) <= {a for a, *_ in SHARERS}
    # a paper with close neighbours still gets those first
    assert ids_of(service.similar("2401.00001", limit=3))[0] in {"2401.00002", "2402.00003", "2502.00008"}


def ids_of(hits) -> list[str]:
    return [h.arxiv_id for h in hits]


def test_every_word_but_the_common_ones_must_match_and_the_count_is_honest(service):
    res = service.search("neural networks for molecules", mode="keyword")
    # Only these two contain "neural", "networks" and "molecules"; "for" is in many more.
    assert sorted(ids(res)) == ["2401.00001", "2502.00008"] and res.total == 2
    assert res.messages == ["Common words not searched for: for."]
    title = next(h.title_html for h in res.hits if h.arxiv_id == "2401.00001")
    assert title == "Graph neural <mark>networks</mark> for <mark>molecules</mark>".replace("neural", "<mark>neural</mark>")
    assert "<mark>for</mark>" not in " ".join(h.snippet for h in res.hits)
    # Longer queries need all but a quarter of their words: 4 words -> any 3.
    res = service.search("graph neural networks molecules", mode="keyword")
    assert sorted(ids(res)) == ["2401.00001", "2401.00002", "2402.00003", "2502.00008"] and res.total == 4


def test_a_query_of_only_common_words_explains_itself(service):
    res = service.search("the of and for", mode="keyword")
    assert res.hits == [] and res.total == 0 and res.error
    assert "“the”, “of”, “and”, “for”" in res.messages[0] and "quotes" in res.messages[0]
    # In quotes they are a phrase, searched as typed.
    assert ids(service.search('"models for image"', mode="keyword")) == ["2407.00006"]


@pytest.mark.parametrize("query, message", [
    ("pneumonoultramicroscopicsilicovolcanoconiosis", "no paper here has a word over 40 characters long"),
    ("?", "“?”: no letters or digits"),
    ("((((", "“((((”: no letters or digits"),
    ("--", "“--”: no letters or digits"),
    ('"++"', '“"++"”: no letters or digits'),
])
def test_a_query_with_nothing_the_index_holds_finds_nothing_and_says_why(service, query, message):
    """Not every paper: tantivy answers a query left with no clause with all of them."""
    for mode in ("keyword", "hybrid"):
        res = service.search(query, mode=mode)
        assert res.hits == [] and res.total == 0 and res.error == "Empty query."
        assert any(message in m for m in res.messages), res.messages


def test_words_with_nothing_searchable_are_dropped_from_a_query_with_others(service):
    plain = service.search("robot grasping", mode="keyword")
    res = service.search("robot (((( grasping -!!", mode="keyword")
    assert ids(res) == ids(plain) and res.total == plain.total > 0
    assert res.messages == ["“((((”, “-!!”: no letters or digits to search for."]


PASSAGE = ("Molecules are graphs of atoms. We predict chemical properties of molecules with message passing "
           "neural networks that exchange messages along the bonds of molecular graphs; the model is trained "
           "on quantum chemistry data and compared with fingerprints. Results show that learned molecular "
           "representations beat hand-made descriptors on most property prediction tasks we tried.")


def test_a_pasted_abstract_finds_papers_like_it(service):
    res = service.search(PASSAGE, mode="keyword")
    assert res.error is None and ids(res)[:2] in (["2502.00008", "2401.00001"], ["2401.00001", "2502.00008"])
    assert "2406.00005" not in ids(res)  # robot grasping shares none of its distinctive words
    assert res.total == len(res.hits) < 8
    assert res.messages[0].startswith("Papers like this text: by its most distinctive words (")
    # Over 10,000 characters it is cut, with a message, and still runs.
    res = service.search(PASSAGE * 40, mode="keyword")
    assert "The text was cut to its first 10,000 characters." in res.messages and res.hits


def test_a_pasted_text_of_words_no_paper_has_matches_nothing(service):
    res = service.search("zyxxy qwortle " * 30, mode="keyword")
    assert res.hits == [] and res.total == 0 and res.messages[0].startswith("Papers like this text")


def test_snippets_show_text_cleaned_of_tex(fresh_engine, settings):
    add_papers(fresh_engine, [("2501.20001", r"\emph{Sparse} attention by Bu~and~Tao",
                               r"We make attention \textbf{sparse} for 4B--671B models, ``cheaply''.",
                               ["A B"], ["cs.LG"], dt.date(2025, 1, 1))])
    refresh_index(settings, fresh_engine, progress=False)
    hit = SearchService(settings, fresh_engine).search("sparse attention", mode="keyword").hits[0]
    assert hit.snippet == "We make <mark>attention</mark> <mark>sparse</mark> for 4B–671B models, “cheaply”."
    assert hit.title_html == "<mark>Sparse</mark> <mark>attention</mark> by Bu and Tao"
