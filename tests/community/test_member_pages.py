"""Members get shared cached pages with their own state filled in, and nobody else's.

A member's page is rendered once for every ordinary member (web/cache.py); their votes,
save menus, name, comment actions and CSRF token are slots (web/slots.py). Cards are
rendered once per paper version (web/cards.py).
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import insert, update

from paperboy.store.models import Paper, Vote, utcnow
from paperboy.web.security import SESSION_COOKIE, check_csrf

JSON = {"Accept": "application/json"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _card(page: str, arxiv_id: str) -> str:
    """The HTML of one card on a list page."""
    m = re.search(rf'<article class="card" id="p-{re.escape(arxiv_id)}".*?</article>', page, re.S)
    assert m, f"no card for {arxiv_id}"
    return m.group(0)


def _voted(page: str, arxiv_id: str) -> bool:
    card = _card(page, arxiv_id)
    pressed = re.search(r'class="vote-button( voted)?" aria-pressed="(true|false)"', card)
    assert pressed, card
    assert bool(pressed.group(1)) == (pressed.group(2) == "true")
    return pressed.group(2) == "true"


def _vote(client, arxiv_id: str) -> dict:
    r = client.post(f"/papers/{arxiv_id}/vote", headers={**JSON, "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 200, r.text
    return r.json()


def _stored_html(site) -> bytes:
    """Everything the page cache holds, literals only (what is shared between visitors)."""
    out = []
    for entry in site.app.state.page_cache.entries.values():
        out.append(entry.body or b"".join(p for p in entry.parts[::2]))
    return b"".join(out)


def test_each_member_sees_their_own_votes_saves_and_name_on_one_shared_page(site):
    a, b, c = (site.paper(title=f"Shared page paper {i}") for i in range(3))
    alice_user, alice = site.member(name="Alice <b>A</b>")
    _, bob = site.member(name="Bob")
    _vote(alice, a.arxiv_id)
    _vote(bob, c.arxiv_id)
    r = alice.form("/collections", {"name": "Alice's reading", "arxiv_id": b.arxiv_id}, page="/")
    assert r.status_code == 303

    first = alice.get("/")
    second = bob.get("/")
    assert second.headers["x-paperboy-cache"] == "hit"  # the page Alice's visit rendered
    mine, his = first.text, second.text
    assert _voted(mine, a.arxiv_id) and not _voted(mine, c.arxiv_id)
    assert _voted(his, c.arxiv_id) and not _voted(his, a.arxiv_id)
    # Alice's collection, with b saved in it, is in her save menus and nowhere else.
    assert ">Saved</summary>" in _card(mine, b.arxiv_id) and "✓ Alice&#39;s reading" in _card(mine, b.arxiv_id)
    assert "+ Alice&#39;s reading" in _card(mine, a.arxiv_id)
    assert "Alice" not in his and ">Save</summary>" in _card(his, b.arxiv_id)
    # Names are escaped, and each member sees their own.
    assert '<span class="account-name">Alice &lt;b&gt;A&lt;/b&gt;</span>' in mine
    assert '<span class="account-name">Bob</span>' in his
    # Each page's forms carry its own visitor's token.
    for client, page in ((alice, mine), (bob, his)):
        tokens = set(TOKEN.findall(page))
        assert len(tokens) == 1 and check_csrf(site.app, client.cookies.get("pb_csrf"), tokens.pop())
    # The anonymous page has none of it, and the cache holds no one's state or token.
    anon = site.client().get("/").text
    assert not any(_voted(anon, p.arxiv_id) for p in (a, b, c))
    assert "Alice" not in anon and "Bob" not in anon and "save-menu" not in anon
    stored = _stored_html(site)
    assert stored and b"Alice" not in stored and b"Bob" not in stored and b'aria-pressed="true"' not in stored
    assert not re.search(rb'name="csrf_token" value="[^"]', stored)
    assert alice_user.id  # the member the stand-in replaced is real


def test_a_vote_or_an_edit_changes_the_card_for_everyone_at_once(site):
    paper = site.paper(title="Before the edit")
    site.app.state.page_cache.check_interval = 0  # anonymous pages: no 0.25 s grace for writes from elsewhere
    _, alice = site.member()
    _, bob = site.member()
    anon = site.client()
    for client in (alice, bob, anon):
        card = _card(client.get("/").text, paper.arxiv_id)
        assert '<span class="vote-count">0</span>' in card and 'aria-label="Upvote (0 votes)"' in card
    _vote(bob, paper.arxiv_id)
    for client in (alice, bob, anon):
        card = _card(client.get("/").text, paper.arxiv_id)
        assert '<span class="vote-count">1</span>' in card and 'aria-label="Upvote (1 vote)"' in card
        assert ('aria-pressed="true"' in card) is (client is bob)
    with site.engine.begin() as conn:  # what ingest does to a revised paper
        conn.execute(update(Paper).where(Paper.arxiv_id == paper.arxiv_id).values(
            title="After the edit", modified_at=dt.datetime.now(dt.UTC)))
    for client in (alice, anon):
        page = client.get("/").text
        assert "After the edit" in page and "Before the edit" not in page
        assert "After the edit" in client.get(f"/papers/{paper.arxiv_id}").text


def test_a_members_own_state_written_by_another_process_shows_on_their_next_page(site):
    """A member's votes are read for every response, not kept: one cast through another
    web process (a row this process never saw written) is pressed on the next page. On
    SQLite that read runs on the event loop's own connection once the member is known."""
    paper = site.paper(title="Voted elsewhere")
    user, alice = site.member()
    for _ in range(2):  # the second request knows the member without a query
        assert not _voted(alice.get("/").text, paper.arxiv_id)
    with site.engine.begin() as conn:  # what another process's vote route writes
        conn.execute(insert(Vote).values(user_id=user.id, paper_id=paper.id, created_at=utcnow()))
    page = alice.get("/")
    assert page.headers["x-paperboy-cache"] == "hit"
    assert _voted(page.text, paper.arxiv_id)
    if site.engine.dialect.name == "sqlite":
        assert site.app.state.page_cache.loop_connection().in_transaction is False  # nothing held open


