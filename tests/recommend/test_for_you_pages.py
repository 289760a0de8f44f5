"""The "For you" pages, forms and JSON, signed in through the real forms, on both backends."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from paperboy.store.models import ImportOutcome, InterestSignal
from paperboy.web.cards import card_id

DAY = dt.date(2025, 3, 4)


def topical(site):
    """Yesterday: one paper per topic; today: three per topic."""
    made = {}
    texts = {
        "protein": ("Protein folding with {x}", "Protein structure prediction of amino acid residues with {x}."),
        "speech": ("Speech recognition with {x}", "Automatic speech recognition of spoken audio with {x}."),
    }
    for topic, (title, abstract) in texts.items():
        made[topic] = site.paper(title=title.format(x="old tools"), abstract=abstract.format(x="old tools"),
                                 announced_on=DAY - dt.timedelta(days=1))
        for i in range(3):
            made[f"{topic}{i}"] = site.paper(title=title.format(x=f"method {i}"),
                                             abstract=abstract.format(x=f"method {i}"), announced_on=DAY)
    return made


def titles_in_order(html: str) -> list[str]:
    return re.findall(r'<h2 class="card-title"><a href="[^"]+">([^<]+)</a>', html)


def test_signed_out_readers_are_told_what_it_is_and_to_sign_in(site):
    r = site.client().get("/for-you")
    assert r.status_code == 200
    assert "Sign up" in r.text and "/signin?next=/for-you" in r.text


def test_a_new_member_is_shown_how_to_start(site):
    topical(site)
    _, client = site.member()
    r = client.get("/for-you")
    assert "Nothing to learn from yet" in r.text
    assert 'action="/for-you/seeds"' in r.text and 'name="bibtex"' in r.text


def test_a_new_member_is_offered_a_paper_of_each_topic_and_a_vote_on_one_starts_the_feed(site):
    papers = topical(site)
    _, client = site.member()
    page = client.get("/for-you").text
    assert "Or begin with today’s papers" in page
    offered = titles_in_order(page.split('class="starters"', 1)[1])
    # The three papers of a topic read alike to the words (they differ by a digit): one each.
    assert sorted(t.split(" with ")[0] for t in offered) == ["Protein folding", "Speech recognition"]
    data = client.get("/api/for-you").json()
    assert [p["title"] for p in data["starters"]] == offered and data["items"] == []
    # Not interested in one: another paper of its topic takes its place.
    first = next(p for p in papers.values() if p.title == offered[0])
    client.form(f"/papers/{first.arxiv_id}/not-interested", {"next": "/for-you"}, page="/for-you")
    again = titles_in_order(client.get("/for-you").text.split('class="starters"', 1)[1])
    assert offered[0] not in again and sorted(t.split(" with ")[0] for t in again) == sorted(
        t.split(" with ")[0] for t in offered)
    # A vote for the speech paper: the feed has something to learn from, and begins.
    speech = next(p for p in papers.values() if p.title in again and p.title.startswith("Speech"))
    client.form(f"/papers/{speech.arxiv_id}/vote", page="/for-you")
    page = client.get("/for-you").text
    assert 'class="starters"' not in page and "Nothing to learn from yet" not in page
    assert titles_in_order(page)[0].startswith("Speech recognition")
    assert client.get("/api/for-you").json()["starters"] == []


def test_seeding_with_ids_and_bibtex_gives_picks_with_why_lines(site):
    papers = topical(site)
    _, client = site.member()
    eprint = papers["protein"].arxiv_id
    bib = ("@article{a, title={Protein folding}, eprint={" + eprint + "}, archivePrefix={arXiv}}\n"
           "@inproceedings{b, title={No arXiv version}, booktitle={Proc}}\n")
    r = client.post("/for-you/seeds", data={"csrf_token": client.token("/for-you/learned"), "ids": "9912.99999 hello"},
                    files={"bibtex": ("library.bib", bib.encode(), "application/x-bibtex")})
    assert r.status_code == 200
    assert "Added 1 seed paper." in r.text
    assert "1 is not on this instance yet: it is being fetched from arXiv and will seed the feed" in r.text
    assert "1 BibTeX entry names no arXiv id: its title is being looked up on arXiv" in r.text
    assert "Not arXiv ids: hello" in r.text
    page = client.get("/for-you").text
    order = titles_in_order(page)
    assert set(order[:3]) == {f"Protein folding with method {i}" for i in range(3)}
    assert 'class="why"' in page and f'close to <a href="/papers/{eprint}">' in page


def test_the_seed_form_redirects_to_the_page_which_says_what_it_came_to_until_the_reset(site):
    papers = topical(site)
    _, client = site.member()
    _, other = site.member()
    r = client.form("/for-you/seeds", {"ids": f"{papers['protein'].arxiv_id} hello"}, page="/for-you/learned")
    assert r.status_code == 303 and re.fullmatch(r"/for-you/learned\?seeded=\d+#seed-h", r.headers["location"])
    for _reload in range(2):  # reloading the page seeds nothing again
        page = client.get(r.headers["location"]).text
        assert "Added 1 seed paper." in page and "Not arXiv ids: hello" in page
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(InterestSignal)) == 1
    assert "Added 1 seed paper." not in client.get("/for-you/learned").text
    assert "Added 1 seed paper." not in other.get(r.headers["location"]).text
    client.form("/for-you/reset", page="/for-you/learned")
    assert "Added 1 seed paper." not in client.get(r.headers["location"]).text  # forgotten with the seeds
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ImportOutcome)) == 0


def test_a_large_library_export_is_read_and_a_too_large_one_refused_with_the_limit(site):
    """A Zotero export past the 1 MB every other form takes (the abstracts make it big) is
    read; past 2 MB the member is told the limit."""
    papers = topical(site)
    _, client = site.member()
    entry = "@article{a, title={Protein folding}, eprint={" + papers["protein"].arxiv_id + "}, archivePrefix={arXiv}}\n"
    padding = "@misc{pad%d, title={A journal paper}, abstract={" + "x" * 1000 + "}}\n"
    big = entry + "".join(padding % i for i in range(1500))  # 1.5 MB
    r = client.post("/for-you/seeds", data={"csrf_token": client.token("/for-you/learned")},
                    files={"bibtex": ("library.bib", big.encode(), "application/x-bibtex")})
    assert r.status_code == 200 and "Added 1 seed paper." in r.text
    r = client.post("/for-you/seeds", data={"csrf_token": client.token("/for-you/learned")},
                    files={"bibtex": ("library.bib", (big * 2).encode(), "application/x-bibtex")})
    assert r.status_code == 413 and "That file is over 2 MB; export fewer entries." in r.text  # refused before it is read


def test_not_interested_hides_a_paper_and_can_be_undone(site):
    papers = topical(site)
    user, client = site.member()
    client.form(f"/papers/{papers['protein'].arxiv_id}/vote", page="/")
    target = papers["protein0"]
    page = client.get("/for-you").text
    assert target.title in page
    assert f'action="/papers/{target.arxiv_id}/not-interested"' in page
    r = client.form(f"/papers/{target.arxiv_id}/not-interested", {"next": "/for-you"}, page="/for-you")
    assert r.status_code == 303 and r.headers["location"].startswith("/for-you")
    assert target.title not in client.get("/for-you").text
    with site.engine.connect() as conn:
        assert conn.scalar(select(InterestSignal.kind).where(InterestSignal.paper_id == target.id)) == "not_interested"
    # The paper's card elsewhere now offers the undo.
    assert "Not interested ✓" in client.get(f"/papers?date={DAY}").text
    client.form(f"/papers/{target.arxiv_id}/not-interested", {"action": "off"}, page="/for-you")
    assert target.title in client.get("/for-you").text


def test_not_interested_without_javascript_returns_to_the_page_it_was_clicked_on(site):
    """A card's button sends no ``next``: the member comes back to where they were (at the
    card), not to For you; on For you itself the page says what happened."""
    papers = topical(site)
    _, client = site.member()
    daily = f"http://testserver/papers?date={DAY}"
    r = client.form(f"/papers/{papers['speech0'].arxiv_id}/not-interested", page="/", headers={"Referer": daily})
    assert r.status_code == 303
    assert r.headers["location"] == f"/papers?date={DAY}#p-{papers['speech0'].arxiv_id}"
    assert "Not interested ✓" in client.get(r.headers["location"]).text
    r = client.form(f"/papers/{papers['speech1'].arxiv_id}/not-interested", page="/",
                    headers={"Referer": "http://testserver/for-you?period=week"})
    assert r.headers["location"] == "/for-you?period=week&done=dismissed"
    r = client.form(f"/papers/{papers['speech0'].arxiv_id}/not-interested", {"action": "off"}, page="/",
                    headers={"Referer": "http://testserver/for-you?period=week&done=dismissed"})
    assert r.headers["location"] == "/for-you?period=week&done=undismissed"  # one notice, the new one
    r = client.form(f"/papers/{papers['speech2'].arxiv_id}/not-interested", page="/",
                    headers={"Referer": "https://elsewhere.example/papers"})
    assert r.headers["location"] == "/for-you?done=dismissed"  # another site's page: For you
    # The paper's own page offers it too (a member arriving from a digest), and comes back there.
    paper = f"/papers/{papers['protein0'].arxiv_id}"
    assert f'action="{paper}/not-interested"' in client.get(paper).text
    r = client.form(f"{paper}/not-interested", page="/", headers={"Referer": f"http://testserver{paper}"})
    assert r.headers["location"] == paper  # no card of its own to scroll to, as a vote there


def test_not_interested_needs_a_member_and_csrf(site):
    papers = topical(site)
    anon = site.client()
    r = anon.post(f"/papers/{papers['speech0'].arxiv_id}/not-interested", follow_redirects=False)
    assert r.status_code in (401, 403)
    _, client = site.member()
    r = client.post(f"/papers/{papers['speech0'].arxiv_id}/not-interested", data={"action": "on"},
                    headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert r.status_code == 403
    with site.engine.connect() as conn:
        assert conn.scalar(select(InterestSignal.kind)) is None


def test_reset_forgets_votes_and_pause_stops_the_feed(site):
    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['speech'].arxiv_id}/vote", page="/")
    assert "Speech recognition with method" in client.get("/for-you").text
    learned = client.get("/for-you/learned").text
    assert "Learning from 1 paper" in learned and papers["speech"].title in learned
    r = client.form("/for-you/pause", {"action": "pause"}, page="/for-you/learned")
    assert "Paused: your feed picks nothing" in client.get(r.headers["location"]).text
    paused_page = client.get("/for-you").text
    assert "Your “For you” feed is paused" in paused_page
    assert '<input type="hidden" name="back" value="/for-you">' in paused_page
    assert "What you vote for, save and seed meanwhile is kept, and counts when you resume" in paused_page
    client.form(f"/papers/{papers['protein'].arxiv_id}/vote", page="/")  # while paused
    # Its Resume comes back to the picks, saying so (the learned page's to that page).
    back = client.form("/for-you/pause", {"action": "resume", "back": "/for-you"}, page="/for-you")
    assert back.headers["location"] == "/for-you?done=resumed"
    picks = client.get(back.headers["location"]).text
    assert "Resumed: your picks are back, learned from everything you voted for, saved and seeded, paused or not." \
        in picks and "Speech recognition with method" in picks
    assert "Protein folding with method" in picks  # the vote made while paused counts
    assert "Learning from 2 papers" in client.get("/for-you/learned").text
    client.form("/for-you/pause", {"action": "pause"}, page="/for-you/learned")
    resumed = client.form("/for-you/pause", {"action": "resume"}, page="/for-you/learned")
    assert resumed.headers["location"] == "/for-you/learned?done=resumed"
    assert client.form("/for-you/pause", {"action": "resume", "back": "https://elsewhere.example/"},
                       page="/for-you").headers["location"].startswith("/for-you/learned")
    # The page after pausing, reached again by Back once resumed, says nothing stale.
    again = client.get(r.headers["location"]).text
    assert "Paused: your feed picks nothing" not in again and "Pause the feed" in again
    client.form("/for-you/reset", page="/for-you/learned")
    assert "Nothing to learn from yet" in client.get("/for-you").text
    assert "Learning from 0 papers" in client.get("/for-you/learned").text


def test_stop_learning_from_a_vote_keeps_the_vote(site):
    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['speech'].arxiv_id}/vote", page="/")
    client.form("/for-you/signals/remove", {"arxiv_id": papers["speech"].arxiv_id}, page="/for-you/learned")
    learned = client.get("/for-you/learned").text
    assert "Learning from 0 papers" in learned and "Votes and saves it ignores (1)" in learned
    assert site.get_paper(papers["speech"].arxiv_id).upvotes == 1


def _liked_and_its_match(site, liked: tuple[str, str], match: tuple[str, str]):
    """A member who voted for the paper ``liked`` (title, abstract) the day before one like
    it, ``match``, comes among four on other topics; the member's client and first pick."""
    paper = site.paper(title=liked[0], abstract=liked[1], announced_on=DAY - dt.timedelta(days=1))
    site.paper(title=match[0], abstract=match[1], announced_on=DAY)
    for i, topic in enumerate(["glacier melt", "tensor rank", "graph colouring", "solar wind"]):
        site.paper(title=f"On {topic}", abstract=f"Results {i} about {topic}.", announced_on=DAY)
    _, client = site.member()
    client.form(f"/papers/{paper.arxiv_id}/vote", page="/")
    return client, client.get("/api/for-you?limit=1").json()["items"][0]


