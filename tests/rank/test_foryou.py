"""The "For you" picks from stored signals (rank.foryou), on both backends, with no
embedder (the LSA content space) and with stored vectors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from paperboy.config import Settings
from paperboy.index.models import PaperEmbedding
from paperboy.rank import foryou
from paperboy.store.models import (
    Collection,
    CollectionItem,
    Follow,
    ForYouPrefs,
    InterestSignal,
    Vote,
    utcnow,
)
from tests.support.factories import make_paper, make_user

EARLIER, TODAY = dt.date(2025, 3, 3), dt.date(2025, 3, 4)

TOPICS = {
    "protein": ("Protein structure prediction with {x}",
                "We predict protein folding and residue contacts of amino acid chains using {x}; "
                "protein structure accuracy improves on CASP targets."),
    "speech": ("Speech recognition for {x}",
               "An acoustic model for automatic speech recognition of spoken {x}; word error rate "
               "drops on noisy speech corpora."),
    "graphs": ("Graph neural networks on {x}",
               "Message passing graph neural networks over {x} graphs; node classification "
               "and link prediction benchmarks."),
}


def paper(db, topic: str, x: str, day: dt.date, **kw):
    title, abstract = TOPICS[topic]
    return make_paper(db, title=title.format(x=x), abstract=abstract.format(x=x), announced_on=day, **kw)


@pytest.fixture
def corpus(db):
    foryou.POOLS.clear()
    earlier = {t: paper(db, t, "earlier data", EARLIER) for t in TOPICS}
    today = {f"{t}{i}": paper(db, t, f"variant {i}", TODAY, categories=["q-bio.BM" if t == "protein" else "cs.LG"])
             for t in TOPICS for i in range(3)}
    yield earlier, today
    foryou.POOLS.clear()


def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, embedder="null", secret_key="t")


def picks(db, tmp_path, user, **kw):
    s = settings(tmp_path)
    # The day is named: the session's database may hold other tests' papers on later days.
    win = foryou.Window(TODAY, TODAY)
    return foryou.recommend(db.connection(), s, user.id, win, model=kw.pop("model", "null"), **kw)


def test_the_window_is_the_newest_day_or_the_week_ending_on_it(db, corpus, tmp_path):
    newest = make_paper(db, title="The newest paper", announced_on=dt.date(2031, 5, 7))
    s = settings(tmp_path)
    assert foryou.window(db.connection(), s) == foryou.Window(newest.announced_on, newest.announced_on)
    assert foryou.window(db.connection(), s, "week") == foryou.Window(dt.date(2031, 5, 1), dt.date(2031, 5, 7))


def test_a_vote_makes_papers_on_the_same_topic_come_first_with_a_reason(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["protein"].id, created_at=utcnow()))
    result = picks(db, tmp_path, user)
    top3 = set(result.ids[:3])
    assert top3 == {today[f"protein{i}"].id for i in range(3)}
    why = result.why[result.ids[0]]
    assert why.liked_id == earlier["protein"].id
    assert "protein" in " ".join(why.words)
    assert "Protein structure prediction with earlier data" in why.text
    assert earlier["protein"].id not in result.ids  # yesterday's, and already voted


def test_the_arxiv_comment_counts_but_its_addresses_do_not(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    liked = paper(db, "speech", "earlier origami", EARLIER,
                  comment="Accepted at the Zanzibar Workshop on Origami Acoustics; code https://github.com/qorigami/tool")
    same_venue = paper(db, "graphs", "variant 7", TODAY, comment="Zanzibar Workshop on Origami Acoustics")
    same_address = paper(db, "graphs", "variant 8", TODAY, comment="https://github.com/qorigami/other")
    no_comment = paper(db, "graphs", "variant 9", TODAY)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=liked.id, created_at=utcnow()))
    result = picks(db, tmp_path, user, limit=100)
    score = dict(zip(result.ids, result.scores, strict=True))
    assert score[same_venue.id] > score[no_comment.id]
    shared = set(" ".join(result.why[same_venue.id].words).split())
    assert shared & {"zanzibar", "workshop", "acoustics"}, shared  # words of the comment alone
    # the repository address is left out: that paper reads exactly as one with no comment
    assert score[same_address.id] == pytest.approx(score[no_comment.id], abs=1e-6)


def test_a_kept_model_answers_as_a_fresh_one_and_a_new_signal_refits(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["protein"].id, created_at=utcnow()))
    first = picks(db, tmp_path, user)
    space = foryou.POOLS.pool(db.connection(), settings(tmp_path), first_window(db, tmp_path), "null").space
    assert len(space._fitted) == 1
    again = picks(db, tmp_path, user)  # from the kept model
    assert again.ids == first.ids and again.scores == first.scores and again.why == first.why
    assert len(space._fitted) == 1
    # A new vote (and then a follow) is a new key: the member is refitted at once.
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["speech"].id, created_at=utcnow()))
    both = picks(db, tmp_path, user)
    assert len(space._fitted) == 2
    assert {both.why[pid].liked_id for pid in both.ids} >= {earlier["protein"].id, earlier["speech"].id}
    db.execute(insert(Follow).values(user_id=user.id, kind="category", target="cs.LG", created_at=utcnow()))
    picks(db, tmp_path, user)
    assert len(space._fitted) == 3
    foryou.POOLS.clear()
    fresh = picks(db, tmp_path, user)
    kept = picks(db, tmp_path, user)
    assert kept.ids == fresh.ids and kept.scores == fresh.scores and kept.why == fresh.why


def first_window(db, tmp_path):
    return foryou.Window(TODAY, TODAY)  # the one picks() ranks


def test_a_window_past_its_time_answers_at_once_while_its_successor_is_built(fresh_engine, tmp_path):
    """A member never waits for the vocabulary's rebuild (a second or so): the kept pool
    answers and a background thread builds the next from its own connection."""
    s = settings(tmp_path)
    win = foryou.Window(TODAY, TODAY)
    with Session(fresh_engine) as db:
        first_ids = {paper(db, t, "variant 1", TODAY).id for t in TOPICS}
        db.commit()
    foryou.POOLS.clear()
    try:
        with fresh_engine.connect() as conn:
            kept = foryou.POOLS.pool(conn, s, win, "null")
            assert set(kept.ids) == first_ids
            with Session(fresh_engine) as db:
                late = paper(db, "speech", "a late arrival", TODAY).id
                db.commit()
            assert foryou.POOLS.pool(conn, s, win, "null") is kept  # within its time
            kept.made -= foryou.POOL_TTL  # now past it
            assert foryou.POOLS.pool(conn, s, win, "null") is kept  # still answers, at once
            foryou.POOLS.wait(timeout=60)
            successor = foryou.POOLS.pool(conn, s, win, "null")
        assert successor is not kept
        assert set(successor.ids) == first_ids | {late}
        assert set(kept.ids) == first_ids  # what was handed out is never changed in place
    finally:
        foryou.POOLS.wait(timeout=60)
        foryou.POOLS.clear()


def test_a_process_keeps_a_bounded_number_of_windows_the_least_recently_used_go(db, tmp_path, monkeypatch):
    """Each day is a new window (and a new vocabulary); a process that runs for months
    must not keep them all."""
    monkeypatch.setattr(foryou, "MAX_POOLS", 3)
    monkeypatch.setattr(foryou, "MAX_SPACES", 2)
    days = [dt.date(2024, 5, d) for d in range(1, 7)]
    for day in days:
        for t in TOPICS:
            paper(db, t, f"day {day.day}", day)
    conn, s = db.connection(), settings(tmp_path)
    foryou.POOLS.clear()
    try:
        for day in days[:4]:
            foryou.POOLS.pool(conn, s, foryou.Window(day, day), "null")
        foryou.POOLS.pool(conn, s, foryou.Window(days[1], days[1]), "null")  # used again: kept
        foryou.POOLS.pool(conn, s, foryou.Window(days[4], days[4]), "null")
        kept = [key[2] for key in foryou.POOLS._pools]
        assert kept == [foryou.Window(d, d) for d in (days[3], days[1], days[4])]
        assert [key[2] for key in foryou.POOLS._space] == [days[3], days[4]]  # by when they were built
        # a window that went is built again when asked for, and answers as before
        again = foryou.POOLS.pool(conn, s, foryou.Window(days[0], days[0]), "null")
        assert len(again.ids) == len(TOPICS)
        assert len(foryou.POOLS._pools) == 3 and len(foryou.POOLS._space) == 2
    finally:
        foryou.POOLS.clear()


def test_nothing_already_voted_saved_seeded_or_dismissed_is_picked(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=today["protein0"].id, created_at=utcnow()))
    coll = Collection(user_id=user.id, name="Reading")
    db.add(coll)
    db.flush()
    db.execute(insert(CollectionItem).values(collection_id=coll.id, paper_id=today["protein1"].id, added_at=utcnow()))
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=today["protein2"].id, kind="not_interested",
                                             created_at=utcnow()))
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=today["speech0"].id, kind="seed",
                                             created_at=utcnow()))
    result = picks(db, tmp_path, user)
    shown = set(result.ids)
    for key in ("protein0", "protein1", "protein2", "speech0"):
        assert today[key].id not in shown
    assert shown == {today[k].id for k in ("speech1", "speech2", "graphs0", "graphs1", "graphs2")}


def test_not_interested_pushes_that_topic_down(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=earlier["protein"].id, kind="seed",
                                             created_at=utcnow()))
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=earlier["speech"].id, kind="seed",
                                             created_at=utcnow()))
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=today["speech0"].id, kind="not_interested",
                                             created_at=utcnow()))
    result = picks(db, tmp_path, user)
    speech = [result.ids.index(today[k].id) for k in ("speech1", "speech2")]
    protein = [result.ids.index(today[f"protein{i}"].id) for i in range(3)]
    assert max(protein) < min(speech)


def test_follows_alone_are_a_cold_start_and_say_so(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Follow).values(user_id=user.id, kind="category", target="q-bio.BM", created_at=utcnow()))
    result = picks(db, tmp_path, user)
    assert set(result.ids[:3]) == {today[f"protein{i}"].id for i in range(3)}
    assert result.why[result.ids[0]].text == "new in q-bio.BM, which you follow"


def test_a_followed_author_is_named_in_the_reason(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    special = make_paper(db, title="A note on graphs", abstract="Graphs.", announced_on=TODAY,
                         authors=["Émile Borel"])
    db.execute(insert(Follow).values(user_id=user.id, kind="author", target="Emile Borel", created_at=utcnow()))
    result = picks(db, tmp_path, user)
    assert result.ids[0] == special.id
    assert result.why[special.id].text.startswith("by Émile Borel, whom you follow")


def test_no_signals_or_paused_gives_nothing(db, corpus, tmp_path):
    earlier, _ = corpus
    user = make_user(db)
    assert picks(db, tmp_path, user).ids == []
    # nothing to rank with, so the window's candidates (seconds on a cold process) are not built
    assert not foryou.POOLS._pools
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["graphs"].id, created_at=utcnow()))
    assert picks(db, tmp_path, user).ids
    db.execute(insert(ForYouPrefs).values(user_id=user.id, paused=True, updated_at=utcnow()))
    result = picks(db, tmp_path, user)
    assert result.ids == [] and result.signals.paused


def test_a_member_with_nothing_to_learn_from_is_offered_one_paper_of_each_topic(db, corpus, tmp_path):
    _, today = corpus
    topic_of = {p.id: name.rstrip("0123456789") for name, p in today.items()}
    s, win = settings(tmp_path), foryou.Window(TODAY, TODAY)
    ids, scores = foryou.starters(db.connection(), s, win, model="null", n=3)
    assert sorted(topic_of[i] for i in ids) == sorted(TOPICS)
    assert scores == [pytest.approx(1 / 3)] * 3  # each topic's share of the day
    # One marked not interested gives way to another paper of its topic.
    again, _ = foryou.starters(db.connection(), s, win, model="null", n=3, exclude={ids[0]})
    assert ids[0] not in again and sorted(topic_of[i] for i in again) == sorted(TOPICS)
    # More topics asked for than the day has: a topic's three papers read alike (their
    # "variant 0, 1, 2" differ by a digit the words leave out), so there are still three.
    many, _ = foryou.starters(db.connection(), s, win, model="null", n=50)
    assert sorted(topic_of[i] for i in many) == sorted(TOPICS)


def test_topics_are_the_largest_first_each_paper_in_one_nearest_its_centre_first():
    rng = np.random.default_rng(3)
    centres = np.eye(8, dtype=np.float32)[:3] * 10
    sizes = (7, 5, 2)
    x = np.concatenate([c + rng.normal(scale=0.3, size=(k, 8)) for c, k in zip(centres, sizes, strict=True)])
    found = foryou.topics_of(x, 3)
    assert [share for share, _ in found] == pytest.approx([7 / 14, 5 / 14, 2 / 14])
    assert sorted(r for _, rows in found for r in rows) == list(range(14))
    bounds = {0: range(0, 7), 1: range(7, 12), 2: range(12, 14)}
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    for t, (_, rows) in enumerate(found):
        assert set(rows) == set(bounds[t])
        centre = unit[rows].mean(axis=0)
        assert float(unit[rows[0]] @ centre) >= max(float(unit[r] @ centre) for r in rows) - 1e-6
    assert foryou.topics_of(np.zeros((0, 8), np.float32), 3) == []


def test_a_reset_forgets_earlier_votes_but_never_recommends_them(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    long_ago = utcnow() - dt.timedelta(days=2)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=today["graphs0"].id, created_at=long_ago))
    db.execute(insert(ForYouPrefs).values(user_id=user.id, paused=False, reset_at=utcnow() - dt.timedelta(days=1),
                                          updated_at=utcnow()))
    sig = foryou.load_signals(db.connection(), user.id)
    assert sig.liked == {} and today["graphs0"].id in sig.seen
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["speech"].id, created_at=utcnow()))
    result = picks(db, tmp_path, user)
    assert today["graphs0"].id not in result.ids
    assert result.why[result.ids[0]].liked_id == earlier["speech"].id


def test_an_ignored_vote_is_not_learned_from(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["graphs"].id, created_at=utcnow()))
    db.execute(insert(InterestSignal).values(user_id=user.id, paper_id=earlier["graphs"].id, kind="ignored",
                                             created_at=utcnow()))
    sig = foryou.load_signals(db.connection(), user.id)
    assert sig.liked == {} and sig.empty


def test_a_collection_feed_learns_from_that_collection_only(db, corpus, tmp_path):
    earlier, today = corpus
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["graphs"].id, created_at=utcnow()))
    coll = Collection(user_id=user.id, name="Speech")
    db.add(coll)
    db.flush()
    db.execute(insert(CollectionItem).values(collection_id=coll.id, paper_id=earlier["speech"].id, added_at=utcnow()))
    result = picks(db, tmp_path, user, collection_id=coll.id)
    assert set(result.ids[:3]) == {today[f"speech{i}"].id for i in range(3)}
    # What it learned from was saved there, not voted for: the why line says so.
    why = result.why[result.ids[0]]
    assert why.words and "as papers saved in this collection do" in why.text and "you liked" not in why.text
    assert "as papers you liked do" in picks(db, tmp_path, user).why[picks(db, tmp_path, user).ids[0]].text


def test_close_to_names_a_liked_paper_only_when_nearer_than_the_days_papers_are_by_chance(db, tmp_path):
    """In a field's own space every paper is somewhat like every other (half the sample's
    random pairs of MiniLM vectors are above 0.29): "close to" needs more than that."""
    foryou.POOLS.clear()
    day, before = dt.date(2025, 4, 10), dt.date(2025, 4, 9)
    rng = np.random.default_rng(3)
    field_axis = rng.normal(size=32)

    def with_vector(title, day, v):
        p = make_paper(db, title=title, abstract=f"An abstract about {title.lower()}.", announced_on=day)
        v = (v / np.linalg.norm(v)).astype("<f4")
        db.execute(insert(PaperEmbedding).values(paper_id=p.id, model="m@1", content_hash="x", dim=32,
                                                 vector=v.tobytes(), embedded_at=utcnow()))
        return p

    liked_vector = field_axis + rng.normal(size=32)
    liked = with_vector("The liked paper", before, liked_vector)
    for i in range(60):  # the day: one field, papers alike by chance
        with_vector(f"Ordinary paper {i}", day, field_axis + rng.normal(size=32))
    near = with_vector("A near paper", day, liked_vector + 0.2 * rng.normal(size=32))
    # As alike to the liked paper as the day's papers are to one another, no more.
    ordinary = with_vector("An ordinary paper", day, field_axis - 0.3 * (liked_vector - field_axis)
                           + rng.normal(size=32))
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=liked.id, created_at=utcnow()))
    result = foryou.recommend(db.connection(), settings(tmp_path), user.id, foryou.Window(day, day), model="m@1",
                              limit=100)
    assert result.uses_vectors
    assert result.why[near.id].liked_id == liked.id and "close to “The liked paper”" in result.why[near.id].text
    assert result.why[ordinary.id].liked_id is None and "close to" not in result.why[ordinary.id].text
    foryou.POOLS.clear()


def test_words_every_paper_uses_are_not_shown_as_a_reason():
    """Display only: a term in more than 15 % of the recent papers, or only the words every
    abstract writes in, tells a reader nothing ("performance", "novel", "tasks")."""
    from scipy import sparse

    vocabulary = ["performance", "novel method", "humanoid", "state art", "object detection", "tasks"]
    rows = 400
    # performance in every paper, the others in few; "novel method" and "state art" are academic prose.
    columns = [[0] + ([1, 2, 3, 4, 5] if r < 10 else []) for r in range(rows)]
    matrix = sparse.csr_matrix(([1.0] * sum(map(len, columns)), [c for cs in columns for c in cs],
                                np.cumsum([0] + [len(cs) for cs in columns])), shape=(rows, len(vocabulary)))
    generic = foryou._generic_terms(vocabulary, matrix)
    assert dict(zip(vocabulary, generic.tolist(), strict=True)) == {
        "performance": True, "novel method": True, "humanoid": False, "state art": True,
        "object detection": False, "tasks": True}
    # A corpus too small to tell shares (tests, a new instance): only the academic prose.
    assert foryou._generic_terms(vocabulary, matrix[:20]).tolist() == [True, True, False, True, False, True]


def test_stored_vectors_are_used_when_they_cover_the_window(db, corpus, tmp_path):
    """With vectors for every paper, the vectors decide: here they say the opposite of the words."""
    earlier, today = corpus
    rng = np.random.default_rng(0)
    axis = {t: rng.normal(size=16).astype(np.float32) for t in TOPICS}
    swapped = {"protein": "graphs", "graphs": "protein", "speech": "speech"}

    def store(p, topic):
        v = axis[topic] + 0.05 * rng.normal(size=16).astype(np.float32)
        v /= np.linalg.norm(v)
        db.execute(insert(PaperEmbedding).values(paper_id=p.id, model="m@1", content_hash="x", dim=16,
                                                 vector=v.astype("<f4").tobytes(), embedded_at=utcnow()))

    for t, p in earlier.items():
        store(p, t)
    for key, p in today.items():  # today's protein papers get the graphs direction and vice versa
        store(p, swapped[key.rstrip("0123456789")])
    user = make_user(db)
    db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier["protein"].id, created_at=utcnow()))
    weights = foryou.personal.Weights(words=0, words_knn=0, category=0)
    result = picks(db, tmp_path, user, model="m@1", weights=weights)
    assert result.uses_vectors
    assert set(result.ids[:3]) == {today[f"graphs{i}"].id for i in range(3)}


@pytest.mark.parametrize("model", ["null", "m@1"])
def test_a_digest_pass_scored_in_bulk_picks_what_one_member_at_a_time_picks(db, corpus, tmp_path, model):
    """PassScores (every member of a digest pass at once) against recommend (one member):
    the same picks, scores and why lines, in words only (LSA) and with stored vectors (the
    linear part too: 60 earlier papers give it a background)."""
    earlier, today = corpus
    extra = [paper(db, t, f"older work {i}", EARLIER, categories=["cs.LG"]) for i in range(20) for t in TOPICS]
    if model != "null":
        rng = np.random.default_rng(1)
        for p in [*earlier.values(), *today.values(), *extra]:
            v = rng.normal(size=16).astype(np.float32)
            db.execute(insert(PaperEmbedding).values(paper_id=p.id, model=model, content_hash="x", dim=16,
                                                     vector=(v / np.linalg.norm(v)).astype("<f4").tobytes(),
                                                     embedded_at=utcnow()))
    users = [make_user(db) for _ in range(5)]
    likes = [["protein"], ["protein", "speech"], ["graphs", "speech", "protein"], ["speech"], ["graphs"]]
    for user, topics in zip(users, likes, strict=True):
        for t in topics:
            db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier[t].id, created_at=utcnow()))
        for p in extra[:4]:
            db.execute(insert(Vote).values(user_id=user.id, paper_id=p.id, created_at=utcnow()))
    db.execute(insert(Follow).values(user_id=users[1].id, kind="category", target="q-bio.BM", created_at=utcnow()))
    db.execute(insert(Follow).values(user_id=users[3].id, kind="author", target=today["speech1"].authors_text.split(",")[0],
                                     created_at=utcnow()))
    # a "not interested" mark: this member is left to recommend (PassScores answers None)
    db.execute(insert(InterestSignal).values(user_id=users[4].id, paper_id=today["graphs0"].id, kind="not_interested",
                                             created_at=utcnow()))
    conn, s, win = db.connection(), settings(tmp_path), foryou.Window(TODAY, TODAY)
    weights = foryou.personal.Weights(follow=0.0)
    signals = foryou.load_signals_many(conn, [u.id for u in users])
    pool = foryou.POOLS.pool(conn, s, win, model)
    assert pool.uses_vectors == (model != "null")
    features = foryou.PaperFeatures(conn, pool, model)
    features.load({pid for sig in signals.values() for pid in (*sig.liked, *sig.dismissed)})
    bulk = foryou.PassScores(pool, features, signals, [u.id for u in users], weights)
    shown = {today["protein0"].id}  # an earlier digest carried it
    for user in users:
        one = foryou.recommend(conn, s, user.id, win, model=model, signals=signals[user.id], exclude=shown,
                               limit=4, weights=weights, features=features)
        got = bulk.picks(user.id, shown, 4, min_score=-1e9)
        if user is users[4]:
            assert got is None
            continue
        assert [pid for pid, _, _ in got] == one.ids
        assert [score for _, score, _ in got] == pytest.approx(one.scores, abs=1e-6)
        assert [why.text for _, _, why in got] == [one.why[pid].text for pid in one.ids]
        assert today["protein0"].id not in one.ids


@pytest.mark.parametrize("model", ["null", "m@1"])
def test_papers_read_for_one_members_fit_are_not_read_again_for_the_next_and_give_the_same_profile(
        db, corpus, tmp_path, model):
    """A refit after a vote reads the one new paper (its row and its vector), not every
    liked paper again; what is kept gives the profile that reading everything gives."""
    earlier, today = corpus
    rng = np.random.default_rng(2)
    if model != "null":
        for p in [*earlier.values(), *today.values()]:
            v = rng.normal(size=16).astype(np.float32)
            db.execute(insert(PaperEmbedding).values(paper_id=p.id, model=model, content_hash="x", dim=16,
                                                     vector=(v / np.linalg.norm(v)).astype("<f4").tobytes(),
                                                     embedded_at=utcnow()))
    before, after = make_user(db), make_user(db)
    for user, topics in ((before, ["protein", "graphs"]), (after, ["protein", "graphs", "speech"])):
        for t in topics:
            db.execute(insert(Vote).values(user_id=user.id, paper_id=earlier[t].id, created_at=utcnow()))
    conn, s, win = db.connection(), settings(tmp_path), foryou.Window(TODAY, TODAY)
    signals = foryou.load_signals_many(conn, [before.id, after.id])
    pool = foryou.POOLS.pool(conn, s, win, model)
    assert pool.uses_vectors == (model != "null")
    foryou.PaperFeatures(conn, pool, model).profile(signals[before.id])  # an earlier request

    read: list[set[int]] = []

    def note_ids(conn_, cursor, statement, parameters, context, executemany):
        if " IN (" in statement and ("FROM papers" in statement or "FROM paper_embeddings" in statement):
            values = parameters.values() if isinstance(parameters, dict) else parameters
            read.append({v for v in values if isinstance(v, int)})

    event.listen(conn, "before_cursor_execute", note_ids)
    try:
        kept = foryou.PaperFeatures(conn, pool, model).profile(signals[after.id])
    finally:
        event.remove(conn, "before_cursor_execute", note_ids)
    assert read and all(ids == {earlier["speech"].id} for ids in read)

    foryou.POOLS.clear()  # nothing kept: every paper read again
    fresh = foryou.PaperFeatures(conn, foryou.POOLS.pool(conn, s, win, model), model).profile(signals[after.id])
    assert kept.positive_ids == fresh.positive_ids and len(kept.positive_ids) == 3
    assert kept.positive_titles == fresh.positive_titles
    assert kept.positive_categories == fresh.positive_categories
    assert np.allclose(kept.positives, fresh.positives)
    assert (kept.positive_terms.toarray() == fresh.positive_terms.toarray()).all()


def test_a_why_line_says_whose_words_it_names_and_always_the_followed_category():
    """The words weigh most against everything the member liked, not against the liked
    paper named beside them; and a followed category is said even beside other reasons
    (the Following page says it so)."""
    from paperboy.rank.foryou import Why

    both = Why(author=None, liked_id=7, liked_title="Exposing the unsaid", similarity=0.4,
               words=("diffusion models", "merging"), category="cs.CV")
    assert both.text == ("close to “Exposing the unsaid”; mentions “diffusion models”, “merging”, as papers you "
                         "liked do; in cs.CV, which you follow")
    alone = Why(author=None, liked_id=None, liked_title="", similarity=0.0, words=(), category="cs.CV")
    assert alone.text == "new in cs.CV, which you follow"
    assert Why(author=None, liked_id=None, liked_title="", similarity=0.0, words=(), category=None).text == \
        "new in your categories"


def test_a_window_built_before_its_papers_were_embedded_takes_their_vectors_soon(fresh_engine, tmp_path):
    """A fresh instance: the first member's window is built from words while the papers
    are embedded; once their vectors are stored it is rebuilt after VECTORLESS_POOL_TTL,
    not after POOL_TTL, and a pool with vectors keeps the long time."""
    s = settings(tmp_path)
    win = foryou.Window(TODAY, TODAY)
    with Session(fresh_engine) as db:
        made = [paper(db, t, "variant 1", TODAY).id for t in TOPICS]
        db.commit()
    foryou.POOLS.clear()
    try:
        with fresh_engine.connect() as conn:
            words_only = foryou.POOLS.pool(conn, s, win, "m@1")
            assert not words_only.uses_vectors
            rng = np.random.default_rng(1)
            with Session(fresh_engine) as db:
                for pid in made:
                    v = rng.normal(size=16).astype(np.float32)
                    db.execute(insert(PaperEmbedding).values(paper_id=pid, model="m@1", content_hash="x", dim=16,
                                                             vector=(v / np.linalg.norm(v)).astype("<f4").tobytes(),
                                                             embedded_at=utcnow()))
                db.commit()
            words_only.made -= foryou.VECTORLESS_POOL_TTL  # well within POOL_TTL
            assert foryou.POOLS.pool(conn, s, win, "m@1") is words_only  # answers at once
            foryou.POOLS.wait(timeout=60)
            with_vectors = foryou.POOLS.pool(conn, s, win, "m@1")
            assert with_vectors is not words_only and with_vectors.uses_vectors
            with_vectors.made -= foryou.VECTORLESS_POOL_TTL
            assert foryou.POOLS.pool(conn, s, win, "m@1") is with_vectors
            foryou.POOLS.wait(timeout=60)
            assert foryou.POOLS.pool(conn, s, win, "m@1") is with_vectors  # kept for POOL_TTL
    finally:
        foryou.POOLS.wait(timeout=60)
        foryou.POOLS.clear()
