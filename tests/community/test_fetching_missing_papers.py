"""Papers a member imports or seeds that this instance does not have are fetched from
arXiv (a loopback stand-in serving recorded API answers) by a worker, stored, and saved
where the member asked: into the collection, or among For you's seeds. arXiv not
knowing a paper, or not answering, is said on the page; a killed worker's batch is taken
over without fetching or saving twice."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from paperboy.ingest import wanted
from paperboy.site import create_app
from paperboy.store.models import InterestSignal, Paper, User, WantedPaper, utcnow
from tests.community.conftest import Site, make_settings
from tests.community.wanted_helpers import arxiv_site, run_worker, said, saved, worker
from tests.support.fake_arxiv import FakeArxiv

ON_ARXIV = ["1605.08386", "1707.08567", "2104.12255"]  # in the recorded answers
NOT_ON_ARXIV = "0808.05394"  # arXiv answers that it has no such paper


@pytest.fixture
def fake():
    with FakeArxiv() as server:
        yield server


@pytest.fixture
def site(shared_data, fake, fresh_engine, tmp_path):
    return arxiv_site(shared_data, fake, fresh_engine, tmp_path)










def new_collection(site, member, name="Reading") -> int:
    first = site.paper(title="Already here")
    r = member.form("/collections", {"name": name, "arxiv_id": first.arxiv_id}, page="/")
    return int(re.search(r"/collections/(\d+)", r.headers["location"]).group(1))




def queue_rows(site) -> list:
    with site.engine.connect() as conn:
        return conn.execute(select(WantedPaper.arxiv_id, WantedPaper.state, WantedPaper.attempts, WantedPaper.note,
                                   WantedPaper.due_at).order_by(WantedPaper.id)).all()


def test_imported_papers_this_instance_lacks_are_fetched_and_saved_into_the_collection(site, fake):
    _, ada = site.member()
    cid = new_collection(site, ada)
    ids = "\n".join([*ON_ARXIV, NOT_ON_ARXIV])
    r = ada.submit(f"/collections/{cid}/import", {"ids": ids}, page=f"/collections/{cid}")
    assert r.status_code == 200
    assert ("4 are not on this instance yet: they are being fetched from arXiv and will be saved here within "
            "minutes.") in said(r)
    assert "Fetching 4 papers from arXiv" in said(r)
    assert saved(site, cid) == {p for p in saved(site, cid) if p not in ON_ARXIV}  # nothing saved yet

    served = run_worker(site)

    assert [(s.saved, s.unknown, s.later) for s in served] == [(3, 1, 0)]
    assert len([p for p, q in fake.requests if q.get("id_list")]) == 1  # one request for the batch
    assert set(ON_ARXIV) <= saved(site, cid)
    stored = site.get_paper("1605.08386")
    assert stored.authors_text == "Caprice Stanley, Tobias Windisch" and "api" in stored.sources.split(",")
    assert stored.featured_on is None and stored.announced_on is None  # a library paper, not today's news
    page = ada.get(f"/collections/{cid}")
    assert "Fetching" not in said(page) and f"arXiv has no paper {NOT_ON_ARXIV}." in said(page)
    assert page.text.count('class="card"') == 4
    assert [(a, s) for a, s, *_ in queue_rows(site)] == [(NOT_ON_ARXIV, "unknown")]  # the saved ones are done

    r = ada.form(f"/collections/{cid}/wanted/clear", page=f"/collections/{cid}")
    assert r.status_code == 303 and "notice=wanted_cleared" in r.headers["location"]
    assert queue_rows(site) == [] and "arXiv has no paper" not in said(ada.get(f"/collections/{cid}"))
    assert run_worker(site) == []


def test_seed_papers_this_instance_lacks_seed_the_feed_once_fetched(site):
    user, ada = site.member()
    r = ada.submit("/for-you/seeds", {"ids": f"{ON_ARXIV[0]}\n{NOT_ON_ARXIV}"}, page="/for-you/learned")
    assert r.status_code == 200
    assert "2 are not on this instance yet: they are being fetched from arXiv and will seed the feed" in said(r)
    assert "Fetching 2 papers from arXiv; they are added to your seeds as they arrive" in said(r)

    run_worker(site)

    with site.engine.connect() as conn:
        seeds = conn.execute(select(Paper.arxiv_id, InterestSignal.kind).join(Paper, Paper.id == InterestSignal.paper_id)
                             .where(InterestSignal.user_id == user.id)).all()
    assert seeds == [(ON_ARXIV[0], "seed")]
    page = ada.get("/for-you/learned")
    assert f"arXiv has no paper {NOT_ON_ARXIV}." in said(page) and "Fetching" not in said(page)
    assert f"/papers/{ON_ARXIV[0]}" in page.text  # listed among what the feed learns from
    r = ada.form("/for-you/seeds/clear-missing", page="/for-you/learned")
    assert r.status_code == 303 and "done=seeds_cleared" in r.headers["location"]
    assert queue_rows(site) == []


def test_an_unreachable_arxiv_is_tried_again_later_then_given_up_and_said(site, fake):
    _, ada = site.member()
    cid = new_collection(site, ada)
    ada.form(f"/collections/{cid}/import", {"ids": ON_ARXIV[0]}, page=f"/collections/{cid}")
    fake.fail_next("503", times=1 + len(wanted.RETRY_MINUTES))  # every try until it is given up

    assert [(s.saved, s.later) for s in run_worker(site)] == [(0, 1)]
    [(_, state, attempts, note, due)] = queue_rows(site)
    assert (state, attempts, note) == ("wanted", 1, "arXiv did not answer")
    assert due > utcnow() + dt.timedelta(seconds=50)  # not again at once: a minute later
    assert run_worker(site) == []  # not due yet
    page = said(ada.get(f"/collections/{cid}"))
    assert "Fetching 1 paper from arXiv" in page  # and why it has not come yet, and when it is asked again
    assert f"The last try failed for {ON_ARXIV[0]} (arXiv did not answer); arXiv is asked again in about 1 minute." in page

    for tries in range(2, len(wanted.RETRY_MINUTES) + 2):  # time passes: each retry falls due
        with site.engine.begin() as conn:
            conn.execute(update(WantedPaper).values(due_at=utcnow() - dt.timedelta(seconds=1)))
        run_worker(site)
        assert queue_rows(site)[0][2] == tries
    assert queue_rows(site)[0][1] == "failed"
    page = said(ada.get(f"/collections/{cid}"))
    assert f"Could not be saved here: {ON_ARXIV[0]} (arXiv did not answer)" in page

    # Importing it again tries again, and now arXiv answers.
    r = ada.submit(f"/collections/{cid}/import", {"ids": ON_ARXIV[0]}, page=f"/collections/{cid}")
    assert "1 is not on this instance yet" in said(r)
    assert [(s.saved, s.later) for s in run_worker(site)] == [(1, 0)]
    assert ON_ARXIV[0] in saved(site, cid) and queue_rows(site) == []


def test_a_killed_workers_batch_is_taken_over_without_fetching_or_saving_twice(site, fake):
    _, ada = site.member()
    cid = new_collection(site, ada)
    ada.form(f"/collections/{cid}/import", {"ids": "\n".join(ON_ARXIV)}, page=f"/collections/{cid}")
    # A worker claims the batch, fetches and stores the papers, then dies before saving.
    dead = worker(site, "dead-worker")
    rows = wanted.claim(site.engine, dead.owner, dead.lease_until())
    assert len(rows) == 3
    wanted.fetch(site.app.state.settings, site.engine, [r.arxiv_id for r in rows])
    requests = len(fake.requests)
    assert run_worker(site, "worker-2") == []  # its lease still holds: nobody else takes the rows

    with site.engine.begin() as conn:  # its lease runs out
        conn.execute(update(WantedPaper).values(lease_until=utcnow() - dt.timedelta(seconds=1)))
    assert [(s.saved, s.later) for s in run_worker(site, "worker-2")] == [(3, 0)]
    assert len(fake.requests) == requests  # the papers were stored already: arXiv is not asked again
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Paper).where(Paper.arxiv_id.in_(ON_ARXIV))) == 3
    assert set(ON_ARXIV) <= saved(site, cid) and queue_rows(site) == []
    # The dead worker, had it come back, finds nothing of its own to finish.
    wanted.finish(site.engine.connect(), dead.owner, rows, wanted.Fetched({}, set()), saved=set())
    assert queue_rows(site) == []


def test_hidden_papers_are_not_fetched_and_fetching_can_be_turned_off(site, shared_data, fake, fresh_engine, tmp_path):
    _, ada = site.member()
    cid = new_collection(site, ada)
    hidden = site.paper(title="Hidden spam")
    with site.engine.begin() as conn:
        conn.execute(update(Paper).where(Paper.id == hidden.id).values(hidden=True))
    body = {"arxiv_ids": [hidden.arxiv_id, ON_ARXIV[0]]}
    r = ada.post(f"/api/collections/{cid}/papers", json=body, headers={"X-CSRF-Token": ada.token("/")})
    assert r.status_code == 200
    assert r.json()["fetching"] == [ON_ARXIV[0]] and r.json()["not_here"] == [hidden.arxiv_id]

    off = Site(create_app(make_settings(tmp_path, arxiv_api_url=fake.api_url, fetch_wanted=False), fresh_engine),
               fresh_engine)
    _, bob = off.member()
    bob_cid = new_collection(off, bob, "Bob's")
    r = bob.post(f"/api/collections/{bob_cid}/papers", json={"arxiv_ids": [ON_ARXIV[1]]},
                 headers={"X-CSRF-Token": bob.token("/")})
    assert r.json()["fetching"] == [] and r.json()["not_here"] == [ON_ARXIV[1]]
    assert [a for a, *_ in queue_rows(site)] == [ON_ARXIV[0]]  # only Ada's


def test_a_member_has_at_most_so_many_papers_waiting(site):
    _, ada = site.member()
    cid = new_collection(site, ada)
    token = ada.token("/")
    per_request = 500
    batches = [[f"2101.{n:05d}" for n in range(i, i + per_request)]
               for i in range(0, wanted.OUTSTANDING_MAX + per_request, per_request)]
    answers = [ada.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": b}, headers={"X-CSRF-Token": token}).json()
               for b in batches]
    assert [len(a["fetching"]) for a in answers] == [per_request] * (len(batches) - 1) + [0]
    assert answers[-1]["not_here"] == batches[-1]
    r = ada.submit(f"/collections/{cid}/import", {"ids": batches[-1][0]}, page=f"/collections/{cid}")
    assert f"you have {wanted.OUTSTANDING_MAX:,} papers waiting to be fetched already" in said(r)
    # Seeds share the cap, and say so too (not "not among this instance's papers").
    seeded = ada.post("/for-you/seeds", data={"ids": batches[-1][1]},
                      headers={"Accept": "application/json", "X-CSRF-Token": token}).json()
    assert seeded["over_limit"] == seeded["not_here"] == [batches[-1][1]] and seeded["fetching"] == []
    assert (f"1 was not fetched: you have {wanted.OUTSTANDING_MAX:,} papers waiting to be fetched already; seed "
            "with it again once those have arrived.") in seeded["message"]
    assert "not among this instance's papers" not in seeded["message"]
    # Asking again for papers already waiting is no new paper: they stay queued once.
    again = ada.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": batches[0][:3]},
                     headers={"X-CSRF-Token": token}).json()
    assert again["fetching"] == batches[0][:3]
    assert len(queue_rows(site)) == wanted.OUTSTANDING_MAX


def test_a_deleted_collection_or_account_takes_its_queue_with_it(site):
    user, ada = site.member()
    cid = new_collection(site, ada)
    ada.form(f"/collections/{cid}/import", {"ids": ON_ARXIV[0]}, page=f"/collections/{cid}")
    ada.form("/for-you/seeds", {"ids": ON_ARXIV[1]}, page="/for-you/learned")
    assert len(queue_rows(site)) == 2
    assert ada.form(f"/collections/{cid}/delete", page=f"/collections/{cid}").status_code == 303
    assert [a for a, *_ in queue_rows(site)] == [ON_ARXIV[1]]
    with site.engine.begin() as conn:  # a row left behind by a delete that raced the import
        conn.execute(WantedPaper.__table__.insert().values(user_id=user.id, target=cid, arxiv_id=ON_ARXIV[2],
                                                           state="wanted", attempts=0, due_at=utcnow(),
                                                           created_at=utcnow()))
    run_worker(site)  # the seed is saved; the orphan has nowhere to go and is dropped
    assert queue_rows(site) == []
    ada.form("/for-you/seeds", {"ids": ON_ARXIV[0]}, page="/for-you/learned")
    with site.engine.begin() as conn:
        conn.execute(update(WantedPaper).values(due_at=utcnow() + dt.timedelta(hours=1)))  # not fetched yet
    r = ada.form("/account/delete", {"password": "correct horse battery staple", "comments": "keep"}, page="/account")
    assert r.status_code in (200, 303), r.text[-300:]
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(User).where(User.id == user.id)) == 0
    assert queue_rows(site) == []


def test_a_running_worker_fetches_between_its_jobs_and_scripts_see_the_seeds_waiting(site, fake):
    from paperboy.mail.senders import NullSender
    from paperboy.worker.loop import Worker

    _, ada = site.member()
    r = ada.post("/for-you/seeds", data={"ids": f"{ON_ARXIV[2]} {NOT_ON_ARXIV}"},
                 headers={"Accept": "application/json", "X-CSRF-Token": ada.token("/")})
    assert r.json()["fetching"] == [ON_ARXIV[2], NOT_ON_ARXIV] and r.json()["not_here"] == []
    signals = ada.get("/api/for-you/signals").json()
    assert signals["seeds_being_fetched"] == [ON_ARXIV[2], NOT_ON_ARXIV] and signals["seeds_not_fetched"] == []

    Worker(site.app.state.settings, site.engine, NullSender(), jobs=[]).run(once=True, echo=False)

    signals = ada.get("/api/for-you/signals").json()
    assert [s["arxiv_id"] for s in signals["liked"]] == [ON_ARXIV[2]]
    assert signals["seeds_being_fetched"] == [] and signals["seeds_not_fetched"] == [NOT_ON_ARXIV]


def test_when_arxiv_does_not_answer_the_worker_stops_asking_until_the_next_round(site, fake):
    """Its other jobs (digests) are not held up by a batch after batch of time-outs."""
    from paperboy.mail.senders import NullSender
    from paperboy.worker.loop import Worker

    _, ada = site.member()
    cid = new_collection(site, ada)
    ids = [f"2101.{n:05d}" for n in range(150)]  # two arXiv requests' worth
    ada.post(f"/api/collections/{cid}/papers", json={"arxiv_ids": ids}, headers={"X-CSRF-Token": ada.token("/")})
    fake.fail_next("503", times=10)
    w = Worker(site.app.state.settings, site.engine, NullSender(), jobs=[])
    try:
        assert w.fetch_wanted() == 1
    finally:
        w.heartbeat.stop()
    assert len([p for p, q in fake.requests if q.get("id_list")]) == 1
    states = [s for _, s, *_ in queue_rows(site)]
    assert states.count("wanted") == 150  # the first hundred due again in a minute, the rest as they were


def test_adding_one_paper_this_instance_lacks_by_its_id_fetches_it_too(site):
    _, ada = site.member()
    cid = new_collection(site, ada, "Classics")
    r = ada.form(f"/collections/{cid}/add", {"arxiv_id": f"https://arxiv.org/abs/{ON_ARXIV[1]}v1"},
                 page=f"/collections/{cid}")
    assert r.status_code == 303 and "notice=wanted_queued" in r.headers["location"]
    page = said(ada.get(r.headers["location"]))
    assert ("That paper is not on this instance yet: it is being fetched from arXiv and will be saved in “Classics” "
            "within a minute.") in page and "Fetching 1 paper from arXiv; it is saved here as it arrives" in page
    # Not an id: the collection's page again, saying so (not a page of its own to come back from).
    r = ada.form(f"/collections/{cid}/add", {"arxiv_id": "not an id"}, page=f"/collections/{cid}")
    assert r.status_code == 303 and "notice=not_an_id" in r.headers["location"]
    assert "That is not an arXiv id or link" in said(ada.get(r.headers["location"]))
    run_worker(site)
    assert ON_ARXIV[1] in saved(site, cid)


def test_a_script_saving_one_paper_this_instance_lacks_is_told_it_is_being_fetched(site):
    from tests.community.test_api_tokens import make_token, script

    _, ada = site.member()
    cid = new_collection(site, ada)
    bot = script(site, make_token(ada, access="write"))
    r = bot.put(f"/api/collections/{cid}/papers/{ON_ARXIV[2]}")
    assert r.status_code == 202
    assert r.json() == {"collection": cid, "arxiv_id": ON_ARXIV[2], "saved": False, "fetching": True}
    assert bot.put(f"/api/collections/{cid}/papers/not-an-id").status_code == 404
    assert bot.delete(f"/api/collections/{cid}/papers/{ON_ARXIV[1]}").status_code == 404  # nothing to unsave
    run_worker(site)
    r = bot.put(f"/api/collections/{cid}/papers/{ON_ARXIV[2]}")
    assert r.status_code == 200 and r.json()["saved"] is True and ON_ARXIV[2] in saved(site, cid)


def test_a_script_taking_back_a_paper_still_being_fetched_does_not_find_it_saved_later(site, fake):
    from tests.community.test_api_tokens import make_token, script

    _, ada = site.member()
    cid = new_collection(site, ada)
    bot = script(site, make_token(ada, access="write"))
    # Taken back while it waits for a worker: 200, and nothing is fetched for it.
    assert bot.put(f"/api/collections/{cid}/papers/{ON_ARXIV[0]}").status_code == 202
    r = bot.delete(f"/api/collections/{cid}/papers/{ON_ARXIV[0]}")
    assert r.status_code == 200 and r.json() == {"collection": cid, "arxiv_id": ON_ARXIV[0], "saved": False,
                                                 "fetching": False}
    assert queue_rows(site) == [] and run_worker(site) == []
    # Taken back while a worker is asking arXiv for it (claimed, not yet saved): the
    # worker stores the paper and does not save it.
    assert bot.put(f"/api/collections/{cid}/papers/{ON_ARXIV[1]}").status_code == 202
    answers = []

    def take_back(params) -> bool:
        if not answers:
            answers.append(bot.delete(f"/api/collections/{cid}/papers/{ON_ARXIV[1]}"))
        return False  # no fault: the request is answered as recorded

    fake.fail_next("slow", when=take_back)
    assert [(s.saved, s.later) for s in run_worker(site)] == [(0, 0)]
    assert answers[0].status_code == 200 and answers[0].json()["saved"] is False
    assert ON_ARXIV[1] not in saved(site, cid) and queue_rows(site) == []
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Paper).where(Paper.arxiv_id == ON_ARXIV[1])) == 1
    # Once stored, DELETE is the plain one again.
    assert bot.delete(f"/api/collections/{cid}/papers/{ON_ARXIV[1]}").json()["saved"] is False


def test_one_id_arxiv_refuses_does_not_keep_the_rest_of_its_batch_out(site, fake):
    """arXiv answers a request naming an id it calls malformed with its error feed and
    nothing else; the batch is split until that id is alone."""
    _, ada = site.member()
    cid = new_collection(site, ada)
    refused = "2101.00007"
    fake.refused_ids.add(refused)
    ada.form(f"/collections/{cid}/import", {"ids": "\n".join([ON_ARXIV[0], refused, *ON_ARXIV[1:]])},
             page=f"/collections/{cid}")

    assert [(s.saved, s.unknown, s.later, s.stalled) for s in run_worker(site)] == [(3, 0, 1, False)]

    assert set(ON_ARXIV) <= saved(site, cid)
    assert [(a, s, n) for a, s, _, n, _ in queue_rows(site)] == [(refused, "failed", "arXiv refused this id")]
    asked = [q["id_list"] for p, q in fake.requests if q.get("id_list")]
    assert asked[0] == ",".join([ON_ARXIV[0], refused, *ON_ARXIV[1:]]) and asked[-1] != asked[0]
    assert len(asked) <= 7  # halves, then quarters: never one request per id
    assert f"Could not be saved here: {refused} (arXiv refused this id)" in said(ada.get(f"/collections/{cid}"))


def test_a_waiting_worker_fetches_what_a_member_just_asked_for_without_waiting_for_its_next_round(site):
    import threading
    import time

    from paperboy.mail.senders import NullSender
    from paperboy.worker.loop import Worker

    settings = site.app.state.settings.model_copy(update={"worker_poll_seconds": 600.0})
    w = Worker(settings, site.engine, NullSender(), jobs=[])
    thread = threading.Thread(target=w.run, kwargs={"echo": False}, daemon=True)
    thread.start()
    try:
        time.sleep(1.0)  # its first round found nothing; it waits ten minutes for the next
        _, ada = site.member()
        cid = new_collection(site, ada)
        ada.form(f"/collections/{cid}/import", {"ids": ON_ARXIV[0]}, page=f"/collections/{cid}")
        deadline = time.monotonic() + 30
        while ON_ARXIV[0] not in saved(site, cid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ON_ARXIV[0] in saved(site, cid)
        assert thread.is_alive()  # still within its ten-minute wait
    finally:
        w.stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_fetched_papers_are_the_next_to_be_embedded(shared_data, fake, fresh_engine, tmp_path):
    from paperboy.index.models import EmbedBatch, EmbedBatchItem

    site = arxiv_site(shared_data, fake, fresh_engine, tmp_path, embedder="hash")
    _, ada = site.member()
    ada.form("/for-you/seeds", {"ids": "\n".join(ON_ARXIV)}, page="/for-you/learned")
    run_worker(site)
    with site.engine.connect() as conn:
        planned = conn.execute(select(Paper.arxiv_id, EmbedBatch.day)
                               .join(EmbedBatchItem, EmbedBatchItem.paper_id == Paper.id)
                               .join(EmbedBatch, EmbedBatch.id == EmbedBatchItem.batch_id)).all()
    assert sorted(planned) == [(a, utcnow().date()) for a in sorted(ON_ARXIV)]  # claimed before older days' batches
