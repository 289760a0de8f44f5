"""Following authors (by identity, not spelling) and real categories, from where the reader is."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from paperboy.config import Settings
from paperboy.digest.compose import Composer
from paperboy.digest.schedule import parse_digest_period
from paperboy.papers.authors import author_identity
from paperboy.papers.queries import followed_papers
from paperboy.store.models import Follow, Paper, PaperAuthor, utcnow

JSON = {"Accept": "application/json"}


def _titles(html: str) -> list[str]:
    return re.findall(r'class="card-title"><a [^>]*>([^<]+)<', html)


def _follows(site, user_id: int) -> list[tuple[str, str]]:
    with site.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(Follow.kind, Follow.target)
                                               .where(Follow.user_id == user_id).order_by(Follow.kind))]


@pytest.mark.parametrize(("a", "b"), [
    ("José  García", "Jose Garcia"), ("JOSÉ GARCÍA", "josé garcía"), ("Jean-Pierre Dupont", "Jean Pierre Dupont"),
    ("Bal\\'azs Szegedy", "Balazs Szegedy"), ("O'Brien, Ann", "O Brien Ann"), ("Zoë  Ng ", "zoe ng"),
])
def test_spellings_of_one_author_share_an_identity(a, b):
    assert author_identity(a) == author_identity(b) != ""


@pytest.mark.parametrize(("a", "b"), [("J. Garcia", "Jose Garcia"), ("Jose Garcia", "Jose Garcia Lopez"),
                                      ("Ann Lee", "Anne Lee")])
def test_initials_and_other_names_are_other_authors(a, b):
    assert author_identity(a) != author_identity(b)


def test_a_follow_matches_every_spelling_but_not_initials_or_namesakes(site):
    accented = site.paper(authors=["José García"], categories=["cs.CL"], title="Accented spelling")
    plain = site.paper(authors=["Jose  Garcia"], categories=["cs.CL"], title="Plain spelling")
    site.paper(authors=["J. Garcia"], categories=["cs.CL"], title="By an initial")
    site.paper(authors=["Jose Garcia Lopez"], categories=["cs.CL"], title="A longer name")
    user, client = site.member()
    r = client.form("/follows", {"kind": "author", "target": "  jose   GARCÍA "}, page="/following")
    assert r.status_code == 303
    # Stored once, under the oldest stored spelling; a second spelling is the same follow.
    client.form("/follows", {"kind": "author", "target": "Jose Garcia"}, page="/following")
    assert _follows(site, user.id) == [("author", "José García")]
    assert sorted(_titles(client.get("/following").text)) == sorted([accented.title, plain.title])
    # Unfollowing by any spelling removes it.
    client.form("/follows", {"kind": "author", "target": "JOSE garcia", "action": "unfollow"}, page="/following")
    assert _follows(site, user.id) == []


def _why_lines(html: str) -> dict[str, str]:
    """Each Following card's title and its "Why" line, tags removed."""
    out = {}
    for block in re.findall(r'<div class="followed-paper">(.*?)</article>', html, re.S):
        why = re.search(r'<p class="why">(.*?)</p>', block, re.S)
        out[_titles(block)[0]] = re.sub(r"<[^>]+>", "", why.group(1)) if why else ""
    return out


def test_each_following_card_says_which_follows_brought_it(site):
    """The /following feed mixes authors and categories: each card names the followed
    authors it is by (as the paper spells them, whatever the follow's spelling) and the
    followed categories it is in, linked, as For you says why it picked a paper."""
    site.paper(authors=["José García", "Ann Lee", "Wei Zhang"], categories=["cs.CL", "cs.LG"], title="Both ways")
    site.paper(authors=["Jose Garcia", "Ann Lee"], categories=["cs.CV"], title="Two followed authors")
    site.paper(authors=["Someone Else"], categories=["stat.ML", "cs.LG"], title="By its category")
    site.paper(authors=["Nobody Followed"], categories=["math.PR"], title="Not followed")
    user, client = site.member()
    for kind, target in (("author", "jose garcia"), ("author", "Ann Lee"), ("category", "cs.LG")):
        assert client.form("/follows", {"kind": kind, "target": target}, page="/following").status_code == 303
    html = client.get("/following").text
    assert _why_lines(html) == {
        "Both ways": "Why: by José García and Ann Lee, whom you follow; in cs.LG, which you follow",
        "Two followed authors": "Why: by Jose Garcia and Ann Lee, whom you follow",
        "By its category": "Why: in cs.LG, which you follow",
    }
    assert '<a href="/authors/Jos%C3%A9%20Garc%C3%ADa">José García</a>' in html
    assert '<a href="/categories/cs.LG">cs.LG</a>, which you follow' in html