def test_a_why_line_names_a_shared_phrase_once_not_its_words_again_beside_it(site):
    client, first = _liked_and_its_match(site, ("Quokka lemur survey", "We survey the quokka lemur."),
                                         ("Quokka lemur census", "A census of the quokka lemur."))
    assert first["paper"]["title"] == "Quokka lemur census"
    # the three terms shared weigh the same; "quokka, lemur, quokka lemur" says one thing thrice
    assert first["why"]["words"] == ["quokka lemur"]
    assert "mentions “quokka lemur”, as papers you liked do" in client.get("/for-you").text


def test_a_why_line_writes_names_and_acronyms_as_the_papers_do(site):
    client, first = _liked_and_its_match(
        site, ("Quokka tuning for dLLMs", "We tune dLLMs with QuokkaNet on the ZWX benchmark."),
        ("Faster dLLMs", "Small dLLMs trained with QuokkaNet reach the ZWX state of the art."))
    assert first["paper"]["title"] == "Faster dLLMs"
    assert set(first["why"]["words"]) == {"dLLMs", "QuokkaNet", "ZWX"}  # not "dllms", "quokkanet", "zwx"
    assert "“dLLMs”" in client.get("/for-you").text
    # and the words that weigh most, on what the feed learned
    learned = client.get("/for-you/learned").text
    chips = re.findall(r'<span class="chip">([^<]*)</span>', learned[learned.index("Words that weigh most"):])
    assert "dLLMs with QuokkaNet" in chips  # a phrase across a stop word, with it
    assert not [c for c in chips if "dllms" in c or "quokkanet" in c or "zwx" in c], chips


