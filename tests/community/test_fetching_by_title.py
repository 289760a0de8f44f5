"""BibTeX entries that name no arXiv id (a journal or proceedings paper, as most of a
Zotero library is) are looked up on arXiv by title (a loopback stand-in answering
``ti:"..."`` phrase searches over the recorded API answers) by a worker: the paper with
that very title and first author is stored and saved where the member asked; one arXiv
has no paper for is said, never guessed at."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from paperboy.ingest import wanted
from paperboy.store.models import InterestSignal, Paper, WantedTitle, utcnow
from tests.community.conftest import PASSWORD
from tests.community.wanted_helpers import arxiv_site, run_worker, said, saved
from tests.support.fake_arxiv import FakeArxiv

API_JSON = "arxiv/api/new_api_2026_json_wrapped"

# Two recorded arXiv papers by one author whose titles differ in one word, a paper whose
# title arXiv spells with plain capitals, and an entry for a journal paper arXiv never saw.
LIBRARY = r"""
@article{huber2011,
  author = {Huber, Michael},
  title = {Efficient Two-Stage Group Testing Algorithms for {DNA} Screening},
  journal = {Methods of Information in Medicine}, year = {2011},
}
@inproceedings{immink2017,
  title = "Proceedings of Workshop {AEW10}: Concepts in Information Theory and Communications",
  booktitle = {AEW10},
  author = {Kees A. Schouhamer Immink and Stan Baggen},
}
@article{nature2020,
  title = {A journal paper that arXiv never saw},
  author = {Nobody, Ann},
  journal = {Nature},
}
@article{short, title = {Mamba}, journal = {Nowhere}}
"""
DNA, AEW10 = "1106.3680", "1707.08567"


@pytest.fixture
def fake():
    with FakeArxiv() as server:
        yield server


@pytest.fixture
def site(shared_data, fake, fresh_engine, tmp_path):
    return arxiv_site(shared_data, fake, fresh_engine, tmp_path)










def title_rows(site) -> list:
    with site.engine.connect() as conn:
        return conn.execute(select(WantedTitle.title, WantedTitle.state, WantedTitle.attempts, WantedTitle.note,
                                   WantedTitle.due_at).order_by(WantedTitle.id)).all()


def title_requests(fake) -> list[str]:
    return [q["search_query"] for path, q in fake.requests if q.get("search_query")]


def import_library(site, member, bib: str = LIBRARY):
    first = site.paper(title="Already here")
    made = member.form("/collections", {"name": "Zotero", "arxiv_id": first.arxiv_id}, page="/")
    cid = int(re.search(r"/collections/(\d+)", made.headers["location"]).group(1))
    r = member.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                    files={"bibtex": ("My Library.bib", bib.encode(), "application/x-bibtex")})
    if r.status_code == 303:  # imported: the page it leads to says what became of it
        r = member.get(r.headers["location"])
    return cid, r


def test_journal_entries_are_found_on_arxiv_by_title_and_first_author_and_saved(site, fake):
    _, ada = site.member()
    cid, r = import_library(site, ada)
    assert r.status_code == 200, r.text[-300:]
    assert ("3 BibTeX entries name no arXiv id: their titles are being looked up on arXiv, and the papers found "
            "will be saved here within minutes.") in said(r)
    assert "1 of 4 BibTeX entries name no arXiv paper" in said(r)  # "Mamba": too short a title to match alone
    assert "and was left out (short)." in said(r)  # by its citation key, to find in the library
    assert "Looking up 3 BibTeX entries without an arXiv id on arXiv by title" in said(r)
    assert "Efficient Two-Stage Group Testing Algorithms for DNA Screening" in said(r)  # braces dropped

    served = run_worker(site)

    assert [(s.saved, s.unknown, s.later) for s in served] == [(2, 1, 0)]
    [query] = title_requests(fake)  # the three titles in one request
    assert query.count('ti:"') == 3 and 'ti:"efficient two stage group testing algorithms for dna screening"' in query
    # The DNA paper, not its near twin by the same author ("... for Genetic Screening").
    assert saved(site, cid) - {p for p in saved(site, cid) if p not in (DNA, AEW10)} == {DNA, AEW10}
    assert "1306.4664" not in saved(site, cid)
    stored = site.get_paper(DNA)
    assert stored.title == "Efficient Two-Stage Group Testing Algorithms for DNA Screening"
    assert stored.featured_on is None and stored.announced_on is None  # a library paper, not today's news
    page = ada.get(f"/collections/{cid}")
    assert "Looking up" not in said(page)
    assert ("Not found on arXiv by title (a journal or proceedings paper without an arXiv version, or titled "
            "differently there): A journal paper that arXiv never saw (arXiv has no paper with this title and "
            "first author)") in said(page)
    assert [(t, s) for t, s, *_ in title_rows(site)] == [("A journal paper that arXiv never saw", "unknown")]

    r = ada.form(f"/collections/{cid}/wanted/clear", page=f"/collections/{cid}")
    assert r.status_code == 303 and title_rows(site) == []
    assert run_worker(site) == []


def test_a_title_with_a_nul_byte_is_queued_without_it(site):
    _, ada = site.member()
    _, r = import_library(site, ada, "@article{x, title={Nul\x00 bytes in a journal title}}\n")
    assert r.status_code == 200
    assert [t for t, *_ in title_rows(site)] == ["Nul bytes in a journal title"]


def test_a_title_with_tex_in_it_is_found_on_arxiv_by_its_plain_words(site, fake):
    # arXiv's title has the formula's own words between the plain ones ("mathcal o n"),
    # where the entry's key has none: each run of plain words is asked for as a phrase.
    fake.add_entry_like("1605.08386", "2601.00042", r"Heat-bath walks in $\mathcal{O}(n)$ steps on Markov bases")
    _, ada = site.member()
    bib = (r"@article{tex, title = {Heat-bath walks in $\mathcal{O}(n)$ steps on {Markov} bases},"
           r" author = {Stanley, Caprice}, journal = {J}}" "\n")
    cid, _ = import_library(site, ada, bib)
    assert [s.saved for s in run_worker(site)] == [1]
    assert "2601.00042" in saved(site, cid)
    assert title_requests(fake) == ['(ti:"heat bath walks in" AND ti:"steps on markov bases")']


def test_a_title_by_another_first_author_is_not_taken_for_the_entry(site, fake):
    """Same title, someone else's paper: left out and said, not saved in the member's name."""
    _, ada = site.member()
    bib = ("@article{x, title={Efficient Two-Stage Group Testing Algorithms for DNA Screening}, "
           "author={Someone, Else and Huber, Michael}}\n")
    cid, _ = import_library(site, ada, bib)
    assert [(s.saved, s.unknown) for s in run_worker(site)] == [(0, 1)]
    assert DNA not in saved(site, cid)
    with site.engine.connect() as conn:
        assert conn.scalar(select(Paper.id).where(Paper.arxiv_id == DNA)) is None  # nothing stored either
    assert "arXiv has no paper with this title and first author" in said(ada.get(f"/collections/{cid}"))


def test_seeding_with_a_library_of_journal_entries_seeds_the_feed_once_found(site, fake):
    user, ada = site.member()
    r = ada.submit("/for-you/seeds", {}, page="/for-you/learned",
                   files={"bibtex": ("library.bib", LIBRARY.encode(), "application/x-bibtex")})
    assert r.status_code == 200  # no arXiv id at all: the titles are enough
    assert "3 BibTeX entries name no arXiv id: their titles are being looked up on arXiv" in said(r)
    api = ada.get("/api/for-you/signals").json()
    assert len(api["seed_titles_being_looked_up"]) == 3 and api["seed_titles_not_found"] == []

    run_worker(site)

    with site.engine.connect() as conn:
        seeds = set(conn.scalars(select(Paper.arxiv_id).join(InterestSignal, InterestSignal.paper_id == Paper.id)
                                 .where(InterestSignal.user_id == user.id, InterestSignal.kind == "seed")))
    assert seeds == {DNA, AEW10}
    api = ada.get("/api/for-you/signals").json()
    assert api["seed_titles_being_looked_up"] == [] and api["seed_titles_not_found"] == [
        "A journal paper that arXiv never saw"]
    assert ada.form("/for-you/seeds/clear-missing", page="/for-you/learned").status_code == 303
    assert title_rows(site) == []


def test_a_reset_forgets_seeds_still_being_fetched_or_looked_up(site, fake):
    user, ada = site.member()
    ada.form("/for-you/seeds", {"ids": "1605.08386"}, page="/for-you/learned",
             files={"bibtex": ("library.bib", LIBRARY.encode(), "application/x-bibtex")})
    assert len(title_rows(site)) == 3 and wanted.any_due(site.engine)
    assert ada.form("/for-you/reset", page="/for-you/learned").status_code == 303
    assert title_rows(site) == [] and not wanted.any_due(site.engine)
    assert run_worker(site) == [] and fake.requests == []  # nothing arrives later to undo the reset


def test_an_unreachable_arxiv_leaves_titles_to_be_looked_up_later(site, fake):
    _, ada = site.member()
    cid, _ = import_library(site, ada)
    fake.fail_next("503")
    assert [(s.saved, s.later, s.stalled) for s in run_worker(site)] == [(0, 3, True)]
    rows = title_rows(site)
    assert {(s, a, n) for _, s, a, n, _ in rows} == {("wanted", 1, "arXiv did not answer")}
    assert all(due > utcnow() + dt.timedelta(seconds=50) for *_, due in rows)  # a minute later, not at once
    with site.engine.begin() as conn:
        conn.execute(update(WantedTitle).values(due_at=utcnow() - dt.timedelta(seconds=1)))
    assert [(s.saved, s.unknown) for s in run_worker(site)] == [(2, 1)]
    assert {DNA, AEW10} <= saved(site, cid)


def test_a_paper_this_instance_holds_is_found_by_title_at_once_without_asking_arxiv(site, fake):
    _, ada = site.member()
    site.paper(arxiv_id=DNA, title="Efficient Two-Stage Group Testing Algorithms for DNA Screening",
               authors=["Michael Huber"])
    site.paper(title="Efficient Two-Stage Group Testing Algorithms for DNA Screening", authors=["Someone Else"])
    cid, r = import_library(site, ada, "@article{x, title={Efficient two-stage group testing algorithms "
                                       "for {DNA} screening}, author={M. Huber}}\n")
    # Named as the member's file writes it, so they can check the match.
    assert ("1 BibTeX entry without an arXiv id was found among this instance's papers by title (“Efficient "
            "two-stage group testing algorithms for DNA screening”).") in said(r)
    assert DNA in saved(site, cid) and len(saved(site, cid)) == 2  # Huber's, not the other same-titled paper
    assert title_rows(site) == [] and run_worker(site) == [] and fake.requests == []


def test_an_instance_that_does_not_fetch_still_finds_its_own_papers_by_title(shared_data, fake, fresh_engine, tmp_path):
    site = arxiv_site(shared_data, fake, fresh_engine, tmp_path, fetch_wanted=False)
    site.paper(arxiv_id=AEW10, title="Proceedings of Workshop AEW10: Concepts in Information Theory and Communications",
               authors=["Kees A. Schouhamer Immink", "Stan Baggen"])
    _, ada = site.member()
    cid, r = import_library(site, ada)
    assert r.status_code == 200 and AEW10 in saved(site, cid)
    assert ("1 BibTeX entry without an arXiv id was found among this instance's papers by title (“Proceedings of "
            "Workshop AEW10") in said(r)
    assert ("3 of 4 BibTeX entries name no arXiv paper (no eprint, arXiv URL or arXiv DOI, and no title among this "
            "instance's papers) and were left out (short, “Efficient Two-Stage Group Testing Algorithms for DNA "
            "Screening”, “A journal paper that arXiv never saw”).") in said(r)  # not looked up on arXiv here
    assert title_rows(site) == [] and fake.requests == []


def test_without_fetching_a_file_of_journal_entries_is_refused_as_before(shared_data, fake, fresh_engine, tmp_path):
    site = arxiv_site(shared_data, fake, fresh_engine, tmp_path, fetch_wanted=False)
    _, ada = site.member()
    _, r = import_library(site, ada)
    assert r.status_code == 422 and "No arXiv id found" in r.text
    assert title_rows(site) == []


def test_deleting_the_collection_or_the_account_drops_its_titles(site):
    user, ada = site.member()
    cid, _ = import_library(site, ada)
    assert len(title_rows(site)) == 3
    with site.engine.begin() as conn:
        conn.execute(update(WantedTitle).values(due_at=utcnow() + dt.timedelta(hours=1)))  # not looked up yet
    assert ada.form(f"/collections/{cid}/delete", page=f"/collections/{cid}").status_code == 303
    assert title_rows(site) == []
    import_library(site, ada)
    r = ada.form("/account/delete", {"password": PASSWORD, "comments": "keep"}, page="/account")
    assert r.status_code == 200 and "deleted" in r.text
    assert title_rows(site) == [] and not wanted.any_due(site.engine)


def test_a_large_library_does_not_hold_up_another_members_titles(site, fake):
    """One member's titles are due ten at a time, arXiv's delay apart: another member's,
    queued just after, go in the next request, not after all of the first member's."""
    _, ada = site.member()
    _, bob = site.member()
    big = "".join(f"@article{{k{i}, title={{An imaginary paper number {i} about nothing}}}}\n" for i in range(30))
    import_library(site, ada, big)
    cid, _ = import_library(site, bob, LIBRARY.split("@inproceedings")[0])  # the DNA paper alone

    served = run_worker(site)

    assert [(s.saved, s.unknown) for s in served] == [(0, 10), (1, 0)]  # Ada's first ten, then Bob's
    assert DNA in saved(site, cid)
    waiting = [(s, due) for _, s, _, _, due in title_rows(site) if s == "wanted"]
    assert len(waiting) == 20 and all(due > utcnow() for _, due in waiting)  # Ada's next, 3 and 6 s on
    assert len({due for _, due in waiting}) == 2


