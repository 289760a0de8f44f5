"""A member's private For you feed: their picks in a feed reader (which sends no cookie),
at an address only they are shown, that they can replace or turn off."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

from sqlalchemy import update

from paperboy.store.models import User
from tests.recommend.test_for_you_pages import topical

ATOM = "{http://www.w3.org/2005/Atom}"
JSON = {"Accept": "application/json"}


def _seeded_member(site, papers):
    """A member whose feed learned from the protein paper of the day before."""
    user, client = site.member()
    r = client.submit("/for-you/seeds", {"ids": papers["protein"].arxiv_id}, page="/for-you/learned")
    assert r.status_code == 200
    return user, client


def _turn(client, action: str) -> dict:
    r = client.post("/for-you/feed", data={"action": action, "csrf_token": client.token("/for-you/learned")},
                    headers=JSON)
    assert r.status_code == 200, r.text
    return r.json()


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_member_turns_the_feed_on_and_a_reader_without_cookies_gets_the_picks_with_why_lines(site):
    papers = topical(site)
    _, client = _seeded_member(site, papers)
    page = client.get("/for-you/learned").text
    assert "Get a private feed" in page and "/feeds/for-you/" not in page  # off until asked for
    urls = _turn(client, "on")
    assert urls["on"] and _path(urls["atom"]).endswith(".atom") and _path(urls["rss"]).endswith(".rss")
    assert urls["atom"] in client.get("/for-you/learned").text
    head = client.get("/for-you").text.split("</head>")[0]  # for a reader's autodiscovery
    assert f'<link rel="alternate" type="application/atom+xml" title="For you, Paperboy" href="{urls["atom"]}">' in head
    assert client.get("/api/for-you/feed").json() == {"on": True, "atom": urls["atom"], "rss": urls["rss"]}

    reader = site.client()  # a feed reader: no session
    r = reader.get(_path(urls["atom"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/atom+xml")
    assert "private" in r.headers["cache-control"] and r.headers["x-robots-tag"] == "noindex"
    feed = ET.fromstring(r.content)
    entries = feed.findall(f"{ATOM}entry")
    picks = client.get("/api/for-you", params={"limit": 100}).json()["items"]
    assert [e.findtext(f"{ATOM}title") for e in entries] == [p["paper"]["title"] for p in picks]
    assert {e.findtext(f"{ATOM}title") for e in entries[:3]} == {f"Protein folding with method {i}" for i in range(3)}
    first = entries[0].findtext(f"{ATOM}summary")
    assert first.startswith(f"Why: {picks[0]['why']['text']}\n\n") and "amino acid residues" in first
    assert feed.findtext(f"{ATOM}title").endswith("For you, today")

    rss = ET.fromstring(reader.get(_path(urls["rss"])).content)
    assert [i.findtext("title") for i in rss.iter("item")] == [p["paper"]["title"] for p in picks]
    assert rss.find("channel/item/description").text.startswith("<p>Why: ")  # HTML, as readers take it
    week = ET.fromstring(reader.get(_path(urls["atom"]), params={"span": "week"}).content)
    assert week.findtext(f"{ATOM}title").endswith("For you, this week")
    # A collection's own feed, as on /for-you?collection=ID.
    r = client.form("/collections", {"name": "Speech", "arxiv_id": papers["speech"].arxiv_id}, page="/")
    cid = r.headers["location"].split("/collections/")[1].split("?")[0].split("#")[0]
    speech = ET.fromstring(reader.get(_path(urls["atom"]), params={"collection": cid}).content)
    assert speech.findtext(f"{ATOM}title").endswith("For you, today, from “Speech”")
    titles = [e.findtext(f"{ATOM}title") for e in speech.findall(f"{ATOM}entry")]
    assert set(titles[:3]) == {f"Speech recognition with method {i}" for i in range(3)}


def test_what_the_member_does_shows_in_the_feed_at_once(site):
    """Never served from the page cache: a dismissed paper leaves the feed on the next read."""
    papers = topical(site)
    _, client = _seeded_member(site, papers)
    atom = _path(_turn(client, "on")["atom"])
    reader = site.client()

    def titles():
        return [e.findtext(f"{ATOM}title") for e in ET.fromstring(reader.get(atom).content).findall(f"{ATOM}entry")]

    before = titles()
    target = papers["protein0"]
    assert target.title in before
    tag = reader.get(atom).headers["etag"]  # a reader polling: nothing new, nothing sent
    assert reader.get(atom, headers={"If-None-Match": tag}).status_code == 304
    client.form(f"/papers/{target.arxiv_id}/not-interested", {"next": "/for-you"}, page="/for-you")
    assert reader.get(atom, headers={"If-None-Match": tag}).status_code == 200
    after = titles()
    assert target.title not in after and len(after) == len(before) - 1
    assert reader.get(atom).headers.get("x-paperboy-cache") != "hit"


def test_a_new_address_or_turning_it_off_ends_the_old_one_for_good(site):
    papers = topical(site)
    _, client = _seeded_member(site, papers)
    reader = site.client()
    first = _path(_turn(client, "on")["atom"])
    assert _path(_turn(client, "on")["atom"]) == first  # asking again changes nothing
    second = _path(_turn(client, "new")["atom"])
    assert second != first
    # An address that was the member's is Gone (410: a reader stops polling it).
    assert reader.get(first).status_code == 410 and reader.get(second).status_code == 200
    off = _turn(client, "off")
    assert off == {"notice": "feed_off", "on": False, "atom": None, "rss": None}
    r = reader.get(second)
    assert r.status_code == 410 and "replaced or turned off" in r.text
    third = _path(_turn(client, "on")["atom"])
    assert third not in (first, second)  # an address that got out stays dead
    assert [reader.get(u).status_code for u in (first, second, third)] == [410, 410, 200]


def test_a_script_with_a_write_token_turns_the_feed_on_replaces_its_address_and_turns_it_off(site):
    from tests.community.test_api_tokens import make_token, script

    papers = topical(site)
    _, client = _seeded_member(site, papers)
    reader, bot = site.client(), script(site, make_token(client, access="write"))
    on = bot.post("/api/for-you/feed", json={"action": "on"}).json()
    assert on["on"] and reader.get(_path(on["atom"])).status_code == 200
    new = bot.post("/api/for-you/feed", json={"action": "new"}).json()
    assert new["atom"] != on["atom"] and reader.get(_path(on["atom"])).status_code == 410
    assert bot.post("/api/for-you/feed", json={"action": "off"}).json() == {"on": False, "atom": None, "rss": None}
    assert reader.get(_path(new["atom"])).status_code == 410
    r = bot.post("/api/for-you/feed", json={"action": "share"})
    assert r.status_code == 422 and "on" in r.text
    readonly = script(site, make_token(client, name="reader", access="read"))
    assert readonly.post("/api/for-you/feed", json={"action": "on"}).status_code == 403


def test_forged_malformed_and_other_members_addresses_are_not_found(site):
    papers = topical(site)
    alice, alice_client = _seeded_member(site, papers)
    bob, bob_client = _seeded_member(site, papers)
    atom = _path(_turn(alice_client, "on")["atom"])
    key = atom.removeprefix("/feeds/for-you/").removesuffix(".atom")
    reader = site.client()
    forged = [
        f"/feeds/for-you/{bob.id}-{key.split('-')[1]}.atom",  # Alice's signature on Bob's id
        f"/feeds/for-you/{key[:-1]}{'0' if key[-1] != '0' else '1'}.atom",  # one hex digit changed
        f"/feeds/for-you/{alice.id}.atom",
        "/feeds/for-you/0-00000000000000000000000000000000.atom",
        f"/feeds/for-you/{'9' * 40}-{'a' * 32}.atom",
        "/feeds/for-you/%3Cscript%3E.atom",
    ]
    for path in forged:
        assert reader.get(path).status_code == 404, path
    assert reader.get(atom.replace(".atom", ".json")).status_code == 404  # only rss and atom: no such feed
    # Bob never turned his on: no address of his works.
    assert bob_client.get("/api/for-you/feed").json() == {"on": False, "atom": None, "rss": None}
    # Someone else's collection is not found in Alice's feed.
    r = bob_client.form("/collections", {"name": "Bob's", "arxiv_id": papers["speech"].arxiv_id}, page="/")
    bobs = int(r.headers["location"].split("/collections/")[1].split("?")[0].split("#")[0])
    assert reader.get(atom, params={"collection": bobs}).status_code == 404
    # An id past the database's integer is no collection either (not a driver's overflow).
    huge = "9" * 20
    assert reader.get(atom, params={"collection": huge}).status_code == 404
    assert alice_client.get("/for-you", params={"collection": huge}).status_code == 404
    api = alice_client.get("/api/for-you", params={"collection": huge})
    assert api.status_code == 404 and api.json()["detail"] == "No such collection of yours."


def test_a_suspended_members_feed_is_gone_and_a_paused_one_is_empty_and_says_so(site):
    papers = topical(site)
    user, client = _seeded_member(site, papers)
    atom = _path(_turn(client, "on")["atom"])
    reader = site.client()
    client.form("/for-you/pause", {"action": "pause"}, page="/for-you/learned")
    feed = ET.fromstring(reader.get(atom).content)
    assert feed.findall(f"{ATOM}entry") == [] and "paused" in feed.findtext(f"{ATOM}title")
    with site.engine.begin() as conn:
        conn.execute(update(User).where(User.id == user.id).values(is_suspended=True))
    assert reader.get(atom).status_code == 404


def test_turning_the_feed_on_needs_a_signed_in_member_and_the_forms_token(site):
    _, client = site.member()
    anon = site.client()
    r = anon.post("/for-you/feed", data={"action": "on", "csrf_token": anon.token("/")}, headers=JSON)
    assert r.status_code == 401
    r = client.post("/for-you/feed", data={"action": "on"}, headers={**JSON, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = client.post("/for-you/feed", data={"action": "share", "csrf_token": client.token("/")}, headers=JSON)
    assert r.status_code == 400 and "action=on, new or off" in r.text
    assert anon.get("/api/for-you/feed").status_code == 401
    # Without JavaScript the form comes back to the feed's section with what happened.
    r = client.form("/for-you/feed", {"action": "on"}, page="/for-you/learned")
    assert r.status_code == 303 and r.headers["location"] == "/for-you/learned?done=feed_on#feed"
    assert "Your private feed is on" in client.get("/for-you/learned?done=feed_on").text


def test_hostile_titles_are_plain_text_in_the_feed(site):
    papers = topical(site)
    hostile = site.paper(title='Protein folding <script>alert("x")</script> & <b>friends</b>',
                         abstract="Protein structure prediction of amino acid residues </summary><x>.",
                         announced_on=papers["protein0"].announced_on)
    _, client = _seeded_member(site, papers)
    atom = _path(_turn(client, "on")["atom"])
    r = site.client().get(atom)
    assert b"<script>" not in r.content and b"<b>" not in r.content
    titles = [e.findtext(f"{ATOM}title") for e in ET.fromstring(r.content).findall(f"{ATOM}entry")]
    assert hostile.title in titles  # the same text, escaped as XML, not dropped


def test_the_feed_switch_is_in_the_members_exported_data(site):
    papers = topical(site)
    _, client = _seeded_member(site, papers)
    _turn(client, "on")
    data = client.form("/account/export", page="/account").json()
    assert data["for_you"]["private_feed_on"] is True


def test_the_feeds_more_link_opens_the_first_pick_it_left_out(site):
    """The feed holds 50 picks and the page 30: "more" opens page 2 at the 51st pick,
    not at the 31st (20 the reader already has)."""
    import datetime as dt

    papers = topical(site)
    day = papers["protein"].announced_on + dt.timedelta(days=1)
    for i in range(60):
        site.paper(title=f"Protein structure variant {i}", abstract="Protein structure prediction of residues.",
                   announced_on=day)
    _, client = _seeded_member(site, papers)
    urls = _turn(client, "on")
    feed = ET.fromstring(site.client().get(_path(urls["atom"])).content)
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 51  # 50 picks and the entry that leads on
    more = entries[-1].find(f"{ATOM}link").get("href")
    picks = client.get("/api/for-you", params={"limit": 60}).json()["items"]
    assert more.endswith(f"/for-you?span=today&p=2#p-{picks[50]['paper']['id']}")
    page_two = client.get(_path(more) + "?span=today&p=2").text
    assert f'id="p-{picks[50]["paper"]["id"]}"' in page_two
