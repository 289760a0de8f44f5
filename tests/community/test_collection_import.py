"""Importing papers into a collection: a member pastes arXiv ids or links, or uploads a
BibTeX file (a Zotero export), and the papers this instance has are saved; the page says
which are being fetched from arXiv, and which entries without an arXiv id are being
looked up there by title (what a worker then does is in test_fetching_missing_papers.py
and test_fetching_by_title.py). Importing twice adds nothing; only the owner can import."""

from __future__ import annotations

import html
import re

from sqlalchemy import func, select, update

from paperboy.papers.references import MAX_SEEDS
from paperboy.store.models import CollectionItem, ImportOutcome, Paper

BIBTEX = """
@article{vaswani2017,
  title = {Attention Is All You Need},
  eprint = {%(a)s}, archivePrefix = {arXiv},
}
@misc{doi2024,
  title = {Found by its DOI},
  doi = {10.48550/arXiv.%(b)sv2},
}
@inproceedings{url2023,
  title = {Found by its URL},
  url = {https://arxiv.org/abs/%(c)s},
}
@article{journal2020,
  title = {A journal paper without an arXiv version},
  journal = {Nature}, year = {2020},
}
@misc{absent,
  title = {On arXiv but not in this instance},
  eprint = {2001.00001},
}
"""


def _collection(site, member):
    first = site.paper(title="Already saved")
    r = member.form("/collections", {"name": "Zotero", "arxiv_id": first.arxiv_id}, page="/")
    cid = int(re.search(r"/collections/(\d+)", r.headers["location"]).group(1))
    return cid, first


def _saved(site, cid) -> set[str]:
    with site.engine.connect() as conn:
        return set(conn.scalars(select(Paper.arxiv_id).join(CollectionItem, CollectionItem.paper_id == Paper.id)
                                .where(CollectionItem.collection_id == cid)))


def test_a_bibtex_file_and_pasted_links_are_imported(site):
    _, ada = site.member()
    cid, first = _collection(site, ada)
    a, b, c, d = (site.paper(title=f"Paper {k}") for k in "abcd")
    bib = BIBTEX % {"a": a.arxiv_id, "b": b.arxiv_id, "c": c.arxiv_id}
    r = ada.submit(f"/collections/{cid}/import", {"ids": f"https://arxiv.org/abs/{d.arxiv_id}v3\n{first.arxiv_id}\nnonsense"},
                   page=f"/collections/{cid}", files={"bibtex": ("library.bib", bib.encode(), "application/x-bibtex")})
    assert r.status_code == 200, r.text[-500:]
    assert _saved(site, cid) == {first.arxiv_id, a.arxiv_id, b.arxiv_id, c.arxiv_id, d.arxiv_id}
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())
    assert "Added 4 papers to “Zotero”." in said and "1 was in it already." in said
    assert "1 is not on this instance yet: it is being fetched from arXiv" in said
    assert "Fetching 1 paper from arXiv; it is saved here as it arrives" in said and "2001.00001" in said
    assert ("1 BibTeX entry names no arXiv id: its title is being looked up on arXiv, and the papers found will be "
            "saved here within minutes.") in said and "Not arXiv ids: nonsense." in said
    assert "Looking up 1 BibTeX entry without an arXiv id on arXiv by title" in said
    assert "A journal paper without an arXiv version" in said
    assert r.text.count('class="card"') == 5  # the collection, with what was imported


def test_an_entry_that_cannot_be_read_is_reported_as_such_not_looked_up(site):
    _, ada = site.member()
    cid, _ = _collection(site, ada)
    bib = "@article{broken_entry_2024\n  title = {A Broken Entry},\n  author = {Doe, Jane},\n}\n"
    r = ada.form(f"/collections/{cid}/import", {"ids": ""}, page=f"/collections/{cid}",
                 files={"bibtex": ("library.bib", bib.encode(), "application/x-bibtex")})
    assert r.status_code == 422  # nothing to import: the form again, with why
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())
    assert "No arXiv id found." in said
    assert "1 BibTeX entry could not be read (broken_entry_2024 (line 1: no comma after its key))." in said

    # Beside an entry that reads, the report names it, and nothing of it is looked up.
    good = site.paper(title="Good")
    bib += "@misc{good, eprint = {" + good.arxiv_id + "}}\n"
    r = ada.submit(f"/collections/{cid}/import", {"ids": ""}, page=f"/collections/{cid}",
                   files={"bibtex": ("library.bib", bib.encode(), "application/x-bibtex")})
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())
    assert ("Added 1 paper to “Zotero”. 1 BibTeX entry could not be read (broken_entry_2024 (line 1: no comma "
            "after its key)): mend it in your library or the file, and import it again.") in said
    assert "looked up on arXiv" not in said and "left out" not in said


