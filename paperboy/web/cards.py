"""Cards: what one paper looks like in any list (feeds, search, trending, following...).

``build_cards(db, papers, user=None)`` turns Paper rows into ``Card`` objects for the
``_card.html`` partial; features reuse both for their own lists.

Rendering a card costs more than anything else on a list page (~0.1 ms each: authors'
links, math, links), so ``card_html(card)`` renders each card once and keeps the HTML
in an in-process LRU (``CardCache``). The key is everything the HTML is made of that
can change: the paper's id and ``modified_at`` (which every write to the paper row
moves: a vote, a comment count, an edit by ingest, hiding, featuring), its vote and
comment counts, the submitter's name (a users row) and the day shown. A changed paper
gets a new key, so no card is ever stale and nothing needs deleting: old keys fall
off the end of the LRU. What differs per visitor (my vote, my save menu, the CSRF
token) is a slot (``web/slots.py``), so one cached card serves everyone. Each process
has its own LRU; since the key comes from the row just read, processes never
disagree. Cards with a search snippet or a trending score are rendered each time.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperboy.papers.days import listing_day
from paperboy.papers.mathplain import plain_text
from paperboy.papers.queries import author_names
from paperboy.store.models import Paper, User, Vote
from paperboy.web.mathtext import render_math

AUTHORS_SHOWN = 5
ABSTRACT_CLAMP = 420  # characters; longer abstracts get a "more" toggle


def card_id(arxiv_id: str) -> str:
    """The HTML id of a paper's card (``_card.html``): an old-style id's slash becomes a
    dash, so the id is one plain URL fragment."""
    return "p-" + arxiv_id.strip().replace("/", "-")


def at_card(url: str, arxiv_id: str) -> str:
    """``url`` with its fragment replaced by the paper's card: a form sent without
    JavaScript from a long feed comes back to where it was."""
    return f"{url.split('#', 1)[0]}#{quote(card_id(arxiv_id), safe='')}"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links from untrusted data become hrefs."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    return None


@dataclass
class Card:
    paper_id: int
    arxiv_id: str
    version: int
    title: str
    title_html: Markup
    authors: list[str]
    abstract: str
    abstract_html: Markup
    categories: list[str]
    links: list[tuple[str, str]]
    upvotes: int
    num_comments: int
    day: dt.date | None
    announced_on: dt.date | None
    submitted_at: dt.datetime | None
    comment: str | None = None
    submitted_by: str | None = None
    featured_on: dt.date | None = None
    voted: bool = False
    modified_at: dt.datetime | None = None
    score: float | None = None
    snippet: Markup | None = None
    extra: dict = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"/papers/{self.arxiv_id}"

    @property
    def authors_shown(self) -> list[str]:
        return self.authors[:AUTHORS_SHOWN] if len(self.authors) > AUTHORS_SHOWN + 1 else self.authors

    @property
    def authors_more(self) -> list[str]:
        return self.authors[len(self.authors_shown):]

    @property
    def long_abstract(self) -> bool:
        return len(self.abstract) > ABSTRACT_CLAMP

    @property
    def plain_title(self) -> str:
        return plain_text(self.title)

    @property
    def plain_abstract(self) -> str:
        return plain_text(self.abstract)


def paper_links(p: Paper) -> list[tuple[str, str]]:
    links = [("arXiv", safe_url(p.abs_url) or f"https://arxiv.org/abs/{p.arxiv_id}"),
             ("PDF", safe_url(p.pdf_url) or f"https://arxiv.org/pdf/{p.arxiv_id}")]
    seen = set()
    for link in p.links or []:
        if not isinstance(link, dict):
            continue
        url = safe_url(link.get("url"))
        kind = link.get("kind")
        if url and url not in seen and kind in ("code", "project"):
            seen.add(url)
            links.append((link_label(url, kind), url))
    return links


# What a Hugging Face address holds, by its first path segment.
_HF_KINDS = {"datasets": "Dataset", "spaces": "Space", "papers": "Hugging Face page", "docs": "Project page"}


def link_label(url: str, kind: str) -> str:
    """A link's label by what it points at: Code (a repository), Model, Dataset or Space
    (Hugging Face), else Project page."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    if host in ("huggingface.co", "hf.co"):
        segments = [s for s in parts.path.split("/") if s]
        if not segments:
            return "Project page"
        return _HF_KINDS.get(segments[0], "Model")
    return "Code" if kind == "code" else "Project page"


def build_cards(db: Session, papers: list[Paper], user: User | None = None) -> list[Card]:
    """Cards for ``papers`` in the same order; ``user`` marks the ones they voted for."""
    submitter_ids = {p.submitted_by_id for p in papers if p.submitted_by_id}
    names: dict[int, str] = {}
    if submitter_ids:
        names = dict(db.execute(select(User.id, User.display_name).where(User.id.in_(submitter_ids))).all())
    voted: set[int] = set()
    if user is not None and papers:
        voted = set(db.scalars(select(Vote.paper_id).where(
            Vote.user_id == user.id, Vote.paper_id.in_([p.id for p in papers]))))

    names_of = author_names(db, papers)
    cards = []
    for p in papers:
        submitted_by = None
        if p.submitted_by_id and p.featured_on:
            submitted_by = names.get(p.submitted_by_id) or "a member"
        authors = names_of.get(p.id) or [a.strip() for a in (p.authors_text or "").split(",") if a.strip()]
        cards.append(Card(
            paper_id=p.id,
            arxiv_id=p.arxiv_id,
            version=p.version or 1,
            title=p.title,
            title_html=render_math(p.title),
            authors=authors,
            abstract=p.abstract or "",
            abstract_html=render_math(p.abstract),
            categories=p.category_list,
            links=paper_links(p),
            upvotes=p.upvotes or 0,
            num_comments=p.num_comments or 0,
            # A submission is listed on its arXiv announce day (web/queries.py).
            day=p.announced_on or (listing_day(p.submitted_at) if submitted_by and p.submitted_at else p.featured_on),
            announced_on=p.announced_on,
            submitted_at=p.submitted_at,
            comment=p.comment,
            submitted_by=submitted_by,
            featured_on=p.featured_on,
            voted=p.id in voted,
            modified_at=p.modified_at,
        ))
    return cards


# --- rendering cards once ------------------------------------------------------------

class CardCache:
    """Rendered cards by ``card_key``: an LRU of at most ``max_entries`` (~3 KB each)."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple, Markup] = OrderedDict()
        self._lock = threading.Lock()  # pages render in worker threads
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Markup | None:
        with self._lock:
            html = self.entries.get(key)
            if html is not None:
                self.entries.move_to_end(key)
                self.hits += 1
            return html

    def put(self, key: tuple, html: Markup) -> None:
        with self._lock:
            self.misses += 1
            self.entries[key] = html
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)


def card_key(card: Card) -> tuple | None:
    """What the card's shared HTML depends on, or None when it is not worth keeping."""
    if card.modified_at is None or card.snippet is not None or card.score is not None or card.extra:
        return None
    return (card.paper_id, card.modified_at, card.upvotes, card.num_comments, card.submitted_by, card.day,
            str(card.title_html))


def card_renderer(env, cache: CardCache):
    """The ``card_html(card)`` template global: ``_card.html``, rendered once per key."""
    template = env.get_template("_card.html")

    def card_html(card: Card) -> Markup:
        key = card_key(card)
        html = cache.get(key) if key is not None else None
        if html is None:
            # No request: the card's per-visitor parts are slots, filled per response.
            html = Markup(template.render(card=card, request=None))
            if key is not None:
                cache.put(key, html)
        return html

    card_html.cache = cache
    return card_html
