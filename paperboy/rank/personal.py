"""Personal ("For you") ranking: score new papers for one member from what they liked.

Chosen by measurement in ``bench/recommend.py`` (see docs/recommend.md). A member's
profile is the vectors (and, optionally, weighted words) of the papers they voted for or
saved, the papers they marked "not interested", and the authors and categories they
follow. A candidate paper's score is a weighted sum of parts, each standardised over
the candidate set (so the weights mean the same for a day of 200 or 2,000 papers):

* ``knn``       mean cosine to its ``knn_k`` nearest liked papers (a member with two
                interests is not averaged into neither);
* ``centroid``  cosine to the mean liked vector;
* ``linear``    a linear model (shared-covariance discriminant, see ``Background``)
                from the liked papers against the background of recent papers; it
                needs no per-member optimisation, so it refits instantly and in bulk;
* ``words``     cosine of the paper's tf-idf to the liked papers' mean tf-idf;
* ``words_knn`` mean tf-idf cosine to its ``knn_k`` nearest liked papers;
* ``category``  the share of liked papers in the paper's categories (plus followed
                categories);
* ``negative``  minus the cosine to the nearest "not interested" paper;
* ``follow``    1 when a followed author wrote it (not standardised: a follow is a
                strong, explicit signal).

Every recommendation comes with a one-line reason taken from the same parts: the
nearest liked paper, the words that weighed most, the followed author or category.
Only numpy and scipy.sparse; vectors are L2-normalised float32 rows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

PARTS = ("knn", "centroid", "linear", "words", "words_knn", "category", "negative")


@dataclass(frozen=True)
class Weights:
    """Weights of the standardised parts: the content-only weights tuned on the bench's
    even split with every later day of each user (``--days-per-user 0``,
    docs/recommend.md), with the follow weight tuned there too."""

    knn: float = 0.25
    centroid: float = 0.25
    linear: float = 0.25
    words: float = 0.5
    words_knn: float = 0.25
    category: float = 0.5
    negative: float = 0.5
    follow: float = 5.0
    knn_k: int = 1
    # the linear part is used once there are this many liked papers (fewer: too noisy)
    linear_min_positives: int = 3


@dataclass
class Background:
    """What the linear part contrasts a member's liked papers with: the mean and the
    regularised inverse covariance of recent papers' vectors. Computed once per day for
    everybody (a 384x384 matrix), so a member's model is ``P (mean_liked - mean)``:
    Fisher's discriminant with a shared covariance, i.e. the logistic regression with
    random recent papers as negatives, in closed form."""

    mean: np.ndarray
    precision: np.ndarray

    @classmethod
    def fit(cls, vectors: np.ndarray, shrinkage: float = 0.5) -> Background:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError("Background.fit needs a 2-d array of at least 2 vectors")
        mean = x.mean(axis=0)
        cov = np.cov(x - mean, rowvar=False)
        # shrink towards a scaled identity: the covariance of a few thousand 384-d
        # vectors is poorly conditioned, and shrinkage keeps directions nobody writes
        # about from being amplified
        target = np.trace(cov) / cov.shape[0]
        cov = (1 - shrinkage) * cov + shrinkage * target * np.eye(cov.shape[0])
        return cls(mean.astype(np.float32), np.linalg.inv(cov).astype(np.float32))


@dataclass
class Profile:
    """A member's signals. ``positive_ids`` label ``positives`` (for the why line)."""

    positives: np.ndarray  # (p, d) liked papers' vectors
    positive_ids: Sequence[int] = ()
    positive_titles: Sequence[str] = ()
    positive_terms: sparse.csr_matrix | None = None  # (p, V) tf-idf rows of the liked papers
    positive_categories: Sequence[Sequence[str]] = ()
    negatives: np.ndarray | None = None  # (n, d) "not interested"
    follows: frozenset[str] = frozenset()  # normalised author names
    followed_categories: frozenset[str] = frozenset()