def _learned_chips(client) -> list[str]:
    learned = client.get("/for-you/learned").text
    at = learned.find("Words that weigh most")
    return re.findall(r'<span class="chip">([^<]*)</span>', learned[at:]) if at >= 0 else []


def test_what_it_learned_follows_each_change_of_what_the_member_likes(site):
    glacier = site.paper(title="Glacier melt rates", abstract="Glacier melt measured on glaciers.",
                         announced_on=DAY - dt.timedelta(days=1))
    wind = site.paper(title="Solar wind bursts", abstract="Solar wind bursts seen from orbit.",
                      announced_on=DAY - dt.timedelta(days=1))
    site.paper(title="Tensor rank bounds", abstract="Bounds on tensor rank.", announced_on=DAY)
    _, client = site.member()
    client.form(f"/papers/{glacier.arxiv_id}/vote", page="/")
    assert "glacier" in " ".join(_learned_chips(client))
    assert _learned_chips(client) == _learned_chips(client)  # asked again: the same answer
    client.form(f"/papers/{wind.arxiv_id}/vote", page="/")
    both = " ".join(_learned_chips(client))
    assert "glacier" in both and "solar" in both
    client.form("/for-you/signals/remove", {"arxiv_id": glacier.arxiv_id}, page="/for-you/learned")
    now = " ".join(_learned_chips(client))
    assert "solar" in now and "glacier" not in now