def _listing_order(papers: list[Paper]) -> list[str]:
    """Newest announced first, then most voted, then the newest id: a category page's order."""
    ranked = sorted(papers, key=lambda p: (p.arxiv_id,), reverse=True)
    ranked.sort(key=lambda p: p.upvotes, reverse=True)
    ranked.sort(key=lambda p: p.announced_on, reverse=True)
    return [p.arxiv_id for p in ranked]


def test_the_following_feed_lists_what_is_followed_in_a_category_pages_order_both_ways_it_is_read(site):
    """Many followed papers are found by walking the listing index, few by reading their
    rows and sorting them (queries.followed_papers): both give the same order and count,
    hidden papers left out; past the exact-count limit the total is the largest followed
    category's, a true lower bound, and the page says "at least"."""
    day = dt.date(2025, 3, 3)
    lg = [site.paper(categories=["cs.LG"], announced_on=day - dt.timedelta(days=i % 7), title=f"Learning {i}")
          for i in range(40)]
    with site.engine.begin() as conn:
        for i, p in enumerate(lg[:12]):
            conn.execute(update(Paper).where(Paper.id == p.id).values(upvotes=i % 4))
        conn.execute(update(Paper).where(Paper.id == lg[5].id).values(hidden=True))
    pr = [site.paper(categories=["math.PR"], announced_on=day - dt.timedelta(days=i), title=f"Probability {i}")
          for i in range(5)]
    by_ann = [site.paper(authors=["Ann Lee"], categories=["q-bio.NC"], announced_on=day - dt.timedelta(days=2 * i),
                         title=f"Neurons {i}") for i in range(3)]
    user, client = site.member()
    with Session(site.engine) as db:
        visible_lg = [site.get_paper(p.arxiv_id) for p in lg if p.id != lg[5].id]
        walked = followed_papers(db, ["cs.LG"], set(), limit=30)  # 40 rows of 50 papers: walked
        assert [p.arxiv_id for p in walked.papers] == _listing_order(visible_lg)[:30]
        assert (walked.total, walked.exact) == (39, True)
        ann = {db.scalar(select(PaperAuthor.author_id).where(PaperAuthor.paper_id == by_ann[0].id))}
        sorted_rows = followed_papers(db, ["math.PR"], ann, limit=30)  # 8 rows: read and sorted
        assert [p.arxiv_id for p in sorted_rows.papers] == _listing_order(
            [site.get_paper(p.arxiv_id) for p in pr + by_ann])
        assert (sorted_rows.total, sorted_rows.exact) == (8, True)
        bound = followed_papers(db, ["cs.LG", "math.PR"], set(), limit=30, exact_up_to=10)
        assert (bound.total, bound.exact) == (39, False)  # cs.LG's 39: the union holds 44
        assert len(bound.papers) == 30
    for kind, target in (("category", "cs.LG"), ("category", "math.PR")):
        client.form("/follows", {"kind": kind, "target": target}, page="/following")
    assert "44 papers from what you follow, newest first." in client.get("/following").text


def test_made_up_authors_and_categories_are_refused_with_a_message(site):
    site.paper(authors=["Grace Hopper"], categories=["cs.PL"])
    site.paper(authors=["Someone"], categories=["xx.NEW"])  # a category newer than our list
    user, client = site.member()
    r = client.form("/follows", {"kind": "author", "target": "Nobody Invented"}, page="/following")
    assert r.status_code == 422 and "No paper here has an author named “Nobody Invented”" in r.text
    assert 'value="Nobody Invented"' in r.text  # the form keeps what was typed
    r = client.form("/follows", {"kind": "category", "target": "cs.XYZ"}, page="/following")
    assert r.status_code == 422 and "“cs.XYZ” is not an arXiv category" in r.text
    r = client.post("/follows", data={"kind": "category", "target": "cs.XYZ"},
                    headers={**JSON, "X-CSRF-Token": client.token("/following")})
    assert r.status_code == 422 and "not an arXiv category" in r.json()["detail"]
    assert _follows(site, user.id) == []
    # Real ones: arXiv's list (in arXiv's spelling, with no paper here yet) and stored ones.
    client.form("/follows", {"kind": "category", "target": "cs.lg"}, page="/following")
    client.form("/follows", {"kind": "category", "target": "xx.NEW"}, page="/following")
    client.form("/follows", {"kind": "author", "target": "grace hopper"}, page="/following")
    assert sorted(_follows(site, user.id)) == [("author", "Grace Hopper"), ("category", "cs.LG"),
                                                ("category", "xx.NEW")]


