"""Collections (public/private, BibTeX) and follows (the /following feed)."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from paperboy.store.models import Collection, Follow


def _coll_id(site, name):
    with site.engine.connect() as conn:
        return conn.scalar(select(Collection.id).where(Collection.name == name))


def test_collections_save_list_and_export(site):
    p1 = site.paper(title="Attention is all you need", authors=["Ashish Vaswani", "Noam Shazeer"], doi="10.1/xyz")
    p2 = site.paper(title="Deep residual learning")
    user, client = site.member()
    r = client.form("/collections", {"name": "To read", "arxiv_id": p1.arxiv_id}, page="/")
    assert r.status_code == 303
    cid = _coll_id(site, "To read")
    # Save from a card: the card shows the member's collections with add/remove forms.
    card_html = client.get(f"/collections/{cid}").text
    assert f'action="/collections/{cid}/remove"' in card_html
    assert client.form(f"/collections/{cid}/add", {"arxiv_id": p2.arxiv_id}, page="/").status_code == 303
    page = client.get(f"/collections/{cid}").text
    assert "Attention is all you need" in page and "Deep residual learning" in page and "2 papers" in page
    bib = client.get(f"/collections/{cid}/export.bib")
    assert bib.status_code == 200 and bib.headers["content-type"].startswith("application/x-bibtex")
    assert bib.text.count("@misc{") == 2 and "eprint = {" + p1.arxiv_id + "}" in bib.text
    assert "Vaswani" in bib.text and 'filename="To-read.bib"' in bib.headers["content-disposition"]
    client.form(f"/collections/{cid}/remove", {"arxiv_id": p1.arxiv_id}, page="/")
    assert client.get(f"/collections/{cid}/export.bib").text.count("@misc{") == 1
    assert "To read" in client.get("/collections").text


def test_an_exported_file_has_one_ascii_key_per_paper_and_reads_as_written(site):
    """Papers that share a surname, a year and a title word get keys told apart (BibTeX
    keeps one entry per key and would cite the wrong paper), the first in id order
    keeping the key its paper page shows; keys are ASCII for pdflatex; and a real
    BibTeX reader, with a real style, prints the titles with their capitals."""
    from pybtex import format_from_string
    from pybtex.database import parse_string

    when = dt.datetime(2025, 3, 14, tzinfo=dt.UTC)
    shared = [site.paper(arxiv_id=f"2503.{n}", title=f"Rethinking {topic}", authors=["Wei Zhao"], submitted_at=when)
              for n, topic in (("21749", "MLLMs for Video"), ("11780", "Diffusion"), ("21246", "Retrieval"))]
    accented = site.paper(arxiv_id="2503.30001", title="VMonarch: Efficient Video Diffusion",
                          authors=["Moreno D'Incà", "张伟"], submitted_at=when)
    _, client = site.member()
    client.form("/collections", {"name": "Reading group", "arxiv_id": accented.arxiv_id}, page="/")
    cid = _coll_id(site, "Reading group")
    for paper in shared:
        client.form(f"/collections/{cid}/add", {"arxiv_id": paper.arxiv_id}, page="/")
    text = client.get(f"/collections/{cid}/export.bib").text

    entries = parse_string(text, "bibtex").entries  # raises on a key seen twice
    by_id = {entry.fields["eprint"]: key for key, entry in entries.items()}
    assert len(by_id) == 4 and all(key.isascii() for key in by_id.values())
    assert by_id["2503.11780"] == "zhao2025rethinking"  # the first by id keeps its page's key
    assert {by_id["2503.21246"], by_id["2503.21749"]} == {"zhao2025rethinkingb", "zhao2025rethinkingc"}
    assert "zhao2025rethinking," in client.get("/papers/2503.11780").text
    assert by_id["2503.30001"] == "dinca2025vmonarch"
    printed = format_from_string(text, style="plain", output_backend="plaintext")
    assert "VMonarch: efficient video diffusion" in printed  # not "Vmonarch"
    assert "Rethinking MLLMs for video" in printed


def test_saving_from_a_card_without_javascript_returns_to_that_card(site):
    """On a day of hundreds of papers, a Save sent as a plain form comes back to the page
    it was on, at the card (not to the top of the page)."""
    paper = site.paper(title="Saved from a long feed", announced_on=dt.date(2025, 1, 15))
    _, client = site.member()
    day = {"Referer": "http://testserver/papers?date=2025-01-15"}
    r = client.form("/collections", {"name": "Later", "arxiv_id": paper.arxiv_id}, page="/", headers=day)
    cid = _coll_id(site, "Later")
    assert r.headers["location"] == f"/papers?date=2025-01-15&notice=saved&in={cid}#p-{paper.arxiv_id}"
    r = client.form(f"/collections/{cid}/remove", {"arxiv_id": paper.arxiv_id}, page="/", headers=day)
    assert r.headers["location"] == f"/papers?date=2025-01-15&notice=unsaved&in={cid}#p-{paper.arxiv_id}"
    r = client.form(f"/collections/{cid}/add", {"arxiv_id": paper.arxiv_id}, page="/", headers=day)
    assert r.headers["location"].endswith(f"#p-{paper.arxiv_id}")
    page = client.get(r.headers["location"].split("#")[0]).text
    assert f'id="p-{paper.arxiv_id}"' in page  # the anchor names the card on that page
    # Added by a link or with a version, it is still found by its own id.
    for typed in (f"https://arxiv.org/abs/{paper.arxiv_id}v1", f"arxiv.org/abs/{paper.arxiv_id}", f"{paper.arxiv_id}v9",
                  f"https://doi.org/10.48550/arXiv.{paper.arxiv_id}", f"https://huggingface.co/papers/{paper.arxiv_id}"):
        r = client.form(f"/collections/{cid}/add", {"arxiv_id": typed}, page="/", headers=day)
        assert r.headers["location"].endswith(f"#p-{paper.arxiv_id}"), typed
    # An old-style id: its card's id has a dash for the slash, and so has the anchor.
    old = site.paper(arxiv_id="hep-th/9901001", title="An old-style id", announced_on=dt.date(2025, 1, 15))
    r = client.form(f"/collections/{cid}/add", {"arxiv_id": old.arxiv_id}, page="/", headers=day)
    assert r.headers["location"].endswith("#p-hep-th-9901001")
    assert 'id="p-hep-th-9901001"' in client.get(r.headers["location"].split("#")[0]).text


def test_private_collections_stay_private_and_public_ones_are_shared(site):
    paper = site.paper()
    _, alice = site.member()
    alice.form("/collections", {"name": "Secret list", "arxiv_id": paper.arxiv_id}, page="/")
    alice.form("/collections", {"name": "Shared list", "public": "1", "arxiv_id": paper.arxiv_id}, page="/")
    secret, shared = _coll_id(site, "Secret list"), _coll_id(site, "Shared list")
    _, bob = site.member()
    anon = site.client()
    for viewer in (bob, anon):
        assert viewer.get(f"/collections/{secret}").status_code == 404
        assert viewer.get(f"/collections/{secret}/export.bib").status_code == 404
        assert viewer.get(f"/collections/{shared}").status_code == 200
        assert viewer.get(f"/collections/{shared}/export.bib").text.count("@misc{") == 1
    # Renaming and making private, then deleting.
    saved = alice.form(f"/collections/{shared}/edit", {"name": "Now private"}, page="/")
    assert saved.headers["location"] == f"/collections/{shared}?notice=private"
    assert "Saved: the collection is private, seen by you alone." in alice.get(saved.headers["location"]).text
    assert bob.get(f"/collections/{shared}").status_code == 404
    assert alice.form(f"/collections/{shared}/edit", {"name": "Secret list"}, page="/").status_code == 409
    page = alice.get(f"/collections/{shared}").text
    assert 'data-confirm="Delete the collection “Now private” and its list of 1 paper? This cannot be undone."' in page
    gone = alice.form(f"/collections/{shared}/delete", page="/")
    assert gone.headers["location"] == "/collections?notice=collection_deleted"
    assert "The collection is deleted (the papers in it are not)." in alice.get(gone.headers["location"]).text
    assert alice.get(f"/collections/{shared}").status_code == 404


def test_following_authors_and_categories(site):
    by_author = site.paper(authors=["Grace Hopper"], categories=["cs.PL"], title="Compilers by Hopper")
    by_cat = site.paper(authors=["Someone Else"], categories=["math.CO", "cs.DM"], title="Graphs",
                        announced_on=dt.date(2025, 2, 1))
    site.paper(authors=["Nobody"], categories=["astro-ph.GA"], title="Galaxies")
    user, client = site.member()
    assert "You follow nobody yet" in client.get("/following").text
    client.form("/follows", {"kind": "author", "target": "Grace Hopper"}, page="/")
    client.form("/follows", {"kind": "category", "target": "cs.DM"}, page="/")
    client.form("/follows", {"kind": "category", "target": "cs.DM"}, page="/")  # twice: one row
    with site.engine.connect() as conn:
        assert conn.execute(select(Follow.kind, Follow.target).where(Follow.user_id == user.id)
                            .order_by(Follow.kind)).all() == [("author", "Grace Hopper"), ("category", "cs.DM")]
    page = client.get("/following").text
    titles = re.findall(r'class="card-title"><a [^>]*>([^<]+)<', page)
    assert titles == [by_cat.title, by_author.title]
    assert client.form("/follows", {"kind": "user", "target": "x"}, page="/").status_code == 400
    client.form("/follows", {"kind": "author", "target": "Grace Hopper", "action": "unfollow"}, page="/")
    titles = re.findall(r'class="card-title"><a [^>]*>([^<]+)<', client.get("/following").text)
    assert titles == [by_cat.title]


def test_an_owner_adds_a_paper_from_the_collection_page_itself(site):
    paper = site.paper()
    _, owner = site.member()
    owner.form("/collections", {"name": "Empty for now"}, page="/")
    cid = _coll_id(site, "Empty for now")
    page = owner.get(f"/collections/{cid}").text
    add = page.index(f'action="/collections/{cid}/add"')
    assert add < page.index('<details class="collection-settings">')  # in view, not inside Settings
    assert "No papers in this collection yet. Add one by its arXiv id above" in page
    r = owner.form(f"/collections/{cid}/add", {"arxiv_id": f"https://arxiv.org/abs/{paper.arxiv_id}v2"}, page="/")
    assert r.status_code == 303 and paper.title in owner.get(r.headers["location"].split("#")[0]).text
    _, reader = site.member()
    owner.form(f"/collections/{cid}/edit", {"name": "Empty for now", "public": "1"}, page="/")
    assert f'action="/collections/{cid}/add"' not in reader.get(f"/collections/{cid}").text


def test_making_a_collection_with_a_name_in_use_opens_that_one_and_says_so(site):
    _, owner = site.member()
    first = owner.form("/collections", {"name": "Reading list"}, page="/")
    again = owner.form("/collections", {"name": "Reading list"}, page="/")
    assert again.headers["location"].startswith(first.headers["location"] + "?notice=existing")
    assert "You already have “Reading list”: here it is." in owner.get(again.headers["location"]).text
    assert _coll_id(site, "Reading list")  # still one


def test_an_exported_file_is_named_after_the_collection_accents_and_all(site):
    """RFC 6266: the name as written in filename*, accents folded in the ASCII filename."""
    paper = site.paper()
    _, client = site.member()
    client.form("/collections", {"name": 'Lectures "été" / 2026', "arxiv_id": paper.arxiv_id}, page="/")
    cid = _coll_id(site, 'Lectures "été" / 2026')
    got = client.get(f"/collections/{cid}/export.bib").headers["content-disposition"]
    assert got == "attachment; filename=\"Lectures-ete-2026.bib\"; filename*=UTF-8''Lectures%20%C3%A9t%C3%A9%20-%202026.bib"


def test_a_collection_name_is_one_name_in_any_case(site):
    """"Speech" and "speech" would read as one in every save menu: the second is the first."""
    _, client = site.member()
    assert client.form("/collections", {"name": "Speech"}, page="/").status_code == 303
    speech = _coll_id(site, "Speech")
    again = client.form("/collections", {"name": "speech"}, page="/")
    assert again.headers["location"].startswith(f"/collections/{speech}?notice=existing")
    assert client.form("/collections", {"name": "Vision"}, page="/").status_code == 303
    vision = _coll_id(site, "Vision")
    r = client.form(f"/collections/{vision}/edit", {"name": "SPEECH", "public": "1"}, page=f"/collections/{vision}")
    assert r.status_code == 409
    # The collection's own page, its settings open, the name as typed and the reason beside it.
    assert '<details class="collection-settings" open>' in r.text
    assert 'id="edit-error">You already have a collection with that name.</p>' in r.text
    assert re.search(r'name="name" value="SPEECH"[^>]*aria-invalid="true"', r.text)
    assert re.search(r'name="public" value="1" checked', r.text)
    # Its own name in another case is a rename, not a clash.
    assert client.form(f"/collections/{speech}/edit", {"name": "speech"}, page=f"/collections/{speech}").status_code == 303
    with site.engine.connect() as conn:
        assert sorted(conn.scalars(select(Collection.name))) == ["Vision", "speech"]