def test_the_json_api_gives_picks_with_structured_reasons(site):
    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['protein'].arxiv_id}/vote", page="/")
    r = client.get("/api/for-you?span=week&limit=2")
    assert r.status_code == 200
    body = r.json()
    assert body["span"] == "week" and body["learning_from"] == 1
    assert body["total"] == 7  # two days of 4 papers, less the one voted for
    assert len(body["items"]) == 2
    first = body["items"][0]
    assert first["paper"]["title"].startswith("Protein folding with method")
    assert first["why"]["nearest_liked_paper"] == papers["protein"].arxiv_id
    # Paged with p as every list (Link, X-Total-Count); offset still works on its own.
    pages = [client.get(f"/api/for-you?span=week&limit=3&p={n}") for n in range(3)]
    ids = [i["paper"]["id"] for page in pages for i in page.json()["items"]]
    assert len(ids) == 7 == len(set(ids)) and ids[:2] == [i["paper"]["id"] for i in body["items"]]
    assert 'p=1>; rel="next"' in pages[0].headers["link"] and 'p=2>; rel="last"' in pages[0].headers["link"]
    assert pages[0].headers["x-total-count"] == "7" and 'rel="next"' not in pages[2].headers["link"]
    assert [i["paper"]["id"] for i in client.get("/api/for-you?span=week&limit=3&offset=3").json()["items"]] == ids[3:6]
    assert client.get("/api/for-you?span=week&p=1&offset=3").status_code == 422
    assert isinstance(first["why"]["similarity"], float)
    # A pick from a follow alone is near no liked paper: its similarity is null, not 0.
    _, follower = site.member()
    follower.form("/follows", {"kind": "author", "target": "Ada Lovelace"}, page="/")
    why = follower.get("/api/for-you?span=week&limit=1").json()["items"][0]["why"]
    assert why["followed_author"] == "Ada Lovelace" and why["nearest_liked_paper"] is None and why["similarity"] is None
    assert first["why"]["text"].startswith("close to “Protein folding with old tools”")
    before = dt.datetime.now(dt.UTC)
    client.form("/collections", {"name": "Speech", "arxiv_id": papers["speech0"].arxiv_id}, page="/")
    signals = client.get("/api/for-you/signals").json()
    liked = {s["arxiv_id"]: s for s in signals["liked"]}
    assert set(liked) == {papers["protein"].arxiv_id, papers["speech0"].arxiv_id}
    assert liked[papers["protein"].arxiv_id]["kind"] == "vote"
    assert liked[papers["speech0"].arxiv_id]["kind"] == "save"
    # Each says when it was given, votes and saves as marks do.
    saved_at = dt.datetime.fromisoformat(liked[papers["speech0"].arxiv_id]["at"].replace("Z", "+00:00"))
    voted_at = dt.datetime.fromisoformat(liked[papers["protein"].arxiv_id]["at"].replace("Z", "+00:00"))
    assert voted_at <= before <= saved_at
    assert site.client().get("/api/for-you").status_code == 401