@dataclass
class Candidates:
    """The papers to rank (e.g. one day's new papers)."""

    ids: Sequence[int]
    vectors: np.ndarray  # (n, d)
    terms: sparse.csr_matrix | None = None  # (n, V) tf-idf rows, same vocabulary
    categories: Sequence[Sequence[str]] = ()
    authors: Sequence[Sequence[str]] = ()  # normalised author names
    # category -> positions of the candidates in it (optional: built once for a reused
    # candidate set, it makes the category part a few array writes instead of a loop)
    category_index: dict[str, np.ndarray] | None = None


@dataclass
class Model:
    """A member's fitted model (cheap: sums, a mean and one matrix-vector product)."""

    positives: np.ndarray
    positive_ids: list[int]
    positive_titles: list[str]
    centroid: np.ndarray | None
    direction: np.ndarray | None  # linear part's weight vector
    term_centroid: np.ndarray | None  # dense (V,) mean tf-idf of liked papers
    terms: sparse.csr_matrix | None  # the liked papers' tf-idf rows
    category_share: dict[str, float]
    negatives: np.ndarray | None
    follows: frozenset[str]
    parts: dict[str, np.ndarray] = field(default_factory=dict)  # of the last score()


# Web and mail addresses in a comment: a personal page or repository often spells its
# owner's name, and the measured ranker is "content only" (no author names in any feature).
_ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+|\S+\.(?:com|org|io|net|edu|ai)\b\S*", re.IGNORECASE)


def term_text(title: str | None, abstract: str | None, comment: str | None = None) -> str:
    """The text a paper's words come from: title, abstract and arXiv comment, the comment's
    web and mail addresses left out. The comment ("Accepted at CVPR 2025", "12 pages, 5
    figures", a workshop's name) carries a group's habits of venue and format: measured on
    the bench's tune split, it raised the ranker's nDCG@10 from 0.153 to 0.155 with all
    later days (docs/recommend.md)."""
    parts = [title or "", abstract or ""]
    if comment:
        parts.append(_ADDRESS.sub(" ", comment))
    return "\n".join(parts)


def term_vectorizer(n_docs: int):
    """The ranker's own words (chosen in bench/recommend.py, docs/recommend.md): tf-idf of
    word unigrams and bigrams that keeps rare terms (a group's own names for its methods,
    datasets and models are what its next paper shares with its last: ``min_df=2``, no
    vocabulary cap, where arxiv-sanity-lite keeps 20,000 terms seen in 5 papers or more).
    Its bigrams run across sentences and from the title into the abstract: kept within a
    sentence or a field instead, they measured no better (docs/recommend.md).
    Character n-grams were tried too and measured no better. A small corpus (tests, a new
    instance) keeps every term."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    small = n_docs < 50
    return TfidfVectorizer(stop_words="english", token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
                           ngram_range=(1, 2), sublinear_tf=True, strip_accents="unicode",
                           min_df=1 if small else 2, max_df=1.0 if small else 0.5, dtype=np.float32)


def term_names(vectorizer) -> list[str]:
    """The vocabulary of a fitted ``term_vectorizer``, by column."""
    return [str(n) for n in vectorizer.get_feature_names_out()]


def _word_key(word: str) -> str:
    """The word less a plural's "s" or an "-ing" or "-ed" ("gestures" and "gesture",
    "anchoring" and "anchor" say one thing twice): a crude stem, enough to compare the few
    words of one why line (the ranker's words themselves are not stemmed)."""
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) else word


def distinct_terms(ranked: Iterable[str], n: int) -> list[str]:
    """The first ``n`` of ``ranked`` (terms best first) that say something new: a word of a
    phrase already listed is left out, and while the list is not full a phrase takes the
    place of a word of it listed before ("abstract topic", "topic" reads as a stutter;
    "topic", "abstract topic" as well), a word counting as its plural and its "-ing" and
    "-ed" forms. Phrases that only share a word ("graph diffusion", "diffusion models")
    both stay."""
    chosen: list[str] = []
    for term in ranked:
        if len(chosen) >= n:
            break
        words = [_word_key(w) for w in term.split()]
        listed = [[_word_key(w) for w in c.split()] for c in chosen]
        if not words or words in listed or (len(words) == 1 and any(words[0] in c for c in listed)):
            continue
        inside = [k for k, c in enumerate(listed) if len(c) == 1 and c[0] in words]  # its words listed
        if inside:
            chosen[inside[0]] = term
            for k in reversed(inside[1:]):  # a phrase both of whose words were listed
                del chosen[k]
        else:
            chosen.append(term)
    return chosen


