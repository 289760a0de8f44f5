"""Alerts: a subscriber's saved searches, run with the search box's query language.

Every paper of an alert's section holds every word of the alert (common words aside) in
its title or abstract, or is close in meaning above ``settings.alert_min_similarity``;
phrases, exclusions, author: and cat: work as in search. The settings page previews what
each alert found over four weeks, and a search page's "Alert me" adds its search.

The corpus is indexed with the hash embedder (tests/offline): its "meaning" is shared
words, each cut to its first six letters, so "detector" and "detection" are the same
word to it but not to the keyword index (whose stems are "detector" and "detect").
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from paperboy.config import Settings
from paperboy.digest import services
from paperboy.digest.compose import Composer
from paperboy.digest.models import Subscription
from paperboy.digest.schedule import parse_digest_period
from paperboy.digest.tokens import sign
from paperboy.index.embedder import HashEmbedder, paper_text
from paperboy.index.jobs import refresh_index
from paperboy.index.service import SearchService
from paperboy.site import create_app
from paperboy.store.db import session_scope
from paperboy.store.models import Paper
from tests.community.conftest import Site
from tests.digest.conftest import DAY, PERIOD, seed_subscribers
from tests.support.factories import make_paper

# (key, title, abstract, authors, categories)
CORPUS = [
    ("goods", "Fair division of indivisible goods", "We allocate goods among agents with envy-freeness.",
     ["Grace Hopper"], ["cs.GT"]),
    ("cake", "Envy-free cake cutting", "A fair division protocol for a heterogeneous cake.",
     ["Alan Turing"], ["cs.GT", "math.CO"]),
    ("ranking", "Fair ranking in recommender systems", "Exposure should be fair across providers.",
     ["Emmy Noether"], ["cs.IR"]),
    ("algebras", "Division algebras over number fields", "We classify central division algebras.",
     ["Grace Hopper"], ["math.RA"]),
    # "fair" only as an author's name: the search box counts it (names are searched), alerts do not.
    ("byname", "Cake cutting protocols", "Protocols for the division of a cake among agents.",
     ["Ada Fair"], ["cs.GT"]),
    ("swapped", "When is a division fair", "Agents compare their shares of a division.",
     ["Alan Turing"], ["cs.GT"]),
    ("drones", "Object detectors on drones", "We train an object detector for drones.",
     ["Emmy Noether"], ["cs.CV"]),
    ("tracking", "Object tracking", "Tracking each object in video.", ["Alan Turing"], ["cs.CV"]),
]


def seed(engine, announced_on: dt.date = DAY, extra: dict | None = None) -> dict[str, int]:
    """The corpus (and ``extra`` papers: key -> title) announced on one day: key -> paper id."""
    ids = {}
    with session_scope(engine) as db:
        for key, title, abstract, authors, cats in CORPUS:
            ids[key] = make_paper(db, title=title, abstract=abstract, authors=authors, categories=cats,
                                  announced_on=announced_on).id
        for key, (title, day) in (extra or {}).items():
            ids[key] = make_paper(db, title=title, abstract="A note.", authors=["Alan Turing"],
                                  categories=["cs.GT"], announced_on=day).id
    return ids


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="test", mail_backend="null", embedder="hash")


@pytest.fixture
def papers(fresh_engine, settings) -> dict[str, int]:
    ids = seed(fresh_engine)
    refresh_index(settings, fresh_engine, progress=False)
    return ids


def alert(engine, settings, query: str, **overrides) -> set[str]:
    """The keys of the papers in the section ``query`` gets in the 2025-01-15 digest."""
    settings = settings.model_copy(update=overrides)
    with engine.connect() as conn:
        got = Composer(conn, settings, SearchService(settings, engine)).alert(parse_digest_period(PERIOD), query)
        keys = {pid: key for key, pid in _ids(conn).items()}
    return {keys[i] for i in got}


def _ids(conn) -> dict[str, int]:
    titles = {title: key for key, title, *_ in CORPUS}
    return {titles.get(t, t): i for i, t in conn.execute(select(Paper.id, Paper.title))}


def cosine(query: str, key: str) -> float:
    emb = HashEmbedder()
    _, title, abstract, *_ = next(row for row in CORPUS if row[0] == key)
    return float(emb.embed([paper_text(title, abstract)])[0] @ emb.embed_query(query))


# --- what an alert's section holds ---------------------------------------------------------

def test_every_word_of_the_alert_is_in_each_paper(fresh_engine, settings, papers):
    # Papers with only "fair" (ranking), only "division" (algebras), or "fair" only in an
    # author's name (byname) are left out; word order does not matter (swapped).
    assert alert(fresh_engine, settings, "fair division") == {"goods", "cake", "swapped"}
    assert alert(fresh_engine, settings, "the fair division of") == {"goods", "cake", "swapped"}
    # Four words: all four, where the search box asks for three of them.
    assert alert(fresh_engine, settings, "fair division indivisible goods") == {"goods"}
    # The search box itself is looser: it finds the paper by Ada Fair.
    found = SearchService(settings, fresh_engine).search("fair division", limit=50, mode="keyword")
    assert papers["byname"] in {h.paper_id for h in found.hits}


def test_semantic_matches_count_only_above_the_floor(fresh_engine, settings, papers):
    # To the hash embedder "detector" is "detection"; to the keyword index it is not.
    close, far = cosine("object detection", "drones"), cosine("object detection", "tracking")
    assert far < settings.alert_min_similarity <= close
    assert alert(fresh_engine, settings, "object detection") == {"drones"}
    assert alert(fresh_engine, settings, "object detection", alert_min_similarity=round(close, 2) + 0.01) == set()
    assert alert(fresh_engine, settings, "object detection", alert_min_similarity=round(far, 2) - 0.01) \
        == {"drones", "tracking"}
    # Only one of the words: in below the floor, never at the default.
    assert cosine("fair division", "ranking") < settings.alert_min_similarity
    assert "ranking" in alert(fresh_engine, settings, "fair division", alert_min_similarity=0.05)


def test_a_period_too_big_to_score_falls_back_to_the_nearest_papers(fresh_engine, settings, papers, monkeypatch):
    from paperboy.index import service

    monkeypatch.setattr(service, "ALERT_SCAN_MAX", 2)  # this period holds 8 papers
    assert alert(fresh_engine, settings, "object detection") == {"drones"}
    assert alert(fresh_engine, settings, "fair division -cake") == {"goods", "swapped"}


def test_phrases_and_exclusions(fresh_engine, settings, papers):
    assert alert(fresh_engine, settings, '"fair division"') == {"goods", "cake"}
    assert alert(fresh_engine, settings, "fair division -cake") == {"goods", "swapped"}
    assert alert(fresh_engine, settings, 'division -"fair division"') == {"algebras", "byname", "swapped"}


def test_author_and_category_filters(fresh_engine, settings, papers):
    assert alert(fresh_engine, settings, "author:Hopper") == {"goods", "algebras"}
    assert alert(fresh_engine, settings, 'author:"Grace Hopper" division') == {"goods", "algebras"}
    assert alert(fresh_engine, settings, "division cat:math.RA") == {"algebras"}
    assert alert(fresh_engine, settings, "fair division cat:math.CO") == {"cake"}  # a cross-list counts
    assert alert(fresh_engine, settings, "object cat:cs.GT") == set()


def test_alerts_keep_to_the_period(fresh_engine, settings):
    seed(fresh_engine, extra={"old": ("Fair division before", DAY - dt.timedelta(days=30)),
                              "new": ("Fair division after", DAY + dt.timedelta(days=1))})
    refresh_index(settings, fresh_engine, progress=False)
    got = alert(fresh_engine, settings, "fair division")
    assert got == {"goods", "cake", "swapped"}


# --- checking what is typed ----------------------------------------------------------------

@pytest.mark.parametrize(("lines", "message"), [
    (["x" * 201], "longer than 200 characters"),
    (["fair division", "Fair   Division"], "is there twice"),
    ([f"topic {i}" for i in range(21)], "At most 20 alerts"),
    (["graphs cat:cs.LG!"], "is not an arXiv category"),
    (["robots cat:cs.XX"], "cat:cs.XX is not an arXiv category"),  # well-formed, but arXiv has none
    (['"open quote'], "quote was not closed"),
    (["the of and"], "only common words"),
    (["((("], "no letters or digits"),
    (["pneumonoultramicroscopicsilicovolcanoconiosis"], "over 40 characters"),
    (["2401.00001"], "is a paper, not a search"),
])
def test_bad_alerts_are_refused_with_a_reason(lines, message):
    with pytest.raises(services.SubscriptionError, match=message):
        services.clean_alerts(lines)


def test_good_alerts_are_kept_tidy():
    assert services.clean_alerts(["  fair   division ", "", 'author:"Grace Hopper" -survey']) \
        == ["fair division", 'author:"Grace Hopper" -survey']
    sub = Subscription(alerts=["fair division"])
    with pytest.raises(services.SubscriptionError, match="already one of your alerts"):
        services.add_alert(sub, "FAIR division")
    with pytest.raises(services.SubscriptionError, match="empty"):
        services.add_alert(sub, "   ")
    sub.alerts = [f"topic {i}" for i in range(20)]
    with pytest.raises(services.SubscriptionError, match="20 alerts, the most"):
        services.add_alert(sub, "one more")


# --- the web: settings preview and "Alert me" ----------------------------------------------

@pytest.fixture
def site(fresh_engine, settings) -> Site:
    return Site(create_app(settings, fresh_engine), fresh_engine)


def token(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def settings_url(settings, engine, email: str) -> str:
    with session_scope(engine) as db:
        tok = db.scalars(select(Subscription.token).where(Subscription.email == email)).one()
    return f"/subscriptions/{sign(settings, 'settings', tok)}/settings"


def alerts_of(engine, email: str) -> list[str] | None:
    with session_scope(engine) as db:
        return db.scalars(select(Subscription.alerts).where(Subscription.email == email)).one_or_none()


def test_settings_page_previews_four_weeks_of_each_alert(site, fresh_engine, settings):
    today = dt.date.today()
    ids = seed(fresh_engine, announced_on=today - dt.timedelta(days=3),
               extra={"weeks ago": ("Fair division, five weeks ago", today - dt.timedelta(days=35)),
                      "last week": ("Fair division last week", today - dt.timedelta(days=10))})
    refresh_index(settings, fresh_engine, progress=False)
    seed_subscribers(fresh_engine, settings, ["tuner@example.org"],
                     alerts=["fair division", "author:Noether", "zebra finches"])
    page = site.client().get(settings_url(settings, fresh_engine, "tuner@example.org"))
    assert page.status_code == 200
    html = page.text
    sections = re.findall(r'<div class="alert-preview">(.*?)</div>', html, re.S)
    assert len(sections) == 3
    fair, noether, zebra = sections
    assert "fair division" in fair and "4 papers" in fair
    with session_scope(fresh_engine) as db:
        arxiv = dict(db.execute(select(Paper.id, Paper.arxiv_id)).all())
    links = set(re.findall(r'href="/papers/([^"]+)"', fair))
    assert links == {arxiv[ids[k]] for k in ("goods", "cake", "swapped", "last week")}
    assert "Noether" in noether and "2 papers" in noether
    assert set(re.findall(r'href="/papers/([^"]+)"', noether)) == {arxiv[ids["ranking"]], arxiv[ids["drones"]]}
    assert "0 papers" in zebra and "Nothing in these four weeks" in zebra


def test_alert_me_adds_the_search_to_the_members_digest(site, fresh_engine, settings, papers):
    user, client = site.member()
    seed_subscribers(fresh_engine, settings, [user.email], user_id=user.id, alerts=["graphs"])
    page = client.get("/search", params={"q": "fair division", "category": "cs.GT"})
    form = re.search(r'<form method="post" action="/account/digest/alerts".*?</form>', page.text, re.S).group(0)
    assert 'name="q" value="fair division"' in form and 'name="category" value="cs.GT"' in form

    r = client.post("/account/digest/alerts", data={"q": "fair division", "category": "cs.GT",
                                                    "csrf_token": token(form)}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == settings_url(settings, fresh_engine, user.email) + "?added=1#alert-notice"
    assert alerts_of(fresh_engine, user.email) == ["graphs", "fair division cat:cs.GT"]
    shown = client.get(r.headers["location"])
    assert "Alert added" in shown.text and "fair division cat:cs.GT" in shown.text
    # The address scrolls to the notice itself (it was the alerts box, below the notice).
    assert 'id="alert-notice">Alert added.' in shown.text

    # The same search again (a second press, or Back and press): it is there already, said
    # on the settings page (a GET, so a reload sends nothing), and nothing changes.
    again = client.post("/account/digest/alerts", data={"q": "fair  division", "category": "cs.GT",
                                                        "csrf_token": token(form)}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == settings_url(settings, fresh_engine, user.email) + "?already=1#alert-notice"
    assert "That search is already one of your alerts." in client.get(again.headers["location"]).text
    assert alerts_of(fresh_engine, user.email) == ["graphs", "fair division cat:cs.GT"]


ALERT_FORM = 'action="/account/digest/alerts"'
ALREADY = "✓ This search is one of your alerts."


def test_a_search_that_is_one_of_my_alerts_says_so_instead_of_offering_alert_me(site, fresh_engine, settings, papers):
    """The search page is rendered once and shared by members (the page cache); whether
    the search is one of *my* alerts is filled in for each of them."""
    alice, alice_client = site.member()
    _, bob_client = site.member()
    seed_subscribers(fresh_engine, settings, [alice.email], user_id=alice.id, alerts=["Fair Division cat:cs.GT"])
    search = {"q": "fair   division", "category": "cs.GT"}
    for _ in range(2):  # the second time from the cache, for both
        mine = alice_client.get("/search", params=search).text
        assert ALREADY in mine and "New papers for this search come in your digest." in mine
        assert ALERT_FORM not in mine
        assert 'href="/account/digest#alert-previews-title"' in mine
        theirs = bob_client.get("/search", params=search).text
        assert ALERT_FORM in theirs and ALREADY not in theirs
    # Without the category filter it is another search, and another alert.
    assert ALERT_FORM in alice_client.get("/search", params={"q": "fair division"}).text

    # A paused digest: the alert is there, and the page says when it would be sent.
    with session_scope(fresh_engine) as db:
        db.execute(update(Subscription).where(Subscription.email == alice.email).values(status="paused"))
    mine = alice_client.get("/search", params=search).text
    assert ALREADY in mine and "Your digest is paused" in mine


def test_alert_me_is_not_offered_for_an_arxiv_id(site, papers):
    """An id is a paper (not here: the page says so), not a search to be alerted about."""
    _, client = site.member()
    page = client.get("/search", params={"q": "arXiv:2606.99999"}).text
    assert 'action="/account/digest/alerts"' not in page
    assert 'action="/account/digest/alerts"' in client.get("/search", params={"q": "fair division"}).text
    assert "to get new papers for this search" not in site.client().get("/search", params={"q": "2606.99999"}).text


def test_alert_me_needs_the_csrf_token_and_a_member(site, fresh_engine, settings, papers):
    user, client = site.member()
    seed_subscribers(fresh_engine, settings, [user.email], user_id=user.id)
    # No token, and no Origin or Sec-Fetch-Site header to vouch for the request.
    r = client.post("/account/digest/alerts", data={"q": "fair division"}, follow_redirects=False)
    assert r.status_code == 403
    # Another site's form.
    page = client.get("/search", params={"q": "fair division"})
    r = client.post("/account/digest/alerts", data={"q": "fair division", "csrf_token": token(page.text)},
                    headers={"Sec-Fetch-Site": "cross-site"}, follow_redirects=False)
    assert r.status_code == 403
    assert alerts_of(fresh_engine, user.email) == []

    # Signed out: the page offers to sign in instead of the button, and a post goes to sign-in.
    anonymous = site.client()
    page = anonymous.get("/search", params={"q": "fair division"})
    assert 'action="/account/digest/alerts"' not in page.text
    prompt = re.search(r'<a href="(/signin\?next=[^"]+)">Sign in</a> to get new papers for this search', page.text)
    assert prompt and parse_qs(urlsplit(prompt.group(1)).query)["next"] == ["/search?q=fair+division"]
    r = anonymous.post("/account/digest/alerts", data={"q": "fair division", "csrf_token": token(page.text)},
                       headers={"Referer": "http://testserver/search?q=fair+division"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin?next=")
    assert alerts_of(fresh_engine, user.email) == []


def test_alert_me_without_a_digest_offers_one_that_starts_with_the_alert(site, fresh_engine, settings, papers):
    user, client = site.member()
    page = client.get("/search", params={"q": '"fair division" -cake'})
    r = client.post("/account/digest/alerts", data={"q": '"fair division" -cake', "csrf_token": token(page.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/account/digest?alert=")
    assert alerts_of(fresh_engine, user.email) is None  # nothing is created before they say so
    start = client.get(r.headers["location"])
    assert "Start my digest" in start.text and "&#34;fair division&#34; -cake" in start.text
    r = client.post("/account/digest", data={"alert": '"fair division" -cake', "csrf_token": token(start.text)},
                    follow_redirects=False)
    assert r.status_code == 303 and "/settings" in r.headers["location"]
    assert alerts_of(fresh_engine, user.email) == ['"fair division" -cake']


def test_settings_form_names_every_mistake_at_once_and_stores_none_of_it(site, fresh_engine, settings):
    """Three slips in one form are three sentences on one page, not one a round trip."""
    seed_subscribers(fresh_engine, settings, ["slips@example.org"], alerts=["fair division"])
    client = site.client()
    url = settings_url(settings, fresh_engine, "slips@example.org")
    form = {"frequency": "daily", "weekday": "0", "send_hour": "7", "timezone": "Europe/Pariss", "top_n": "500",
            "categories": "cs.LG cs.FAKE", "alerts": "graph neural networks\ncat:cs.NOPE\nthe of",
            "csrf_token": token(client.get(url).text)}
    r = client.post(url, data=form)
    assert r.status_code == 400
    notice = re.search(r'<div class="notice notice-error" role="alert">(.*?)</div>', r.text, re.S).group(1)
    items = re.findall(r"<li>(.*?)</li>", notice)
    assert "Nothing was saved: 5 things to mend." in notice
    assert len(items) == 5
    assert "not 500" in items[0]
    assert "&#39;Europe/Pariss&#39; is not an IANA time zone" in items[1]
    assert "not arXiv categories: cs.FAKE" in items[2]
    assert "cat:cs.NOPE is not an arXiv category" in items[3]
    assert "has only common words" in items[4]
    assert alerts_of(fresh_engine, "slips@example.org") == ["fair division"]
    with session_scope(fresh_engine) as db:
        sub = db.scalars(select(Subscription).where(Subscription.email == "slips@example.org")).one()
        assert (sub.timezone, sub.top_n, sub.categories) == ("UTC", 10, "")
    # What was typed stays in the form, to be mended rather than typed again.
    assert 'value="Europe/Pariss"' in r.text and "graph neural networks\ncat:cs.NOPE" in r.text

    # One slip is one sentence, as before.
    r = client.post(url, data={**form, "timezone": "Europe/Paris", "top_n": "5", "categories": "cs.LG",
                               "alerts": "fair division"})
    assert r.status_code == 200
    r = client.post(url, data={**form, "timezone": "Europe/Paris", "top_n": "5", "categories": "cs.LG",
                               "alerts": "graph neural networks\ncat:cs.NOPE"})
    assert r.status_code == 400 and "things to mend" not in r.text and 'role="alert">“cat:cs.NOPE”' in r.text


def test_settings_form_refuses_bad_alerts_and_keeps_the_old_ones(site, fresh_engine, settings):
    seed_subscribers(fresh_engine, settings, ["form@example.org"], alerts=["fair division"])
    client = site.client()
    url = settings_url(settings, fresh_engine, "form@example.org")
    page = client.get(url)
    form = {"frequency": "daily", "weekday": "0", "send_hour": "7", "timezone": "UTC", "top_n": "5",
            "categories": "", "csrf_token": token(page.text)}
    r = client.post(url, data={**form, "alerts": "fair division\nFair Division"})
    assert r.status_code == 400 and "is there twice" in r.text
    assert alerts_of(fresh_engine, "form@example.org") == ["fair division"]
    r = client.post(url, data={**form, "alerts": "fair division\n\n  object   detection "})
    assert r.status_code == 200
    assert alerts_of(fresh_engine, "form@example.org") == ["fair division", "object detection"]


def test_a_refused_alert_leads_back_to_its_search(site, fresh_engine, settings, papers):
    user, client = site.member()
    seed_subscribers(fresh_engine, settings, [user.email], user_id=user.id)
    page = client.get("/search", params={"q": '"open quote'})
    r = client.post("/account/digest/alerts", data={"q": '"open quote', "csrf_token": token(page.text)},
                    headers={"Referer": "http://testserver/search?q=%22open+quote"})
    assert r.status_code == 400 and "quote was not closed" in r.text
    assert '<a href="/search?q=%22open+quote" data-history-back class="button button-primary">Back to the search</a>' \
        in r.text


def test_with_many_alerts_each_ones_papers_fold_and_the_newest_is_open(site, fresh_engine, settings):
    today = dt.date.today()
    seed(fresh_engine, announced_on=today - dt.timedelta(days=3))
    refresh_index(settings, fresh_engine, progress=False)
    seed_subscribers(fresh_engine, settings, ["many@example.org"],
                     alerts=["fair division", "author:Noether", "ranking", "fair"])
    url = settings_url(settings, fresh_engine, "many@example.org")
    client = site.client()
    html = client.get(url).text
    folds = re.findall(r"<details( open)?><summary>The papers</summary>", html)
    assert len(folds) == 4 and not any(folds)  # four alerts: each list folded
    html = client.get(url + "?added=1").text
    assert re.findall(r"<details( open)?><summary>The papers</summary>", html)[-1] == " open"  # the one just added
    # the next digest, its preview and unsubscribing come before the lists, not after them
    assert html.index("Preview it") < html.index('id="alert-previews-title"')