def test_the_typed_form_follows_what_was_typed_whichever_kind_the_select_was_left_at(site):
    """Its one box takes "cs.LG or an author's name": an author typed beside Category (the
    select's first choice) is the author, a category typed beside Author the category."""
    site.paper(authors=["Grace Hopper"], categories=["cs.PL"])
    user, client = site.member()
    r = client.form("/follows", {"kind": "category", "target": "grace hopper", "either": "1"}, page="/following")
    assert r.status_code == 303 and "kind=author" in r.headers["location"]
    client.form("/follows", {"kind": "author", "target": "cs.pl", "either": "1"}, page="/following")
    assert sorted(_follows(site, user.id)) == [("author", "Grace Hopper"), ("category", "cs.PL")]
    # Neither: the reason given is the one for the kind chosen.
    r = client.form("/follows", {"kind": "category", "target": "Nobody Invented", "either": "1"}, page="/following")
    assert r.status_code == 422 and "“Nobody Invented” is not an arXiv category" in r.text
    # A button names its kind and means it.
    r = client.form("/follows", {"kind": "category", "target": "Grace Hopper"}, page="/following")
    assert r.status_code == 422
    assert 'name="either" value="1"' in client.get("/following").text


def test_follows_stored_before_normalising_keep_working(site):
    paper = site.paper(authors=["Zoë Ng"], title="Old follow still matches")
    user, client = site.member()
    with site.engine.begin() as conn:  # as an earlier version stored a typed name
        conn.execute(insert(Follow).values(user_id=user.id, kind="author", target="zoe  NG", created_at=utcnow()))
    assert _titles(client.get("/following").text) == [paper.title]
    page = client.get("/authors/Zoë Ng").text
    assert 'aria-pressed="true"' in page  # the author page knows it is followed
    client.form("/follows", {"kind": "author", "target": "Zoë Ng", "action": "unfollow"}, page="/authors/Zoë Ng")
    assert _follows(site, user.id) == []


def test_follow_and_unfollow_from_the_author_page_without_javascript(site):
    site.paper(authors=["Ada Lovelace"], categories=["math.HO"])
    user, client = site.member()
    page = client.get("/authors/Ada Lovelace").text
    form = re.search(r'<form method="post" action="/follows" class="follow-form">.*?</form>', page, re.S).group(0)
    assert 'name="csrf_token"' in form and 'name="next" value="/authors/Ada Lovelace"' in form
    assert 'aria-pressed="false"' in form
    r = client.form("/follows", {"kind": "author", "target": "Ada Lovelace", "next": "/authors/Ada Lovelace"},
                    page="/authors/Ada Lovelace")
    assert r.status_code == 303 and r.headers["location"].startswith("/authors/Ada%20Lovelace?notice=followed")
    page = client.get(r.headers["location"]).text
    assert "You now follow Ada Lovelace: their new papers appear" in page and 'aria-pressed="true"' in page
    r = client.form("/follows", {"kind": "author", "target": "Ada Lovelace", "action": "unfollow",
                                 "next": "/authors/Ada Lovelace"}, page="/authors/Ada Lovelace")
    page = client.get(r.headers["location"]).text
    assert "You no longer follow Ada Lovelace" in page and 'aria-pressed="false"' in page
    # A notice naming something untrue is not shown: the page vouches for its names only.
    forged = client.get("/authors/Ada Lovelace?notice=followed&kind=author&who=Ada Lovelace").text
    assert "You now follow Ada Lovelace" not in forged and "Followed." in forged
    assert "Sign in to follow this author" in site.client().get("/authors/Ada Lovelace").text
    # The JSON answer is unchanged for scripts.
    r = client.post("/follows", data={"kind": "category", "target": "math.HO"},
                    headers={**JSON, "X-CSRF-Token": client.token("/categories/math.HO")})
    assert r.json() == {"following": True, "target": "math.HO"}
    assert 'aria-pressed="true"' in client.get("/categories/math.HO").text
    assert _follows(site, user.id) == [("category", "math.HO")]