def test_titles_asked_for_again_are_paced_like_new_ones(site, fake):
    _, ada = site.member()
    big = "".join(f"@article{{k{i}, title={{An imaginary paper number {i} about nothing}}}}\n" for i in range(20))
    cid, _ = import_library(site, ada, big)
    with site.engine.begin() as conn:  # every title looked up, none found
        conn.execute(update(WantedTitle).values(state="unknown", note="arXiv has no paper with this title"))
    ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
             files={"bibtex": ("again.bib", big.encode(), "application/x-bibtex")})
    rows = title_rows(site)
    assert len(rows) == 20 and {s for _, s, *_ in rows} == {"wanted"}
    assert len({due for *_, due in rows}) == 2  # ten now, ten a request later: not all at once


def test_an_entry_sent_again_with_its_author_mended_is_no_longer_listed_as_looked_up(site, fake):
    """First sent with the wrong first author, a stored paper's entry is not taken for it
    and waits for arXiv; sent again, mended, it is found here at once, and the waiting
    entry goes (the seeds' list and a collection's alike)."""
    _, ada = site.member()
    site.paper(arxiv_id=DNA, title="Efficient Two-Stage Group Testing Algorithms for DNA Screening",
               authors=["Michael Huber"])
    wrong = "@article{x, title={Efficient two-stage group testing algorithms for {DNA} screening}, author={Else, S.}}\n"
    mended = wrong.replace("Else, S.", "Huber, M.")

    def seed(bib: str):
        return ada.submit("/for-you/seeds", {}, page="/for-you/learned",
                          files={"bibtex": ("library.bib", bib.encode(), "application/x-bibtex")})

    seed(wrong)
    assert len(ada.get("/api/for-you/signals").json()["seed_titles_being_looked_up"]) == 1
    seed(mended)
    api = ada.get("/api/for-you/signals").json()
    assert api["seed_titles_being_looked_up"] == []
    with site.engine.connect() as conn:
        assert conn.scalar(select(Paper.arxiv_id).join(InterestSignal, InterestSignal.paper_id == Paper.id)
                           .where(InterestSignal.kind == "seed")) == DNA
    cid, _ = import_library(site, ada, wrong)
    assert [t.title for t in title_rows(site)] == ["Efficient two-stage group testing algorithms for DNA screening"]
    import_library_again = ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                                    files={"bibtex": ("My Library.bib", mended.encode(), "application/x-bibtex")})
    assert import_library_again.status_code == 303
    assert title_rows(site) == [] and DNA in saved(site, cid)