def test_hiding_a_paper_removes_it_for_members_and_anonymous_readers_alike(site):
    kept, hidden = site.paper(), site.paper()
    admin_user, admin = site.member(admin=True)
    _, alice = site.member()
    anon = site.client()
    for client in (alice, anon):
        page = client.get("/").text
        assert kept.arxiv_id in page and hidden.arxiv_id in page
    r = admin.form(f"/admin/papers/{hidden.arxiv_id}/hide", page="/")
    assert r.status_code in (200, 303)
    for client in (alice, anon):
        page = client.get("/").text
        assert kept.arxiv_id in page and hidden.arxiv_id not in page


def test_comment_actions_only_on_the_members_own_comments(site):
    paper = site.paper()
    # Read the version for every request, not every 0.25 s: the hit below must not hang
    # on timing. Commenting from the paper's page, as members do, also builds this fresh
    # instance's keyword index (similar papers) before the pages are rendered: built
    # during Alice's render, it would change the node's version under her entry.
    site.app.state.page_cache.check_interval = 0
    _, alice = site.member(name="Alice")
    _, bob = site.member(name="Bob")
    page = f"/papers/{paper.arxiv_id}"
    alice.form(f"{page}/comments", {"body": "Written by Alice"}, page=page)
    bob.form(f"{page}/comments", {"body": "Written by Bob"}, page=page)

    def actions(page: str) -> dict[str, bool]:
        out = {}
        for item in re.findall(r'<li class="comment.*?</li>', page, re.S):
            body = re.search(r"Written by (\w+)", item).group(1)
            out[body] = "/delete" in item and "/edit" in item
        return out

    first, second = alice.get(f"/papers/{paper.arxiv_id}"), bob.get(f"/papers/{paper.arxiv_id}")
    assert second.headers["x-paperboy-cache"] == "hit"
    assert actions(first.text) == {"Alice": True, "Bob": False}
    assert actions(second.text) == {"Alice": False, "Bob": True}
    assert actions(site.client().get(f"/papers/{paper.arxiv_id}").text) == {"Alice": False, "Bob": False}