_PIECES = re.compile(r"([A-Za-z0-9_]+)")
_SENTENCE_END = frozenset(".!?:;")
_GAPPED_WORD = re.compile(r"([ \t\-]+)([A-Za-z0-9_]+)")  # a word after spaces or a hyphen, in a phrase


def _starts_sentence(gaps: list[str], j: int) -> bool:
    """Whether word ``j`` (``gaps[j]`` before it) is first in the text, a sentence or a paragraph."""
    if j == 0:
        return True
    gap = gaps[j].rstrip()
    return (bool(gap) and gap[-1] in _SENTENCE_END) or "\n\n" in gaps[j]


class Written:
    """How a paper writes its words, for why lines: "AR", "dLLMs", "ImageNet", "LLM
    agents" rather than the vocabulary's "ar", "dllms", "imagenet", "llm agents".

    Built once per paper (one split of its text in C, then a look at the words with a
    capital and their neighbours only) and asked per word. Only words and
    adjacent pairs with a capital are kept: anything else is written as the vocabulary
    has it. The capitals a word has inside the sentences of the abstract or comment
    (``body``; paragraphs, such as the abstract and the comment, apart by a blank line)
    are kept where they are written so more often than not ("Bayesian"; a
    paper that writes "Speculative Decoding" once and "speculative decoding" twice gets
    the latter); where a word is only capitalised first in a sentence or in the title
    (whose words are often all capitalised), only a capital inside the word ("dLLMs",
    "AR") is kept. A phrase the vocabulary made across stop words is shown with them as
    the paper writes them ("dLLMs with QuokkaNet", "learning of images"; looked up when
    asked); one not found so is taken word by word; a word not found (an accent the
    vocabulary strips) stays as it is."""

    __slots__ = ("inside", "first", "texts", "phrases")

    def __init__(self, body: str, title: str = "", only: set[str] | None = None) -> None:
        """``only``: the (lower-case) words to read, when only a few terms will be asked
        for (the words of a member's many liked papers): other words, and phrases with
        one, are passed over."""
        self.inside: dict[str, str] = {}  # lower-case term -> as written inside a sentence, mostly
        self.first: dict[str, str] = {}  # lower-case term -> as first written elsewhere
        self.texts = (body, title)  # for a phrase across stop words, looked up when asked
        self.phrases: dict[str, str] = {}  # such phrases once looked up (a paper is shown to many)
        capitalised: dict[str, list] = {}  # term -> [as first written inside a sentence, times]
        body_words: list[str] = []
        for text, in_title in ((body, False), (title, True)):
            pieces = _PIECES.split(text)  # gap, word, gap, word, ..., gap: in C, not a loop of ours
            words, gaps = pieces[1::2], pieces[0::2]  # gaps[j] comes before words[j]
            if not in_title:
                body_words = words

            # Only a word with a capital, or the pair it makes with the word before or
            # after it, can be written other than in lower case: most words are skipped.
            upper = [j for j, w in enumerate(words) if not w.islower() and w.lower() != w
                     and (only is None or w.lower() in only)]
            at = sorted(set(upper).union(j + 1 for j in upper if j + 1 < len(words)))
            lows = {j: words[j].lower() for k in at for j in (k - 1, k) if j >= 0}
            for j in at:
                word, low = words[j], lows[j]
                terms = [(low, word, j)]
                if only is not None and low not in only:
                    terms.clear()  # a word after one read: neither it nor the phrase is asked for
                elif j > 0 and (only is None or lows[j - 1] in only):
                    terms.append((f"{lows[j - 1]} {low}", f"{words[j - 1]} {word}", j - 1))
                for term, form, starts in terms:
                    if form == term:
                        continue
                    if in_title or _starts_sentence(gaps, starts):
                        self.first.setdefault(term, form)
                    else:
                        capitalised.setdefault(term, [form, 0])[1] += 1
        if capitalised:  # how often each is written in lower case in the body instead
            single = Counter(body_words)
            wanted = {tuple(t.split()) for t in capitalised if " " in t}
            pairs = Counter(p for p in zip(body_words, body_words[1:], strict=False) if p in wanted) if wanted else Counter()
            for t, (form, n) in capitalised.items():
                a, _, b = t.partition(" ")
                if n > (pairs[(a, b)] if b else single[t]):
                    self.inside[t] = form

    def form(self, term: str) -> str:
        if term in self.inside:
            return self.inside[term]
        if term in self.first:
            return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in self.first[term].split())
        words = term.split()
        if len(words) != 2:
            return " ".join(self.form(w) for w in words) if len(words) > 1 else term
        if term not in self.phrases:
            between = self._between(*words)
            self.phrases[term] = (  # not found with stop words between: word by word
                f"{self.form(words[0])} {self.form(words[1])}" if between is None else
                self.form(words[0]) + "".join(f"{gap}{word.lower()}" for gap, word in between[:-1])
                + between[-1][0] + self.form(words[1]))
        return self.phrases[term]

    def _between(self, first: str, second: str) -> list[tuple[str, str]] | None:
        """The words the vocabulary skipped between ``first`` and ``second`` where the paper
        writes them (up to three stop words, one-letter words or numbers, apart by spaces
        or hyphens, not across a sentence), each with the gap before it, then the gap
        before ``second``: "dLLMs with QuokkaNet" for the phrase "dllms quokkanet"."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        def skipped(word: str) -> bool:
            return len(word) == 1 or word[0].isdigit() or word.lower() in ENGLISH_STOP_WORDS

        starts = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(first)}(?![A-Za-z0-9_])", re.IGNORECASE)
        for text in self.texts:
            for m in starts.finditer(text):
                pos, found = m.end(), []
                while len(found) <= 3 and (g := _GAPPED_WORD.match(text, pos)) is not None:
                    gap, word = g.group(1), g.group(2)
                    if word.lower() == second and found:
                        return [*found, (gap, "")]
                    if not skipped(word):
                        break
                    found.append((gap, word))
                    pos = g.end()
        return None


def as_written(term: str, body: str, title: str = "") -> str:
    """``term`` as the paper (``body``: abstract and comment; ``title``) writes it (``Written``)."""
    return Written(body, title).form(term)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _standardise(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def fit(profile: Profile, background: Background | None = None, weights: Weights = Weights()) -> Model:
    """A member's model from their signals; refitting is this call again (milliseconds)."""
    pos = np.asarray(profile.positives, dtype=np.float32).reshape(-1, np.asarray(profile.positives).shape[-1])
    centroid = _unit(pos.mean(axis=0)) if len(pos) else None
    direction = None
    if background is not None and len(pos) >= weights.linear_min_positives:
        direction = background.precision @ (pos.mean(axis=0) - background.mean)
    term_centroid = None
    if profile.positive_terms is not None and profile.positive_terms.shape[0]:
        term_centroid = np.asarray(profile.positive_terms.mean(axis=0)).ravel()
        term_centroid = _unit(term_centroid)
    counts: Counter[str] = Counter()
    for cats in profile.positive_categories:
        counts.update(set(cats))
    n = max(len(profile.positive_categories), 1)
    share = {c: k / n for c, k in counts.items()}
    for c in profile.followed_categories:
        share[c] = max(share.get(c, 0.0), 1.0)
    neg = None
    if profile.negatives is not None and len(profile.negatives):
        neg = np.asarray(profile.negatives, dtype=np.float32)
    return Model(pos, list(profile.positive_ids), list(profile.positive_titles), centroid, direction,
                 term_centroid, profile.positive_terms, share, neg, frozenset(profile.follows))


