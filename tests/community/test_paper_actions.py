"""A paper's page acts on that paper: vote, save, follow its authors and categories; and
moderators who hide a paper land on a page that exists."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from paperboy.store.models import Collection, CollectionItem, Follow


def _actions(html: str) -> str:
    start = html.index('id="paper-actions"')
    return html[start:html.index("</section>", start)]


def _similar_cards(html: str) -> list[str]:
    section = html[html.index('class="similar"'):]
    return re.findall(r'<article class="card".*?</article>', section, re.S)


def test_the_paper_page_saves_and_follows_this_paper_not_a_similar_one(site):
    paper = site.paper(title="Diffusion guidance for proteins", abstract="Diffusion guidance for protein design.",
                       authors=["Ada Lovelace", "José García"], categories=["q-bio.BM", "cs.LG"])
    for n in range(3):
        site.paper(title=f"Diffusion guidance, part {n}", abstract="Diffusion guidance for protein design again.")
    user, client = site.member()
    page = client.get(f"/papers/{paper.arxiv_id}").text
    actions = _actions(page)
    # The first Save menu on the page is this paper's, inside its own actions, before the similar list.
    first_save = re.search(r'<details class="card-actions save-menu">\s*<summary aria-label="([^"]+)"', page)
    assert first_save.group(1) == "Save Diffusion guidance for proteins"
    assert page.index(first_save.group(0)) < page.index('class="similar"')
    assert f'name="arxiv_id" value="{paper.arxiv_id}"' in actions
    for name in ("Ada Lovelace", "José García", "q-bio.BM", "cs.LG"):
        assert f'aria-label="Follow {name}"' in actions
    # Each similar card's Save names its own paper.
    cards = _similar_cards(page)
    assert cards, "the page should list similar papers"
    for card in cards:
        title = re.search(r'class="card-title"><a [^>]*>([^<]+)<', card).group(1)
        assert f'<summary aria-label="Save {title}"' in card
        assert 'value="' + paper.arxiv_id + '"' not in card
    # Save to a new collection from the page's own menu: this paper goes in.
    r = client.form("/collections", {"name": "Proteins", "arxiv_id": paper.arxiv_id},
                    page=f"/papers/{paper.arxiv_id}", headers={"Referer": f"http://testserver/papers/{paper.arxiv_id}"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/papers/{paper.arxiv_id}?notice=saved")
    assert "Saved to “Proteins”." in client.get(r.headers["location"]).text
    with site.engine.connect() as conn:
        saved = conn.execute(select(CollectionItem.paper_id).join(Collection).where(Collection.user_id == user.id)).all()
    assert [row[0] for row in saved] == [paper.id]
    # Follow an author from the page: back on the page, the button shows it.
    r = client.form("/follows", {"kind": "author", "target": "José García", "next": f"/papers/{paper.arxiv_id}"},
                    page=f"/papers/{paper.arxiv_id}")
    page = client.get(r.headers["location"]).text
    assert "You now follow José García" in page
    assert re.search(r'aria-pressed="true" aria-label="Follow José García"', page)
    with site.engine.connect() as conn:
        assert conn.execute(select(Follow.kind, Follow.target).where(Follow.user_id == user.id)).all() == [
            ("author", "José García")]


def test_the_paper_page_links_to_arxiv_and_shows_versions_and_first_submission(site):
    new = site.paper(arxiv_id="2401.01234", version=3, submitted_at=dt.datetime(2024, 1, 2, 10, tzinfo=dt.UTC))
    page = site.client().get(f"/papers/{new.arxiv_id}").text
    assert 'href="https://arxiv.org/abs/2401.01234"' in page or "arxiv.org/abs/2401.01234v3" in page
    assert 'href="https://arxiv.org/html/2401.01234"' in page
    assert "pdf/2401.01234" in page
    assert "First submitted</dt><dd>January 2, 2024 (v1)" in page
    assert [f"2401.01234v{n}" in page for n in (1, 2, 3)] == [True, True, True]
    assert "2401.01234v4" not in page
    # An old paper: arXiv has no HTML rendering; no first-submission date stored, none shown.
    old = site.paper(arxiv_id="hep-th/9901001")
    page = site.client().get(f"/papers/{old.arxiv_id}").text
    assert "arxiv.org/html/" not in page and "First submitted" not in page
    assert "Sign in</a> to vote, save this paper" in page  # no member: no forms, a way in


def test_hiding_a_paper_lands_on_admin_which_lists_it_with_unhide(site):
    paper = site.paper(title="Spam about diffusion")
    _, admin = site.member(admin=True)
    r = admin.form(f"/admin/papers/{paper.arxiv_id}/hide", page=f"/papers/{paper.arxiv_id}",
                   headers={"Referer": f"http://testserver/papers/{paper.arxiv_id}"})
    assert r.status_code == 303 and r.headers["location"].startswith("/admin?notice=hidden")
    page = admin.get(r.headers["location"])
    assert page.status_code == 200 and "The paper is hidden" in page.text
    hidden = page.text[page.text.index('id="hidden-papers"'):]
    assert "Spam about diffusion" in hidden
    assert f'action="/admin/papers/{paper.arxiv_id}/unhide"' in hidden
    assert admin.get(f"/papers/{paper.arxiv_id}").status_code == 404
    r = admin.form(f"/admin/papers/{paper.arxiv_id}/unhide", page="/admin", headers={"Referer": "http://testserver/admin"})
    assert r.headers["location"].startswith("/admin?notice=unhidden")
    assert "The paper is visible again." in admin.get(r.headers["location"]).text
    assert admin.get(f"/papers/{paper.arxiv_id}").status_code == 200