def test_sign_out_takes_effect_at_once_for_cached_pages(site):
    site.paper()
    _, alice = site.member(name="Alice")
    token = alice.cookies.get(SESSION_COOKIE)
    assert "Alice" in alice.get("/").text
    assert alice.form("/signout", page="/").status_code == 303
    thief = site.client()
    thief.cookies.set(SESSION_COOKIE, token)
    page = thief.get("/").text
    assert "Alice" not in page and 'href="/signin"' in page


def test_admins_pages_are_rendered_for_them_not_shared(site):
    site.paper()
    _, admin = site.member(admin=True, name="Root")
    _, alice = site.member(name="Alice")
    alice.get("/")
    r = admin.get("/")
    assert r.headers["x-paperboy-cache"] == "pass" and 'href="/admin"' in r.text and "Root" in r.text
    assert 'href="/admin"' not in alice.get("/").text


def test_cards_are_rendered_once_per_paper_version(site):
    paper = site.paper()
    site.client().get("/")
    card_cache = site.app.state.templates.env.globals["card_html"].cache
    misses = card_cache.misses
    site.client().get(f"/papers?date={paper.announced_on.isoformat()}")  # another page, the same card
    assert card_cache.misses == misses and card_cache.hits >= 1
    _, alice = site.member()
    _vote(alice, paper.arxiv_id)
    site.client().get("/")
    assert card_cache.misses == misses + 1


def _follow_button(page: str, target: str) -> str:
    m = re.search(rf'<button[^>]*aria-label="Follow {re.escape(target)}"[^>]*>', page)
    assert m, f"no follow button for {target}"
    return m.group(0)


def test_follow_buttons_show_each_members_own_follows_on_a_shared_paper_page(site):
    paper = site.paper(title="Follow me", authors=["José García"], categories=["cs.LG"])
    _, alice = site.member()
    _, bob = site.member()
    r = alice.form("/follows", {"kind": "author", "target": "Jose Garcia"}, page=f"/papers/{paper.arxiv_id}")
    assert r.status_code == 303
    mine = alice.get(f"/papers/{paper.arxiv_id}")
    his = bob.get(f"/papers/{paper.arxiv_id}")
    assert his.headers["x-paperboy-cache"] == "hit"  # one shared rendering...
    # ... in which Alice follows the author (by identity: she typed it without accents), Bob does not.
    assert 'aria-pressed="true"' in _follow_button(mine.text, "José García")
    assert 'aria-pressed="false"' in _follow_button(his.text, "José García")
    assert 'aria-pressed="false"' in _follow_button(mine.text, "cs.LG")
    assert b"aria-pressed=\"true\"" not in _stored_html(site)


def test_a_page_that_reads_member_state_outside_a_slot_is_rendered_for_each_member(site):
    """The notice after saving names the member's own collection: the shared rendering
    (as a stand-in member, who has none) is thrown away and the page rendered for them."""
    paper = site.paper(title="Saved with a notice")
    _, alice = site.member()
    _, bob = site.member()
    r = alice.form("/collections", {"name": "Alice's shelf", "arxiv_id": paper.arxiv_id}, page=f"/papers/{paper.arxiv_id}")
    assert r.status_code == 303
    cid = re.search(r"in=(\d+)", r.headers["location"]).group(1)
    url = f"/papers/{paper.arxiv_id}?notice=saved&in={cid}"
    for _ in range(2):  # the second time the page is known to be personal and routed at once
        mine = alice.get(url)
        assert "Saved to “Alice&#39;s shelf”." in mine.text and mine.headers["x-paperboy-cache"] == "pass"
    his = bob.get(url)  # Bob cannot make the page name Alice's collection
    assert "Alice" not in his.text and his.headers["x-paperboy-cache"] == "pass"
    assert b"Alice" not in _stored_html(site)