def test_an_imported_file_is_listed_in_its_own_order(site):
    _, ada = site.member()
    cid, first = _collection(site, ada)
    papers = [site.paper(title=f"Imported {k}") for k in "xyzw"]
    given = [papers[2], papers[0], papers[3], papers[1]]  # not the order they were stored in
    ada.submit(f"/collections/{cid}/import", {"ids": "\n".join(p.arxiv_id for p in given)}, page=f"/collections/{cid}")
    page = ada.get(f"/collections/{cid}").text
    shown = re.findall(r'<article class="card" id="p-([^"]+)"', page)
    assert shown == [p.arxiv_id for p in given] + [first.arxiv_id]  # the import, then what was saved before


def test_the_form_redirects_to_the_page_so_a_reload_shows_the_outcome_and_imports_nothing_again(site):
    """Post/redirect/get: the page the import form leads to shows what it came to, to its
    owner, for as long as it is their latest import into that collection."""
    _, ada = site.member()
    _, bob = site.member()
    cid, _ = _collection(site, ada)
    kept, hidden = site.paper(title="Kept"), site.paper(title="Hidden spam")
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True))
    r = ada.form(f"/collections/{cid}/import", {"ids": f"{kept.arxiv_id}\n{hidden.arxiv_id}"}, page=f"/collections/{cid}")
    assert r.status_code == 303
    first = r.headers["location"]
    assert re.fullmatch(rf"/collections/{cid}\?imported=\d+#import-report", first)

    def outcome(client, url: str) -> str:
        page = client.get(url)
        assert page.status_code == 200
        box = re.search(r'<div class="notice import-report" id="import-report" role="status">(.*?)</div>', page.text, re.S)
        return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", box.group(1))).split()) if box else ""

    for _reload in range(2):  # a reload shows the same outcome and saves nothing more
        said = outcome(ada, first)
        assert "Added 1 paper to “Zotero”." in said and f"Not here: {hidden.arxiv_id}" in said
        assert len(_saved(site, cid)) == 2 and kept.arxiv_id in _saved(site, cid)
    assert outcome(ada, f"/collections/{cid}") == ""  # the page itself, later, says nothing of it

    ada.form(f"/collections/{cid}/edit", {"name": "Zotero", "public": "1"}, page=f"/collections/{cid}")
    assert bob.get(first).status_code == 200 and outcome(bob, first) == ""  # another's outcome is theirs alone
    assert outcome(site.client(), first) == ""

    second = ada.form(f"/collections/{cid}/import", {"ids": kept.arxiv_id}, page=f"/collections/{cid}")
    assert "1 was in it already." in outcome(ada, second.headers["location"])
    assert outcome(ada, first) == ""  # replaced by the latest: one kept per member and collection
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportOutcome)) == 1
    ada.form(f"/collections/{cid}/delete", page=f"/collections/{cid}")
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportOutcome)) == 0


def test_importing_again_adds_nothing_and_hidden_papers_are_not_saved(site):
    _, ada = site.member()
    cid, first = _collection(site, ada)
    kept, hidden = site.paper(title="Kept"), site.paper(title="Hidden spam")
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True))
    ids = f"{kept.arxiv_id}, {hidden.arxiv_id}"
    r = ada.post(f"/collections/{cid}/import", data={"ids": ids},
                 headers={"Accept": "application/json", "X-CSRF-Token": ada.token("/")})
    assert r.status_code == 200
    assert r.json()["added"] == [kept.arxiv_id] and r.json()["not_here"] == [hidden.arxiv_id]
    again = ada.post(f"/collections/{cid}/import", data={"ids": ids},
                     headers={"Accept": "application/json", "X-CSRF-Token": ada.token("/")}).json()
    assert again["added"] == [] and again["already"] == [kept.arxiv_id]
    assert "Added 0 papers" in again["message"] and "1 was in it already." in again["message"]
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(CollectionItem)) == 2


