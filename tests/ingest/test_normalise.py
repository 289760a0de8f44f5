import datetime as dt

import pytest

from paperboy.ingest.normalise import (
    BadRecord,
    clean_text,
    find_links,
    latex_to_unicode,
    make_record,
    parse_arxiv_id,
    parse_datetime,
    split_authors,
    split_categories,
)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2503.11731", ("2503.11731", None)),
        ("2503.11731v3", ("2503.11731", 3)),
        ("arXiv:2503.11731v2", ("2503.11731", 2)),
        ("https://arxiv.org/abs/2503.11731v2", ("2503.11731", 2)),
        ("http://arxiv.org/pdf/2503.11731.pdf", ("2503.11731", None)),
        ("0704.0001", ("0704.0001", None)),
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v1", ("hep-th/9901001", 1)),
        ("math.GT/0309136", ("math/0309136", None)),  # the subject class is no part of the id
        ("math.GT/0309136v2", ("math/0309136", 2)),
        ("http://arxiv.org/abs/quant-ph/0201082v1", ("quant-ph/0201082", 1)),
        ("arxiv.org/abs/2503.11731", ("2503.11731", None)),  # a link pasted without its scheme
        ("www.arxiv.org/pdf/2503.11731v4", ("2503.11731", 4)),
        # arXiv's DOI, bare, prefixed or as a link
        ("https://doi.org/10.48550/arXiv.2503.11731", ("2503.11731", None)),
        ("10.48550/arXiv.2503.11731", ("2503.11731", None)),
        ("doi:10.48550/arxiv.2503.11731v2", ("2503.11731", 2)),
        # the sites researchers share arXiv papers from, by the same id
        ("https://huggingface.co/papers/2503.11731", ("2503.11731", None)),
        ("https://www.alphaxiv.org/abs/2503.11731v3", ("2503.11731", 3)),
        ("alphaxiv.org/overview/2503.11731", ("2503.11731", None)),
        # what follows a link's id is no part of it
        ("https://arxiv.org/abs/2503.11731?context=cs.LG", ("2503.11731", None)),
        ("https://arxiv.org/abs/hep-th/9901001v2#S2", ("hep-th/9901001", 2)),
    ],
)
def test_arxiv_ids_in_every_style_normalise_to_id_and_version(raw, expected):
    assert parse_arxiv_id(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "2503.117", "2513.11731", "../../etc/passwd", "2503.11731v", "1' OR 1=1",
                                 "2503.11731?x", "10.1000/arXiv.2503.11731", "https://example.org/papers/2503.11731"])
def test_bad_ids_are_refused_with_the_id_in_the_message(raw):
    with pytest.raises(BadRecord, match="not an arXiv id"):
        parse_arxiv_id(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("C. Bal\\'azs", "C. Balázs"),
        ("Bal\\'{a}zs", "Balázs"),
        ("{\\'E}mile", "Émile"),
        ('J. M\\"uller', "J. Müller"),
        ("Fran\\c{c}ois", "François"),
        ("Ji\\v{r}\\'i", "Jiří"),
        ("Stra\\ss e", "Straße"),
        ("S{\\o}ren", "Søren"),
        ("Plain Name", "Plain Name"),
    ],
)
def test_latex_accents_in_names_become_unicode(raw, expected):
    from paperboy.ingest.normalise import clean_name

    assert clean_name(raw) == expected
    assert "\\" not in latex_to_unicode(raw)


def test_author_strings_split_on_commas_and_and_dropping_affiliations():
    assert split_authors("C. Bal\\'azs, E. L. Berger (ANL), P. M. Nadolsky and C.-P. Yuan") == [
        "C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan",
    ]


def test_whitespace_and_hard_line_breaks_collapse():
    assert clean_text("  A fully\n  differential   calculation\n") == "A fully differential calculation"


def test_bidirectional_overrides_are_taken_out_of_titles_and_abstracts():
    """U+202E and its kin reorder what follows on screen ("Trojan Source"): a title holding
    one would read otherwise than it is written, in a card, a feed or a snippet."""
    assert clean_text("Safe \u202eevil\u202c title") == "Safe evil title"
    assert clean_text("\u2066isolated\u2069 \u200fRLM kept\u200e, é kept") == "isolated \u200fRLM kept\u200e, é kept"


def test_control_characters_are_dropped_and_breaks_become_spaces():
    """A BEL in a listing means nothing and reached the API's JSON (\\u0007); tabs, form
    feeds and the other breaks are white space. (A NUL is kept, for the record to be refused.)"""
    assert clean_text("A bell\x07 in a title") == "A bell in a title"
    assert clean_text("esc\x1b and del\x7f and c1\x9b gone, caf\u00e9") == "esc and del and c1 gone, café"
    assert clean_text("tab\there\x0cform\x1ffeed\x85next") == "tab here form feed next"


def test_msc_and_acm_classes_are_kept_apart_from_categories():
    cats, msc, acm = split_categories(["cs.CL", "cs.AI", "68T50", "I.2.7; H.3.3", "q-bio.NC", "cond-mat.str-el"])
    assert cats == ["cs.CL", "cs.AI", "q-bio.NC", "cond-mat.str-el"]
    assert msc == ["68T50"]
    assert acm == ["I.2.7; H.3.3"]


def test_dates_from_every_source_format_become_utc():
    assert parse_datetime("Mon, 2 Apr 2007 19:18:42 GMT") == dt.datetime(2007, 4, 2, 19, 18, 42, tzinfo=dt.UTC)
    assert parse_datetime("2024-03-01T10:00:00-05:00") == dt.datetime(2024, 3, 1, 15, 0, tzinfo=dt.UTC)
    assert parse_datetime("2024-03-01") == dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(BadRecord, match="bad date"):
        parse_datetime("2024-13-45")


def test_code_and_project_links_found_in_comments_including_wrapped_urls():
    links = find_links(
        "Code: https://github.com/org/repo. Project page: https://org.github.io/proj/ (see arXiv:2401.00001)",
        "for associated data, see\n  https://huggingface.co/datasets/x/y",
    )
    assert links == [
        {"kind": "code", "url": "https://github.com/org/repo"},
        {"kind": "project", "url": "https://org.github.io/proj/"},
        {"kind": "code", "url": "https://huggingface.co/datasets/x/y"},
    ]


def test_records_refuse_missing_titles_nul_bytes_and_giant_fields():
    with pytest.raises(BadRecord, match="empty title"):
        make_record(arxiv_id="2501.00001", title="  ")
    with pytest.raises(BadRecord, match="NUL"):
        make_record(arxiv_id="2501.00001", title="a\x00b")
    with pytest.raises(BadRecord, match="abstract longer"):
        make_record(arxiv_id="2501.00001", title="t", abstract="x" * 30_000)
