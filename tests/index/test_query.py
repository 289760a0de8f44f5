"""The query language, including hostile input (pure parsing, no database)."""

import datetime as dt

import pytest

from paperboy.index.query import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    MAX_TEXT_CHARS,
    match_arxiv_id,
    parse_query,
)


def test_free_words_phrases_and_exclusions():
    q = parse_query('diffusion "classifier-free guidance" -survey -"large language" models')
    assert q.words == ["diffusion", "models"]
    assert q.phrases == ["classifier-free guidance"]
    assert q.excluded == ["survey", "large language"]
    assert q.text == "diffusion models classifier-free guidance"
    assert q.messages == []


def test_fields():
    q = parse_query('author:"Yann LeCun" au:hinton cat:cs.LG year:2024 vision')
    assert q.authors == ["Yann LeCun", "hinton"]
    assert q.categories == ["cs.LG"]
    assert (q.date_from, q.date_to) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert q.words == ["vision"]


@pytest.mark.parametrize(
    ("text", "lo", "hi"),
    [
        ("date:2024-01..2024-06", dt.date(2024, 1, 1), dt.date(2024, 6, 30)),
        ("date:2024-02", dt.date(2024, 2, 1), dt.date(2024, 2, 29)),
        ("date:2024-03-05", dt.date(2024, 3, 5), dt.date(2024, 3, 5)),
        ("date:2024-03..", dt.date(2024, 3, 1), None),
        ("date:..2023", None, dt.date(2023, 12, 31)),
    ],
)
def test_date_ranges(text, lo, hi):
    q = parse_query(text)
    assert (q.date_from, q.date_to) == (lo, hi)
    assert q.messages == []


@pytest.mark.parametrize("bad", ["date:2024-13", "date:yesterday", "year:24", "date:..", "date:2024-02-30"])
def test_bad_dates_are_reported_and_ignored(bad):
    q = parse_query(f"robots {bad}")
    assert q.date_from is None and q.date_to is None
    assert q.words == ["robots"]
    assert len(q.messages) == 1 and "ignored" in q.messages[0]


@pytest.mark.parametrize(
    ("text", "ident"),
    [
        ("2403.01234", "2403.01234"),
        ("2403.01234v3", "2403.01234"),
        ("arXiv:2403.01234", "2403.01234"),
        ("https://arxiv.org/abs/2403.01234v2", "2403.01234"),
        ("arxiv.org/pdf/2403.01234.pdf", "2403.01234"),
        ("http://export.arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("math.GT/0309136", "math/0309136"),  # arXiv's id leaves the subject class out
        ("MATH.gt/0309136", "math/0309136"),
        ("  1501.00001 ", "1501.00001"),
    ],
)
def test_arxiv_ids_and_urls(text, ident):
    assert match_arxiv_id(text) == ident
    assert parse_query(text).arxiv_id == ident


def test_ids_inside_text_are_words():
    q = parse_query("see 2403.01234 for details")
    assert q.arxiv_id is None
    assert "2403.01234" in q.words


def test_unknown_fields_and_engine_syntax_are_plain_text():
    q = parse_query('title:(foo OR bar) AND baz* ~2 ^3 +must NOT x')
    assert q.authors == q.categories == [] and q.phrases == []
    assert "title:(foo" in q.words and "AND" in q.words


def test_dash_inside_words_is_not_exclusion():
    q = parse_query("CTLA - 4 state-of-the-art")
    assert q.excluded == []
    assert q.words == ["CTLA", "-", "4", "state-of-the-art"]


HOSTILE = [
    '"unbalanced quote',
    'foo "bar',
    '"',
    '""',
    "'; DROP TABLE papers; --",
    "1 OR 1=1",
    "a\x00b\x00c",
    "\x00" * 100,
    "x" * 10_000,
    "word " * 5000,
    "author:",
    'author:""',
    "cat:",
    "cat:'; --",
    "-",
    "--",
    "- -",
    "((((",
    "*:*",
    "title:* OR body:*",
    "\u201csmart quotes\u201d",
    "\ud800",
    "日本語の論文 検索",
    "<script>alert(1)</script>",
    "\\",
    "year:99999999999999999999",
    "date:9999-99-99..0000-00-00",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_never_raises(text):
    q = parse_query(text)
    assert len(q.text) <= (MAX_TEXT_CHARS if q.like_text else MAX_QUERY_CHARS)
    assert len(q.words) + len(q.phrases) + len(q.excluded) <= MAX_TERMS
    assert "\x00" not in q.text


def test_unbalanced_quote_reads_rest_as_phrase():
    q = parse_query('robot "grasping in clutter')
    assert q.words == ["robot"]
    assert q.phrases == ["grasping in clutter"]
    assert "quote" in q.messages[0]


def test_long_query_is_cut_with_a_message():
    q = parse_query("x" * 10_000)
    assert "cut" in q.messages[0]


def test_a_pasted_passage_is_text_to_find_papers_like_not_syntax():
    abstract = ('We study "classifier-free guidance" -- a widely used trick -- in diffusion models: '
                "author: nobody. " + "Guidance trades diversity for fidelity in sampling. " * 6)
    q = parse_query(abstract)
    assert q.like_text == " ".join(abstract.split()) and q.text == q.like_text
    assert not (q.phrases or q.excluded or q.authors or q.words) and not q.messages
    # Up to 10,000 characters are kept whole; beyond, cut at a word with a message.
    q = parse_query("protein " * 3000)
    assert len(q.like_text) <= MAX_TEXT_CHARS and q.like_text.endswith("protein")
    assert q.messages == ["The text was cut to its first 10,000 characters."]
    # A short query keeps its syntax.
    assert parse_query('"exact phrase" -survey').phrases == ["exact phrase"]


def test_common_words_are_set_apart():
    q = parse_query("diffusion models for protein design")
    assert q.content_words == ["diffusion", "models", "protein", "design"] and q.stop_words == ["for"]
    assert q.text == "diffusion models for protein design"  # the embedder still reads the whole query
    assert parse_query("The of and").only_stop_words
    assert not parse_query('"the of"').only_stop_words  # quoted: searched as a phrase
    assert not parse_query("the cat:cs.LG").only_stop_words


def test_bad_category_is_reported():
    q = parse_query("cat:'; --")
    assert q.categories == [] and q.messages


def test_empty():
    for text in ("", "   ", None, "\x00\x01"):
        assert parse_query(text).is_empty


def test_how_many_words_a_match_needs():
    from paperboy.index.keyword import required_matches

    # a few keywords: all; 4-5 words: all but one; a sentence (6+): a quarter
    assert [required_matches(n) for n in range(1, 13)] == [1, 2, 3, 3, 4, 2, 2, 2, 3, 3, 3, 3]