def test_following_suggests_authors_and_categories_of_papers_voted_or_saved(site):
    voted = site.paper(authors=["Grace Hopper", "Alan Turing"], categories=["cs.PL", "cs.LO"])
    saved = site.paper(authors=["Grace Hopper", "Kurt Gödel"], categories=["math.LO"])
    site.paper(authors=["Unrelated Person"], categories=["astro-ph.GA"])
    user, client = site.member()
    client.post(f"/papers/{voted.arxiv_id}/vote", headers={**JSON, "X-CSRF-Token": client.token("/")})
    client.form("/collections", {"name": "Logic", "arxiv_id": saved.arxiv_id}, page="/")
    client.form("/follows", {"kind": "author", "target": "Alan Turing"}, page="/following")
    page = client.get("/following").text
    box = page[page.index('id="suggest-h"'):page.index('class="follow-form follow-typed"')]
    for name in ("Grace Hopper", "Kurt Gödel", "cs.PL", "cs.LO", "math.LO"):
        assert f'aria-label="Follow {name}"' in box, name
    assert "Alan Turing" not in box and "Unrelated Person" not in box and "astro-ph.GA" not in box
    assert box.index("Grace Hopper") < box.index("Kurt Gödel")  # on two of my papers, so first
    client.form("/follows", {"kind": "author", "target": "Grace Hopper", "next": "/following"}, page="/following")
    assert 'aria-label="Follow Grace Hopper"' not in client.get("/following").text.split('id="suggest-h"')[1]


def test_the_typed_follow_form_offers_the_instances_categories_most_papers_first(site):
    for n, category in ((3, "q-bio.NC"), (2, "cs.SD"), (1, "astro-ph.GA")):
        for _ in range(n):
            site.paper(categories=[category])
    _, client = site.member()
    page = client.get("/following").text
    form = page[page.index('class="follow-form follow-typed"'):]
    assert 'list="follow-categories"' in form
    offered = re.findall(r'<option value="([^"]+)">', form[form.index('<datalist id="follow-categories">'):])
    assert [c for c in offered if c in ("q-bio.NC", "cs.SD", "astro-ph.GA")] == ["q-bio.NC", "cs.SD", "astro-ph.GA"]


def test_digests_match_followed_authors_by_identity(site, tmp_path):
    site.paper(authors=["José García"], title="One")
    site.paper(authors=["Jose Garcia"], title="Two")
    site.paper(authors=["J. Garcia"], title="Three")
    with site.engine.connect() as conn:
        ids = Composer(conn, Settings(data_dir=tmp_path, embedder="null")).author(parse_digest_period("2025-01-15"), "jose  garcía")
        titles = set(conn.scalars(select(Paper.title).where(Paper.id.in_(ids))))
    assert titles == {"One", "Two"}


def test_the_following_feed_pages_through_followed_papers_newest_first(site):
    start = dt.date(2025, 3, 1)
    # 40 papers in the followed category, one a day, and 5 by the followed author elsewhere;
    # on each of the author's days a second paper, with more votes, comes first.
    by_day = {}
    for k in range(40):
        by_day.setdefault(start + dt.timedelta(days=k), []).append(
            site.paper(categories=["q-bio.BM"], announced_on=start + dt.timedelta(days=k), authors=[f"Writer {k}"]))
    for k in range(0, 40, 8):
        day = start + dt.timedelta(days=k)
        top = site.paper(categories=["cs.CL"], announced_on=day, authors=["Grace Hopper"])
        with site.engine.begin() as conn:
            conn.execute(update(Paper).where(Paper.id == top.id).values(upvotes=3))
        by_day[day].insert(0, top)
    hidden = site.paper(categories=["q-bio.BM"], announced_on=start + dt.timedelta(days=50), authors=["Writer 50"])
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True))
    site.paper(categories=["cs.CL"], announced_on=start + dt.timedelta(days=60), title="Nobody follows this")
    _, client = site.member()
    client.form("/follows", {"kind": "category", "target": "q-bio.BM"}, page="/following")
    client.form("/follows", {"kind": "author", "target": "Grace Hopper"}, page="/following")

    newest_first = [p.title for day in sorted(by_day, reverse=True) for p in by_day[day]]
    first, second = client.get("/following"), client.get("/following?p=2")
    assert "45 papers" in first.text
    assert _titles(first.text) == newest_first[:30]
    assert _titles(second.text) == newest_first[30:]
    assert 'href="/following?p=2"' in first.text and 'href="/following?p=1"' in second.text


def test_following_a_category_says_its_papers_not_theirs(site):
    site.paper(categories=["cs.CL"])
    _, client = site.member()
    r = client.form("/follows", {"kind": "category", "target": "cs.CL", "next": "/categories/cs.CL"},
                    page="/categories/cs.CL")
    assert r.status_code == 303
    assert "You now follow cs.CL: its new papers appear on your Following page." in client.get(r.headers["location"]).text
