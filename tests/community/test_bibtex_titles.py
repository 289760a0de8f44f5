"""How a BibTeX entry without an arXiv id is read for the title look-up
(``papers.references``): the title as the member will recognise it, the key an arXiv
title must fold to, and the first author's surname."""

from __future__ import annotations

from paperboy.papers.references import MAX_SEEDS, plain_runs, read_seeds, surname_key, title_key


def test_the_title_and_first_author_of_each_entry_without_an_id_are_kept():
    found = read_seeds(r"""
@inproceedings{devlin2019,
  booktitle = {Proceedings of NAACL-HLT},
  title = {{BERT}: Pre-training of Deep {B}idirectional Transformers for Language Understanding},
  author = {Devlin, Jacob and Chang, Ming-Wei and Lee, Kenton},
}
@article{garcia, author = "Jos\'e Garc\'{\i}a and others", title = "Schr{\"o}dinger bridges for $\alpha$-divergences"}
@article{vdm, title={Visualizing Data using t-SNE}, author={Laurens van der Maaten and Geoffrey Hinton}}
@misc{arxiv, title={On arXiv}, eprint={2403.01234}, archivePrefix={arXiv}}
@book{short, title={Mamba}, author={Gu, Albert}}
@misc{untitled, author={Nobody}}
""")
    assert found.ids == ["2403.01234"] and found.entries == 6 and found.entries_without_id == 5
    assert [(t.title, t.key, t.first_author) for t in found.titles] == [
        ("BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
         "bert pre training of deep bidirectional transformers for language understanding", "devlin"),
        ("Schrödinger bridges for $\\alpha$-divergences", "schrodinger bridges for divergences", "garcia"),
        ("Visualizing Data using t-SNE", "visualizing data using t sne", "maaten"),
    ]  # "booktitle" is not the title; a one-word title or none is not looked up


def test_a_bibtex_title_and_arxivs_spelling_of_it_fold_to_one_key():
    assert title_key(r"{BERT}: Pre-training of Deep {B}idirectional Transformers") == title_key(
        "BERT: Pre-training of Deep Bidirectional Transformers")
    assert title_key(r"Schr\"{o}dinger  Bridges -- a \emph{Survey}.") == title_key("Schrödinger bridges: a survey")
    assert title_key("Quantum C Language") != title_key("Quantum C++ Language Extensions")
    assert surname_key("van der Maaten, Laurens") == "van der maaten" and surname_key("Laurens van der Maaten") == "maaten"
    assert surname_key(r"M{\"u}ller, J.") == "muller"


def test_one_file_repeating_a_title_looks_it_up_once():
    one = "@article{a%d, title={A paper on one same subject}}\n"
    assert len(read_seeds(one % 1 + one % 2).titles) == 1


def test_control_characters_in_a_title_are_dropped():
    [ref] = read_seeds("@article{x, title={A title\x00 with a NUL\x1b[31m and an escape}}").titles
    assert ref.title == "A title with a NUL [31m and an escape" and ref.key == "a title with a nul 31m and an escape"


def test_an_unterminated_or_hostile_field_gives_no_title_and_no_error():
    found = read_seeds("@article{x, title={Never closed, author={A B}\n@article{y, title=\"" + "{" * 5000 + "\"}")
    assert found.entries == 2 and found.ids == []
    assert all(len(t.title) <= 400 for t in found.titles)


def test_an_entry_bibtex_cannot_read_is_named_with_its_line_and_nothing_is_guessed_from_it():
    """A half-read entry would send a title such as "A Broken Entry..., author = Doe" to
    arXiv: it is named instead, so the member can mend it, and the others are read."""
    found = read_seeds("""@article{good1,
  title = {A well formed journal paper title},
  author = {Lee, Ann},
}
@article{broken_entry_2024
  title = {A Broken Entry with no comma after the key},
  author = {Doe, Jane},
}
@misc{unclosed, title = {A title whose brace never closes, author = {Roe, R},
}
@misc{witharxiv eprint = {2403.01234}}
""")
    assert [t.title for t in found.titles] == ["A well formed journal paper title"]
    assert found.broken == ["broken_entry_2024 (line 5: no comma after its key)",
                            "unclosed (line 9: a brace that is never closed)"]
    assert found.broken_count == 2 and found.entries == 4 and found.entries_without_id == 1
    assert found.ids == ["2403.01234"]  # an arXiv id is read wherever it stands


def test_papers_past_what_one_import_takes_are_counted_not_dropped_silently():
    ids = "\n".join(f"2401.{i:05d}" for i in range(MAX_SEEDS + 3))
    found = read_seeds(ids)
    assert len(found.ids) == MAX_SEEDS and found.ids_past_cap == 3 and found.not_read == 3
    titles = "".join(f"@article{{k{i}, title={{Distinct title number {i}}}}}\n" for i in range(MAX_SEEDS + 2))
    found = read_seeds(titles, "2402.00001")
    assert len(found.titles) == MAX_SEEDS and found.titles_past_cap == 2 and found.ids == ["2402.00001"]
    assert found.entries_without_id == MAX_SEEDS + 2


def test_a_title_with_tex_is_searched_for_by_the_plain_words_around_it():
    (ref,) = read_seeds("", r"@article{a, title = {Idioms as \textit{Rule}s: a {$\mathcal{O}(T)$} benchmark}}").titles
    assert plain_runs(ref.title) == ["Idioms as", "benchmark"]  # "a" alone may be a stop word
    assert plain_runs("Attention Is All You Need") == ["Attention Is All You Need"]  # no TeX: the title
    assert plain_runs(r"$\omega$Test") == []  # nothing plain to ask for
    # An apostrophe splits a word one way here and another way on arXiv: left out too.
    assert plain_runs("Rao’s score test for spatial independence") == ["score test for spatial independence"]
