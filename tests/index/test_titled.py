"""Finding the stored papers that a member's BibTeX entries without an arXiv id name
(``SearchService.titled``): candidates by the entry's title and first author, which the
import then checks word for word (``references.names_paper``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from paperboy.index.jobs import refresh_index
from paperboy.index.service import SearchService
from paperboy.papers import references
from paperboy.store.models import Paper
from tests.index.conftest import add_papers

DAY = dt.date(2024, 5, 2)
SHARED = "Neural operators for turbulent flows"
TEX = r"Scaling \textit{Rule}s for $\mathcal{O}(n)$ attention in long documents"


def _row_ids(engine, arxiv_ids: list[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Paper.arxiv_id, Paper.id).where(Paper.arxiv_id.in_(arxiv_ids))).all())


def _service(engine, settings, rows) -> SearchService:
    add_papers(engine, rows)
    refresh_index(settings, engine, progress=False)
    return SearchService(settings, engine)


def test_a_title_many_papers_share_does_not_crowd_out_the_one_by_the_entrys_author(fresh_engine, settings):
    # Forty papers of one title by others, then the entry's own: a query keeps only a few
    # candidates per title, so the title alone would miss it.
    rows = [(f"2405.{i:05d}", SHARED, f"Abstract {i}.", [f"Ann Other{i}"], ["cs.LG"], DAY) for i in range(40)]
    rows.append(("2405.00100", SHARED, "The entry's paper.", ["Marie Curie", "Pierre Curie"], ["cs.LG"], DAY))
    svc = _service(fresh_engine, settings, rows)
    ids = _row_ids(fresh_engine, ["2405.00100", "2405.00000"])
    got = svc.titled([(SHARED, "curie")], per_query=1)
    assert ids["2405.00100"] in got
    assert ids["2405.00000"] not in got  # the same title by another first author is no candidate
    anyone = svc.titled([(SHARED, "")], per_query=1)  # an entry that names no author: the title alone
    assert 0 < len(anyone) <= 5


def test_a_title_with_tex_is_found_by_its_plain_words(fresh_engine, settings):
    svc = _service(fresh_engine, settings, [
        ("2405.00200", TEX, "Rules.", ["Ada Lovelace"], ["cs.CL"], DAY),
        ("2405.00201", "Scaling laws for attention in long documents", "Laws.", ["Ada Lovelace"], ["cs.CL"], DAY)])
    found = references.read_seeds("", "@article{r, title = {" + TEX + "}, author = {Lovelace, Ada}}\n")
    (ref,) = found.titles
    got = svc.titled([(ref.title, ref.first_author)])
    assert _row_ids(fresh_engine, ["2405.00200"])["2405.00200"] in got
    assert references.title_key(TEX) == ref.key  # what the import then checks holds for it