def parts(model: Model, cands: Candidates, weights: Weights = Weights()) -> dict[str, np.ndarray]:
    """The raw (unstandardised) parts for every candidate; absent parts are left out."""
    v = np.asarray(cands.vectors, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    if len(model.positives):
        sims = v @ model.positives.T  # (n, p)
        k = min(weights.knn_k, sims.shape[1])
        out["knn"] = np.sort(sims, axis=1)[:, -k:].mean(axis=1) if k > 1 else sims.max(axis=1)
        out["centroid"] = v @ model.centroid
    if model.direction is not None:
        out["linear"] = v @ model.direction
    if model.term_centroid is not None and cands.terms is not None:
        out["words"] = np.asarray(cands.terms @ model.term_centroid).ravel()
        if weights.words_knn:
            tsims = (cands.terms @ model.terms.T).toarray()
            k = min(weights.knn_k, tsims.shape[1])
            out["words_knn"] = np.sort(tsims, axis=1)[:, -k:].mean(axis=1)
    if model.category_share and cands.category_index is not None:
        share = np.zeros(len(v), dtype=np.float32)
        for c, value in model.category_share.items():
            at = cands.category_index.get(c)
            if at is not None:
                share[at] = np.maximum(share[at], value)
        out["category"] = share
    elif model.category_share and cands.categories:
        out["category"] = np.array([max((model.category_share.get(c, 0.0) for c in cats), default=0.0)
                                    for cats in cands.categories], dtype=np.float32)
    if model.negatives is not None:
        out["negative"] = -(v @ model.negatives.T).max(axis=1)
    if model.follows and cands.authors:
        out["follow"] = np.array([1.0 if model.follows.intersection(a) else 0.0 for a in cands.authors],
                                 dtype=np.float32)
    return out


def combine(raw: dict[str, np.ndarray], weights: Weights = Weights()) -> np.ndarray:
    """The weighted sum of the standardised parts (``follow`` is added as it is)."""
    n = len(next(iter(raw.values()))) if raw else 0
    score = np.zeros(n, dtype=np.float64)
    for name, values in raw.items():
        w = getattr(weights, name)
        if w:
            score += w * (values if name == "follow" else _standardise(values.astype(np.float64)))
    return score


def score(model: Model, cands: Candidates, weights: Weights = Weights(), *,
          exclude: set[int] | frozenset[int] = frozenset()) -> tuple[list[int], np.ndarray]:
    """``(ids, scores)`` of the candidates, best first, leaving out ``exclude`` (papers
    already voted, saved, dismissed or shown) and the liked papers themselves."""
    if len(cands.ids) != len(cands.vectors):
        raise ValueError(f"{len(cands.ids)} candidate ids but {len(cands.vectors)} vectors")
    if len(cands.ids) == 0:
        return [], np.zeros(0)
    raw = parts(model, cands, weights)
    model.parts = raw
    s = combine(raw, weights) if raw else np.zeros(len(cands.ids))
    skip = set(exclude) | set(model.positive_ids)
    order = [i for i in np.argsort(-s, kind="stable") if cands.ids[i] not in skip]
    return [cands.ids[i] for i in order], s[order]


def why(model: Model, cands: Candidates, paper_id: int, *, vocabulary: Sequence[str] = (),
        n_words: int = 3) -> str:
    """One line saying why ``paper_id`` (one of ``cands.ids``) was recommended: the
    followed author it matched, the liked paper it is nearest to, the words that weighed
    most in the words part, or the category it shares."""
    i = list(cands.ids).index(paper_id)
    bits: list[str] = []
    if model.follows and cands.authors:
        matched = sorted(model.follows.intersection(cands.authors[i]))
        if matched:
            bits.append("by " + ", ".join(matched[:2]) + " (followed)")
    if len(model.positives):
        sims = model.positives @ np.asarray(cands.vectors[i], dtype=np.float32)
        j = int(np.argmax(sims))
        label = (model.positive_titles[j] if j < len(model.positive_titles)
                 else str(model.positive_ids[j]) if j < len(model.positive_ids) else f"#{j}")
        bits.append(f"like \u201c{label}\u201d ({sims[j]:.2f})")
    if model.term_centroid is not None and cands.terms is not None and len(vocabulary):
        row = cands.terms[i]
        weight = row.data * model.term_centroid[row.indices]
        top = distinct_terms((vocabulary[row.indices[k]] for k in np.argsort(-weight) if weight[k] > 0), n_words)
        if top:
            bits.append("words: " + ", ".join(top))
    if not bits and cands.categories:
        shared = [c for c in cands.categories[i] if model.category_share.get(c, 0) > 0]
        if shared:
            bits.append("in " + ", ".join(shared[:2]))
    return "; ".join(bits) or "new in your categories"


def _row_standardise(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=1, keepdims=True)
    return np.where(sd > 1e-12, (x - x.mean(axis=1, keepdims=True)) / np.where(sd > 1e-12, sd, 1.0), 0.0)


def bulk_scores(liked: sparse.csr_matrix, pool_vectors: np.ndarray, new_vectors: np.ndarray, *,
                pool_terms: sparse.csr_matrix | None = None, new_terms: sparse.csr_matrix | None = None,
                background: Background | None = None, weights: Weights = Weights(),
                top: int = 50, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Refit and score for many members at once, with matrix products over the stored
    vectors instead of one query per member (the daily worker's path).

    ``liked`` is a (members x pool) 0/1 matrix: row m marks the pool papers member m
    liked. Returns (members x top) candidate positions (into ``new_vectors``), best first,
    and their scores. Parts as in ``score`` without follows, categories and negatives
    (the caller adds those for the members who have them); the ``centroid`` and
    ``words`` parts are the liked papers' mean similarity, which standardises to the
    same values as the cosine to the (normalised) centroid."""
    liked = sparse.csr_matrix(liked, dtype=np.float32)
    counts = np.asarray(liked.sum(axis=1)).ravel()
    new = np.asarray(new_vectors, dtype=np.float32)
    sims = np.asarray(pool_vectors, dtype=np.float32) @ new.T  # (pool, n): each pair once
    words = None
    if pool_terms is not None and new_terms is not None and (weights.words or weights.words_knn):
        words = (pool_terms @ new_terms.T).toarray().astype(np.float32)  # (pool, n)
    n_members, n_new = liked.shape[0], new.shape[0]
    top = min(top, n_new)
    out_ids = np.zeros((n_members, top), dtype=np.int32)
    out_scores = np.zeros((n_members, top), dtype=np.float32)
    for start in range(0, n_members, chunk):
        rows = liked[start:start + chunk]
        denom = np.maximum(counts[start:start + chunk], 1.0)[:, None]
        total = np.zeros((rows.shape[0], n_new), dtype=np.float32)
        mean_sim = (rows @ sims) / denom
        total += weights.centroid * _row_standardise(mean_sim)
        nearest = [(weights.knn, sims)] + ([(weights.words_knn, words)] if words is not None else [])
        for w, table in nearest:
            if not w:
                continue
            knn = np.zeros_like(mean_sim)
            for r in range(rows.shape[0]):
                idx = rows.indices[rows.indptr[r]:rows.indptr[r + 1]]
                if len(idx):
                    s = table[idx]
                    k = min(weights.knn_k, len(idx))
                    knn[r] = np.partition(s, len(idx) - k, axis=0)[-k:].mean(axis=0) if k < len(idx) else s.mean(axis=0)
            total += w * _row_standardise(knn)
        if words is not None and weights.words:
            total += weights.words * _row_standardise((rows @ words) / denom)
        if background is not None and weights.linear:
            mean_vec = (rows @ pool_vectors) / denom - background.mean
            lin = (mean_vec @ background.precision) @ new.T
            lin[counts[start:start + chunk] < weights.linear_min_positives] = 0.0
            total += weights.linear * _row_standardise(lin)
        part = np.argpartition(-total, top - 1, axis=1)[:, :top]
        vals = np.take_along_axis(total, part, axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")
        out_ids[start:start + chunk] = np.take_along_axis(part, order, axis=1)
        out_scores[start:start + chunk] = np.take_along_axis(vals, order, axis=1)
    return out_ids, out_scores
