"""Submissions: by id or URL, fetched from (a loopback stand-in for) arXiv when unknown."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from paperboy.community.models import Submission
from paperboy.site import create_app
from paperboy.store.models import utcnow
from tests.community.conftest import Site, make_settings
from tests.support.fake_arxiv import FakeArxiv

API_JSON = "arxiv/api/new_api_2026_json_wrapped"


@pytest.fixture
def arxiv_site(shared_data, fresh_engine, tmp_path):
    with FakeArxiv() as fake:
        fake.load_api_recordings(shared_data / API_JSON)
        settings = make_settings(tmp_path, arxiv_api_url=fake.api_url, arxiv_delay=0, http_timeout=5.0,
                                 http_retries=1, submissions_per_day=2)
        yield Site(create_app(settings, fresh_engine), fresh_engine)


def test_submitting_an_unknown_paper_fetches_it_and_features_it_today(arxiv_site):
    site = arxiv_site
    user, client = site.member()
    r = client.form("/submit", {"arxiv": "https://arxiv.org/abs/1605.08386v1"}, page="/submit")
    # Every paper is listed on its arXiv day (PAPERBOY_FEED_MODE=all): the notice says so,
    # not "in today's feed".
    assert r.status_code == 303 and r.headers["location"] == "/papers/1605.08386?notice=submitted_listed"
    said = html.unescape(client.get(r.headers["location"]).text)
    # Nor that it counts for Trending, which ranks a listed paper from its arXiv day.
    assert ("Submitted: the paper is marked as submitted by you, and you are told of each new discussion of it; "
            "the daily feed keeps it on the day arXiv announced it.") in said and "today's feed" not in said
    assert "Trending" not in said.split("Submitted:")[1].split(".")[0]
    form = html.unescape(client.get("/submit").text)
    assert "Recommend an arXiv paper to the community" in form and "today's feed" not in form
    paper = site.get_paper("1605.08386")
    assert paper.featured_on == utcnow().date() and paper.submitted_by_id == user.id
    assert "submission" in paper.sources.split(",") and "api" in paper.sources.split(",")
    assert paper.authors_text == "Caprice Stanley, Tobias Windisch"
    with site.engine.connect() as conn:
        assert conn.scalar(select(Submission.user_id)) == user.id
    # Again, by anyone: a clear "already submitted", and when.
    _, other = site.member()
    r = other.form("/submit", {"arxiv": "1605.08386"}, page="/submit")
    assert r.status_code == 409 and "/papers/1605.08386" in r.text
    assert f"arXiv:1605.08386 was already submitted by a member, on {utcnow():%-d %b %Y}." in r.text


def test_where_only_submissions_are_listed_a_submission_is_in_todays_feed(shared_data, fresh_engine, tmp_path):
    with FakeArxiv() as fake:
        fake.load_api_recordings(shared_data / API_JSON)
        settings = make_settings(tmp_path, arxiv_api_url=fake.api_url, arxiv_delay=0, http_timeout=5.0,
                                 http_retries=1, feed_mode="submitted")
        site = Site(create_app(settings, fresh_engine), fresh_engine)
        _, client = site.member()
        r = client.form("/submit", {"arxiv": "1605.08386"}, page="/submit")
    assert r.status_code == 303 and r.headers["location"] == "/papers/1605.08386?notice=submitted"
    assert "Submitted: the paper is in today's feed" in html.unescape(client.get(r.headers["location"]).text)
    assert "/papers/1605.08386" in client.get("/").text  # and it is
    assert "Bring an arXiv paper to today's feed" in html.unescape(client.get("/submit").text)


def test_a_known_paper_is_featured_without_fetching(arxiv_site):
    site = arxiv_site
    paper = site.paper(arxiv_id="2501.04242")
    _, client = site.member()
    assert client.form("/submit", {"arxiv": "arXiv:2501.04242v3"}, page="/submit").status_code == 303
    got = site.get_paper(paper.arxiv_id)
    assert got.featured_on == utcnow().date() and got.sources == "listing,submission"
    assert got.modified_at > paper.modified_at


def test_bad_and_unknown_ids_get_clear_answers(arxiv_site):
    site = arxiv_site
    _, client = site.member()
    r = client.form("/submit", {"arxiv": "not a paper"}, page="/submit")
    assert r.status_code == 400 and "not an arXiv id" in r.text
    r = client.form("/submit", {"arxiv": "0808.05394"}, page="/submit")
    assert r.status_code == 404 and "arXiv has no paper 0808.05394" in r.text


def test_the_daily_cap(arxiv_site):
    site = arxiv_site
    papers = [site.paper() for _ in range(3)]
    _, client = site.member()
    codes = [client.form("/submit", {"arxiv": p.arxiv_id}, page="/submit").status_code for p in papers]
    assert codes == [303, 303, 429]
    assert site.get_paper(papers[2].arxiv_id).featured_on is None
    r = client.form("/submit", {"arxiv": papers[2].arxiv_id}, page="/submit")
    assert "limit of 2 submissions" in r.text


def test_an_unreachable_arxiv_is_a_clear_error(fresh_engine, tmp_path):
    from tests.support.servers import free_port

    settings = make_settings(tmp_path, arxiv_api_url=f"http://127.0.0.1:{free_port()}/api/query", arxiv_delay=0,
                             http_timeout=1.0, http_retries=0)
    site = Site(create_app(settings, fresh_engine), fresh_engine)
    _, client = site.member()
    r = client.form("/submit", {"arxiv": "1605.08386"}, page="/submit")
    assert r.status_code == 502 and "arXiv did not answer; try again in a minute." in r.text


def test_anonymous_visitors_are_sent_to_sign_in(arxiv_site):
    r = arxiv_site.client().get("/submit", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/submit"


def test_a_slow_arxiv_never_holds_a_submission_long_nor_stalls_the_site(shared_data, fresh_engine, tmp_path):
    """With the production retry settings, a member who submits while arXiv hangs gets
    an answer within 10 s; a burst of such submissions leaves other pages answering."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.community.test_concurrency import Member
    from tests.support.servers import serve_app_in_thread

    with FakeArxiv() as fake:
        fake.load_api_recordings(shared_data / API_JSON)
        fake.fail_next("slow", times=50, seconds=20)
        settings = make_settings(tmp_path, arxiv_api_url=fake.api_url, http_timeout=30.0, http_retries=5)
        site = Site(create_app(settings, fresh_engine), fresh_engine)
        user = site.user()
        with serve_app_in_thread(site.app) as base:
            members = [Member(base, user.email) for _ in range(8)]
            started = time.monotonic()
            with ThreadPoolExecutor(9) as pool:
                tries = [pool.submit(m.post, "/submit", {"arxiv": "1605.08386"}) for m in members]
                time.sleep(0.5)
                unrelated = httpx.get(base + "/api/daily_papers", timeout=30)
                answers = [t.result() for t in tries]
            waited = time.monotonic() - started
    assert unrelated.status_code == 200
    assert sorted({r.status_code for r in answers}) == [502, 503]
    assert all("try again in a minute" in r.text for r in answers)
    assert waited < 10