def test_a_collection_has_its_own_feed(site):
    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['protein'].arxiv_id}/vote", page="/")
    client.form("/collections", {"name": "Audio", "arxiv_id": papers["speech"].arxiv_id}, page="/")
    page = client.get("/for-you").text
    cid = re.search(r'<option value="(\d+)"[^>]*>Collection: Audio', page).group(1)
    order = titles_in_order(client.get(f"/for-you?collection={cid}").text)
    assert set(order[:3]) == {f"Speech recognition with method {i}" for i in range(3)}
    _, other = site.member()
    assert other.get(f"/for-you?collection={cid}").status_code == 404


def test_the_signals_are_in_the_account_export_and_go_with_the_account(site):
    papers = topical(site)
    user, client = site.member()
    client.form(f"/papers/{papers['speech0'].arxiv_id}/not-interested", page="/for-you")
    export = client.form("/account/export", page="/account").json()
    assert export["for_you"]["signals"] == [
        {"arxiv_id": papers["speech0"].arxiv_id, "kind": "not_interested", "at": export["for_you"]["signals"][0]["at"]}]


def test_a_search_result_can_seed_the_feed(site):
    papers = topical(site)
    _, client = site.member()
    target = papers["speech"]
    results = client.get("/search?q=speech").text
    assert results.count("+ Seed For you") == 4  # the four speech papers
    assert "+ Seed For you" not in site.client().get("/search?q=speech").text
    r = client.form("/for-you/seeds", {"ids": target.arxiv_id, "next": "back"}, page="/for-you/learned",
                    headers={"Referer": "http://testserver/search?q=speech"})
    # Without JavaScript: back to the results, at the card (with it: in place, below).
    assert r.status_code == 303 and r.headers["location"] == f"/search?q=speech#{card_id(target.arxiv_id)}"
    learned = client.get("/for-you/learned").text
    assert "Learning from 1 paper" in learned and target.title in learned
    results = client.get("/search?q=speech").text
    assert results.count("+ Seed For you") == 3 and "✓ Seeds your For you feed" in results
    # a paper voted for or saved teaches the feed already: nothing to seed
    client.form(f"/papers/{papers['speech0'].arxiv_id}/vote", page="/")
    made = client.form("/collections", {"name": "Audio", "arxiv_id": papers["speech1"].arxiv_id}, page="/")
    assert made.status_code == 303
    results = client.get("/search?q=speech").text
    assert results.count("+ Seed For you") == 1 and results.count("✓ Seeds your For you feed") == 1


