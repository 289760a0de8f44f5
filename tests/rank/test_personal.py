"""The personal ranker on synthetic data where the right answer is known."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from scipy import sparse

from paperboy.rank import personal as pr


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def topic(rng: np.random.Generator, axis: int, n: int, dim: int = 16, noise: float = 0.2) -> np.ndarray:
    """n vectors around basis direction ``axis``."""
    base = np.zeros(dim, dtype=np.float32)
    base[axis] = 1.0
    return unit(base + noise * rng.standard_normal((n, dim)))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_papers_on_the_liked_topic_rank_first(rng):
    liked = topic(rng, 0, 5)
    cands = pr.Candidates(ids=list(range(100, 120)),
                          vectors=np.vstack([topic(rng, 3, 15), topic(rng, 0, 5)]))
    background = pr.Background.fit(np.vstack([topic(rng, a, 40) for a in range(8)]))
    model = pr.fit(pr.Profile(positives=liked, positive_ids=[1, 2, 3, 4, 5]), background)
    ids, scores = pr.score(model, cands)
    assert set(ids[:5]) == {115, 116, 117, 118, 119}
    assert list(scores) == sorted(scores, reverse=True)


def test_two_interests_are_both_served_by_the_nearest_neighbour_part(rng):
    # liked: topics 0 and 1; the centroid lies between them, near the 0+1 mixture papers
    liked = np.vstack([topic(rng, 0, 3, noise=0.05), topic(rng, 1, 3, noise=0.05)])
    mixture = unit(np.tile(np.eye(16, dtype=np.float32)[0] + np.eye(16, dtype=np.float32)[1] + np.eye(16, dtype=np.float32)[2], (2, 1)))
    cands = pr.Candidates(ids=[1, 2, 3, 4], vectors=np.vstack([topic(rng, 0, 1, noise=0.05),
                                                               topic(rng, 1, 1, noise=0.05), mixture]))
    w = pr.Weights(knn=1.0, centroid=0.0, linear=0.0, words=0.0, category=0.0, knn_k=1)
    ids, _ = pr.score(pr.fit(pr.Profile(positives=liked)), cands, w)
    assert set(ids[:2]) == {1, 2}


def test_not_interested_pushes_similar_papers_down(rng):
    liked = topic(rng, 0, 4)
    disliked_kind = topic(rng, 0, 1, noise=0.05) + 0.0
    disliked_kind[0, 5] += 0.8
    disliked_kind = unit(disliked_kind)
    near_dislike = unit(disliked_kind + 0.01 * rng.standard_normal((1, 16)))
    plain = topic(rng, 0, 1, noise=0.05)
    cands = pr.Candidates(ids=[10, 11, 12], vectors=np.vstack([near_dislike, plain, topic(rng, 4, 1)]))
    w = pr.Weights(negative=5.0)
    without = pr.score(pr.fit(pr.Profile(positives=liked)), cands, w)[0]
    with_neg = pr.score(pr.fit(pr.Profile(positives=liked, negatives=disliked_kind)), cands, w)[0]
    assert with_neg.index(10) > with_neg.index(11)
    assert with_neg.index(10) >= without.index(10)


def test_followed_author_and_category_cold_start(rng):
    cands = pr.Candidates(ids=[1, 2, 3], vectors=topic(rng, 2, 3),
                          categories=[["cs.CV"], ["math.OC"], ["cs.CL"]],
                          authors=[["ada lovelace"], ["alan turing"], ["grace hopper"]])
    # no liked papers at all: follows and followed categories decide
    model = pr.fit(pr.Profile(positives=np.zeros((0, 16), np.float32), follows=frozenset({"grace hopper"}),
                              followed_categories=frozenset({"math.OC"})))
    ids, _ = pr.score(model, cands)
    assert ids[:2] == [3, 2]
    assert "grace hopper (followed)" in pr.why(model, cands, 3)
    assert "math.OC" in pr.why(model, cands, 2)


def test_already_seen_and_liked_papers_are_never_recommended(rng):
    liked = topic(rng, 0, 2)
    cands = pr.Candidates(ids=[1, 2, 3, 4], vectors=np.vstack([liked, topic(rng, 0, 2)]))
    model = pr.fit(pr.Profile(positives=liked, positive_ids=[1, 2]))
    ids, scores = pr.score(model, cands, exclude={3})
    assert ids == [4] and len(scores) == 1


def test_why_names_the_nearest_liked_paper_and_the_shared_words(rng):
    liked = np.vstack([topic(rng, 0, 1, noise=0.01), topic(rng, 1, 1, noise=0.01)])
    vocab = ["fair", "division", "graph", "robot"]
    liked_terms = sparse.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0]], np.float32))
    cand_terms = sparse.csr_matrix(np.array([[0.6, 0.8, 0, 0], [0, 0, 0, 1]], np.float32))
    cands = pr.Candidates(ids=[7, 8], vectors=np.vstack([topic(rng, 1, 1, noise=0.01), topic(rng, 5, 1)]),
                          terms=cand_terms)
    model = pr.fit(pr.Profile(positives=liked, positive_ids=[100, 200],
                              positive_titles=["Envy-free cake cutting", "Graph coloring"],
                              positive_terms=liked_terms))
    line = pr.why(model, cands, 7, vocabulary=vocab)
    assert "Graph coloring" in line
    assert "words: division, fair" in line
    assert "robot" not in pr.why(model, cands, 8, vocabulary=vocab)


def test_the_words_of_a_why_line_never_repeat_a_listed_phrase_or_its_words():
    # best first, as the words part weighs them
    assert pr.distinct_terms(["paper", "abstract topic", "topic", "abstract", "cake"], 3) == [
        "paper", "abstract topic", "cake"]
    # a phrase takes the place of its word listed before it, and of both its words
    assert pr.distinct_terms(["topic", "diffusion", "abstract topic", "graph"], 3) == [
        "abstract topic", "diffusion", "graph"]
    assert pr.distinct_terms(["fair", "division", "fair division", "cake"], 3) == ["fair division", "cake"]
    # a full list is not rewritten by what weighed less
    assert pr.distinct_terms(["fair", "division", "fair division", "cake"], 2) == ["fair", "division"]
    # phrases that only share a word say different things
    assert pr.distinct_terms(["graph diffusion", "diffusion models"], 3) == ["graph diffusion", "diffusion models"]
    assert pr.distinct_terms(["a", "a", "", "b"], 5) == ["a", "b"]
    # a plural is its singular again, and "-ing" and "-ed" forms the word; "loss" and
    # "focus" are no plurals, "used" is not "us"
    assert pr.distinct_terms(["gestures", "gesture", "worker quality", "workers", "loss", "los", "focus"], 5) == [
        "gestures", "worker quality", "loss", "los", "focus"]
    assert pr.distinct_terms(["anchoring", "anchor", "trained", "training", "train", "used", "us"], 5) == [
        "anchoring", "trained", "used", "us"]


def test_a_why_word_is_shown_as_the_paper_writes_it():
    body = ("Autoregressive (AR) models dominate. Unlike AR models, dLLMs decode in parallel with "
            "LLM agents. Speculative decoding helps; Transformer layers are trained on ImageNet.\nCVPR 2026")
    title = "Spatially Speculative Decoding for AR Image Models"
    shown = {t: pr.as_written(t, body, title) for t in (
        "ar", "dllms", "llm agents", "imagenet", "cvpr", "speculative decoding", "transformer", "models", "spatially")}
    assert shown == {
        "ar": "AR", "dllms": "dLLMs", "llm agents": "LLM agents", "imagenet": "ImageNet",
        "cvpr": "CVPR",  # found first in its line only, but a capital inside the word says it is a name
        "speculative decoding": "speculative decoding",  # capitals first in a sentence or in the title are not kept
        "transformer": "transformer", "models": "models", "spatially": "spatially",
    }
    # a phrase the vocabulary made across stop words is shown with them, as the paper
    # writes it; not across a sentence, nor past three skipped words: then word by word
    assert pr.as_written("learning images", "learning of images", "") == "learning of images"
    assert pr.as_written("dllms quokkanet", body + " We tune dLLMs with QuokkaNet.", "") == "dLLMs with QuokkaNet"
    assert pr.as_written("alignment cross", "", "Task Alignment in Cross-Lingual Transfer") == "alignment in cross"
    assert pr.as_written("models propose", "We train models. We propose a test.", "") == "models propose"
    assert pr.as_written("models text", "models of the a 2 text and models of text", "") == "models of text"
    assert pr.as_written("models text", "models of all of the text", "") == "models text"
    # a word not found (an accent the vocabulary strips) stays as it is
    assert pr.as_written("godel", "G\u00f6del numbers", "") == "godel"
    # capitals inside a sentence are kept where the paper writes them so more often than not
    mixed = "We propose Speculative Decoding for speech. Unlike speculative decoding in text, speculative decoding of"
    assert pr.as_written("speculative decoding", mixed + " Bayesian models", "") == "speculative decoding"
    assert pr.as_written("bayesian", mixed + " Bayesian models, a bayesian view and Bayesian priors", "") == "Bayesian"
    # the first word of the text, and of a paragraph (the comment after the abstract), is first in a sentence
    assert pr.as_written("accepted", "(Accepted) results\n\nAccepted at CVPR 2026", "") == "accepted"
    # a word inside a longer word is not it
    assert pr.as_written("ar", "ARM processors and AR", "") == "AR"
    assert pr.as_written("ar", "ARM processors", "") == "ar"


def test_told_a_few_words_written_gives_them_as_when_reading_every_word(shared_data, rng):
    """``only`` (the words of a member's 300 liked papers read for a dozen learned words)
    passes over the rest, and answers for those words and their phrases as a full read does."""
    rows = [json.loads(line) for line in (sorted((shared_data / "arxiv" / "daily").glob("*.jsonl"))[0]).open()][:300]
    body = "\n\n".join(f"{r['summary']}\n\n{r.get('comment') or ''}" for r in rows)
    title = "\n".join(r["title"] for r in rows)
    full = pr.Written(body, title)
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9_]+", body + " " + title)]
    for _ in range(20):
        only = {words[k] for k in rng.choice(len(words), 15)} | {"llms", "large", "language", "models", "vision"}
        part = pr.Written(body, title, only=only)
        terms = sorted(only | {f"{a} {b}" for a, b in zip(words, words[1:], strict=False) if a in only and b in only})
        assert {t: part.form(t) for t in terms} == {t: full.form(t) for t in terms}
    assert pr.Written("Unlike AR models, dLLMs decode.", only={"ar"}).form("ar") == "AR"
    assert pr.Written("Unlike AR models, dLLMs decode.", only={"ar"}).form("dllms") == "dllms"  # not read


def test_linear_part_needs_enough_positives(rng):
    background = pr.Background.fit(np.vstack([topic(rng, a, 30) for a in range(4)]))
    assert pr.fit(pr.Profile(positives=topic(rng, 0, 2)), background).direction is None
    assert pr.fit(pr.Profile(positives=topic(rng, 0, 3)), background).direction is not None


def test_mismatched_candidates_are_refused(rng):
    model = pr.fit(pr.Profile(positives=topic(rng, 0, 2)))
    with pytest.raises(ValueError, match="3 candidate ids but 2 vectors"):
        pr.score(model, pr.Candidates(ids=[1, 2, 3], vectors=topic(rng, 0, 2)))
    with pytest.raises(ValueError, match="at least 2 vectors"):
        pr.Background.fit(topic(rng, 0, 1))


def test_bulk_scores_agree_with_one_member_at_a_time(rng):
    pool = np.vstack([topic(rng, a, 10) for a in range(6)])
    new = np.vstack([topic(rng, a, 5) for a in range(6)])
    pool_terms = sparse.random(60, 50, density=0.2, format="csr", dtype=np.float32, random_state=1)
    new_terms = sparse.random(30, 50, density=0.2, format="csr", dtype=np.float32, random_state=2)
    background = pr.Background.fit(pool)
    members = [[0, 1, 2, 3], [12, 25, 40], [55], [5, 15, 25, 35, 45]]
    liked = sparse.lil_matrix((len(members), len(pool)), dtype=np.float32)
    for m, idx in enumerate(members):
        liked[m, idx] = 1.0
    w = pr.Weights(category=0.0, negative=0.0)
    ids, scores = pr.bulk_scores(liked.tocsr(), pool, new, pool_terms=pool_terms, new_terms=new_terms,
                                 background=background, weights=w, top=10, chunk=3)
    for m, idx in enumerate(members):
        model = pr.fit(pr.Profile(positives=pool[idx], positive_terms=pool_terms[idx]), background, w)
        one_ids, one_scores = pr.score(model, pr.Candidates(ids=list(range(30)), vectors=new, terms=new_terms), w)
        assert list(ids[m]) == one_ids[:10]
        np.testing.assert_allclose(scores[m], one_scores[:10], rtol=1e-3, atol=1e-3)


def test_a_papers_words_are_its_title_abstract_and_comment_without_addresses():
    text = pr.term_text("Cake cutting", "Envy-free division.",
                        "Accepted at EC 2025; code at https://github.com/jdoe/cake, www.jdoe.org and jdoe.github.io, "
                        "mail jdoe@example.edu")
    assert text.startswith("Cake cutting\nEnvy-free division.\nAccepted at EC 2025; code at")
    assert "jdoe" not in text and "github" not in text and "example" not in text
    assert pr.term_text("Cake cutting", None) == "Cake cutting\n"