def test_nothing_readable_is_refused_with_what_to_give(site):
    _, ada = site.member()
    cid, _ = _collection(site, ada)
    r = ada.form(f"/collections/{cid}/import", {"ids": "hello world"}, page=f"/collections/{cid}")
    assert r.status_code == 422 and "No arXiv id found" in r.text and "hello world" in r.text  # the paste kept
    big = b"@misc{x, eprint={2401.00001}}\n" + b" " * 2_000_001  # past the file's limit, within the form's
    r = ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                 files={"bibtex": ("big.bib", big, "application/x-bibtex")})
    assert r.status_code == 413 and "over 2 MB; export fewer entries" in html.unescape(r.text)
    r = ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                 files={"bibtex": ("huge.bib", big * 2, "application/x-bibtex")})
    # Refused before it is read, in the site's own page (its header, a way back), saying
    # the file's limit the member chose the file by.
    assert r.status_code == 413 and "over 2 MB; export fewer entries" in html.unescape(r.text)
    assert 'class="site-header"' in r.text or "<header" in r.text
    assert "\x1e" not in r.text and "\x1f" not in r.text  # the member's header filled in, no slot left
    assert "account-menu" in r.text and "nav-signin" not in r.text  # as signed in: the member's own menu
    assert len(_saved(site, cid)) == 1
    # A picture or an empty file is said to be one, not "a BibTeX file without ids".
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    r = ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                 files={"bibtex": ("library.png", png, "image/png")})
    assert r.status_code == 422 and "is not text: upload a BibTeX export" in html.unescape(r.text)
    r = ada.form(f"/collections/{cid}/import", {}, page=f"/collections/{cid}",
                 files={"bibtex": ("empty.bib", b"\n", "application/x-bibtex")})
    assert r.status_code == 422 and "The file 'empty.bib' is empty." in html.unescape(r.text)


def test_only_the_owner_imports(site):
    _, ada = site.member()
    _, bob = site.member()
    cid, _ = _collection(site, ada)
    other = site.paper(title="Bob wants this in Ada's collection")
    assert "Import papers" in ada.get(f"/collections/{cid}").text
    assert bob.form(f"/collections/{cid}/import", {"ids": other.arxiv_id}, page="/").status_code == 404  # private
    ada.form(f"/collections/{cid}/edit", {"name": "Zotero", "public": "1"}, page=f"/collections/{cid}")
    assert "Import papers" not in bob.get(f"/collections/{cid}").text
    assert bob.form(f"/collections/{cid}/import", {"ids": other.arxiv_id}, page="/").status_code == 403
    assert site.client().post(f"/collections/{cid}/import", data={"ids": other.arxiv_id}).status_code == 403  # no CSRF
    assert other.arxiv_id not in _saved(site, cid)


def test_a_script_saves_many_papers_at_once_with_its_token(site):
    from tests.community.test_api_tokens import make_token, script

    _, ada = site.member()
    cid, first = _collection(site, ada)
    a, b = site.paper(title="A"), site.paper(title="B")
    bot = script(site, make_token(ada, access="write"))
    body = {"arxiv_ids": [f"arXiv:{a.arxiv_id}v2", f"https://arxiv.org/abs/{b.arxiv_id}", first.arxiv_id,
                          "2001.00001", "not an id"]}
    r = bot.post(f"/api/collections/{cid}/papers", json=body)
    assert r.status_code == 200
    assert r.json() == {"added": [a.arxiv_id, b.arxiv_id], "already": [first.arxiv_id], "fetching": ["2001.00001"],
                        "not_here": [], "unreadable": ["not an id"]}
    assert bot.post(f"/api/collections/{cid}/papers", json=body).json()["added"] == []  # again: nothing more
    assert _saved(site, cid) == {first.arxiv_id, a.arxiv_id, b.arxiv_id}
    reader = script(site, make_token(ada, "reader"))
    assert reader.post(f"/api/collections/{cid}/papers", json=body).status_code == 403
    assert bot.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": []}).status_code == 422
    r = bot.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": ["1"] * (MAX_SEEDS + 1)})
    assert r.status_code == 422  # named by its size, not by a cut-off repr of the list
    assert r.json()["detail"] == f"Invalid parameter: arxiv_ids=[{MAX_SEEDS + 1:,} items] should have at most {MAX_SEEDS:,} items."


def test_a_library_larger_than_one_import_takes_says_how_many_were_not_read(site):
    _, ada = site.member()
    cid, _ = _collection(site, ada)
    ids = "\n".join(f"2401.{i:05d}" for i in range(2_003))
    r = ada.post(f"/collections/{cid}/import", data={"ids": ids},
                 headers={"Accept": "application/json", "X-CSRF-Token": ada.token("/")})
    assert r.status_code == 200
    assert len(r.json()["fetching"]) == 2_000 and r.json()["not_read"] == 3
    assert "3 more were not read: one import takes at most 2,000 papers; import the rest apart." in r.json()["message"]