def test_titles_on_what_it_learned_are_escaped_and_their_math_rendered(site):
    hostile = site.paper(title="<script>alert(1)</script> sorting in $O(n^2)$", announced_on=DAY)
    _, client = site.member()
    client.form(f"/papers/{hostile.arxiv_id}/vote", page="/")
    learned = client.get("/for-you/learned").text
    assert "<script>alert(1)</script>" not in learned
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in learned
    assert "<math" in learned  # the link text; the button's aria-label keeps plain text


def test_signed_in_json_answers_match_the_published_schema(site):
    from jsonschema import Draft202012Validator

    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['protein'].arxiv_id}/vote", page="/")
    doc = client.get("/openapi.json").json()

    def check(path: str, method: str, body) -> None:
        schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
        errors = list(Draft202012Validator({**schema, "components": doc["components"]}).iter_errors(body))
        assert not errors, [e.message for e in errors[:3]]

    body = client.get("/api/for-you?span=week").json()
    assert body["items"]
    check("/api/for-you", "get", body)
    check("/api/for-you/signals", "get", client.get("/api/for-you/signals").json())
    check("/api/for-you/feed", "get", client.get("/api/for-you/feed").json())  # off: addresses null
    client.form("/for-you/feed", {"action": "on"}, page="/for-you/learned")
    check("/api/for-you/feed", "get", client.get("/api/for-you/feed").json())
    target = papers["speech0"].arxiv_id
    r = client.post(f"/api/for-you/not-interested/{target}", headers={"X-CSRF-Token": client.token("/")})
    assert r.status_code == 200 and r.json() == {"arxiv_id": target, "not_interested": True}
    check("/api/for-you/not-interested/{arxiv_id}", "post", r.json())
    assert client.post("/api/for-you/not-interested/not-an-id",
                       headers={"X-CSRF-Token": client.token("/")}).status_code == 404


def test_a_page_past_the_picks_says_so_and_leads_to_the_last(site):
    papers = topical(site)
    _, client = site.member()
    client.form(f"/papers/{papers['speech'].arxiv_id}/vote", page="/")
    page = client.get("/for-you").text
    assert "ranked for you (from their words)." in page  # no vectors on this instance: nothing is being built
    past = client.get("/for-you?p=99")
    assert past.status_code == 404 and "There is no page 99: your " in past.text
    assert "Go to the last page (1)" in past.text and "Nothing new to pick" not in past.text
