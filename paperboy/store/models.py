"""Core tables: papers, their authors and categories, ingest cursors, accounts, and what
members do that more than one feature reads (votes, follows, collections, the "For you"
signals).

Each package adds the tables it owns in its own ``models.py`` (community, digest,
index), on the same ``Base`` so that one metadata describes the whole schema.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    column,
    false,
    table,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both backends (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class Paper(Base):
    """One paper, keyed by its arXiv id without version."""

    __tablename__ = "papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    arxiv_id: Mapped[str] = mapped_column(String(40), unique=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    # Denormalised "A, B, C" so cards and the keyword index need no join.
    authors_text: Mapped[str] = mapped_column(Text, default="")
    primary_category: Mapped[str | None] = mapped_column(String(40))
    # Space-separated arXiv categories, primary first (MSC/ACM classes kept apart).
    categories: Mapped[str] = mapped_column(Text, default="")
    msc_classes: Mapped[str | None] = mapped_column(Text)
    acm_classes: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    announced_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    license: Mapped[str | None] = mapped_column(String(255))
    abs_url: Mapped[str | None] = mapped_column(String(255))
    pdf_url: Mapped[str | None] = mapped_column(String(255))
    # [{"kind": "code"|"project", "url": ...}] found in the abstract or comment.
    links: Mapped[list] = mapped_column(JSON, default=list)
    # Comma-separated sorted set of sources: listing, snapshot, api, oai, submission.
    sources: Mapped[str] = mapped_column(String(255), default="")
    # Hash of the normalised content, so unchanged re-imports write nothing.
    content_hash: Mapped[str] = mapped_column(String(32), default="")

    # Community state kept on the row so feeds sort without joins.
    upvotes: Mapped[int] = mapped_column(Integer, default=0)
    num_comments: Mapped[int] = mapped_column(Integer, default=0)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    featured_on: Mapped[dt.date | None] = mapped_column(Date, index=True)

    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    author_links: Mapped[list[PaperAuthor]] = relationship(
        order_by="PaperAuthor.position", cascade="all, delete-orphan", lazy="selectin"
    )

    # Every write that changes what a page shows about a paper (content, votes,
    # comments, hidden, featured) sets modified_at, so caches can check one max().
    __table_args__ = (
        Index("ix_papers_announced_votes", "announced_on", "upvotes"),
        Index("ix_papers_modified_at", "modified_at"),
        # The few hidden papers, so that a count of visible ones can subtract them.
        Index("ix_papers_hidden", "id", postgresql_where=text("hidden"), sqlite_where=text("hidden = 1")),
    )

    @property
    def author_names(self) -> list[str]:
        return [link.author.name for link in self.author_links]

    @property
    def category_list(self) -> list[str]:
        return self.categories.split() if self.categories else []


# The order of a category's page (queries.listing_order), so that a category of half of
# arXiv is read 30 papers at a time instead of sorted whole. Unannounced papers come last:
# PostgreSQL is told so; SQLite puts NULL last in DESC by itself and takes no NULLS here.
# So each backend has its own (``info["dialect"]``: migrate.for_backend leaves the
# other out when the models are compared with a database).
Index("ix_papers_listing", Paper.announced_on.desc().nulls_last(), Paper.upvotes.desc(),
      Paper.arxiv_id.desc(), info={"dialect": "postgresql"}).ddl_if(dialect="postgresql")
Index("ix_papers_listing", Paper.announced_on.desc(), Paper.upvotes.desc(),
      Paper.arxiv_id.desc(), info={"dialect": "sqlite"}).ddl_if(dialect="sqlite")


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    # Lower-cased, accent-folded name for look-ups ("balazs" finds "Balázs").
    name_key: Mapped[str] = mapped_column(String(300), index=True)


class PaperAuthor(Base):
    __tablename__ = "paper_authors"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    author: Mapped[Author] = relationship(lazy="joined")

    # On SQLite the row lives in its primary-key B-tree (migration 0005): one B-tree
    # fewer to write per row, and a paper's authors are one clustered range.
    __table_args__ = {"sqlite_with_rowid": False}


class PaperCategory(Base):
    __tablename__ = "paper_categories"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        Index("ix_paper_categories_category", "category", "paper_id"),
        {"sqlite_with_rowid": False},  # as paper_authors (migration 0005)
    )


class IngestCursor(Base):
    """Where a source stopped, so a re-run resumes (JSON value, source-specific)."""

    __tablename__ = "ingest_cursors"

    source: Mapped[str] = mapped_column(String(500), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DeferredDDL(Base):
    """An index or constraint a bulk import dropped, with the statement that recreates it
    (paperboy/store/bulk.py); the table is empty except during (or after a killed) bulk import."""

    __tablename__ = "deferred_ddl"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # 'index' | 'foreign key'
    ddl: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    # ``store.namekeys.name_key(display_name)``: names that would pass for one another share it
    display_name_key: Mapped[str | None] = mapped_column(String(100), index=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    email_verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Mailed when someone replies to one of their comments (community/replies.py).
    reply_mails: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Replies and new threads for them since they last opened /replies (the header's badge;
    # kept on the row the member look-up reads anyway, so showing it costs no query).
    unread_replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # When they last opened /replies (NULL: never): what came after is what the badge
    # counts, so the count can be made again when a reply is deleted or hidden.
    replies_read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Vote(Base):
    """One upvote per member per paper; papers.upvotes is kept equal to the row count."""

    __tablename__ = "votes"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Trending reads recent votes by time.
    __table_args__ = (Index("ix_votes_paper_created", "paper_id", "created_at"), Index("ix_votes_created", "created_at"))


class Follow(Base):
    """A member follows an author (target = author name) or a category (target = cs.LG)."""

    __tablename__ = "follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # 'author' | 'category'
    target: Mapped[str] = mapped_column(String(300), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the cookie token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class ApiToken(Base):
    """A member's personal API token, for their scripts (``Authorization: Bearer pb_…`` on
    ``/api/``; ``web/apitokens.py``). Only its SHA-256 is stored: the member sees the
    token once, when it is made; ``hint`` (its last four characters) tells tokens apart."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), index=True, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    hint: Mapped[str] = mapped_column(String(8))
    can_write: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # None: until revoked


class RateLimit(Base):
    """Fixed-window counters shared by every server process (key + window start)."""

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window length
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Collection(Base):
    """A named reading list of one member, public or private."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_collections_user_name"),)


class CollectionItem(Base):
    __tablename__ = "collection_items"

    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True, index=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class InterestSignal(Base):
    """What a member told the "For you" feed about one paper, beyond votes and saves:
    ``seed`` (a paper they chose to start it from), ``not_interested`` (a negative
    example, hidden from their feeds) or ``ignored`` (a vote or save the feed should not
    learn from). One row per (member, paper): a new signal replaces the old one."""

    __tablename__ = "interest_signals"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_interest_signals_paper", "paper_id"),)


class ForYouPrefs(Base):
    """A member's switch for the "For you" feed: paused, and when they last reset what it
    learned (votes and saves before ``reset_at`` no longer count); and their private feed
    address for a feed reader: on or off, and its version (the address is signed over it,
    so a new address, or off and on again, ends every earlier one)."""

    __tablename__ = "for_you_prefs"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reset_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    feed_on: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    feed_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class WantedPaper(Base):
    """A paper a member imported into a collection or seeded For you with that this
    instance did not have: a worker fetches it from arXiv (``paperboy.worker.wanted``),
    stores it and then saves it where the member asked. One row per (member, target,
    paper); a row that is done is deleted, one arXiv does not know or could not be
    fetched stays to be shown to the member until they clear it.

    ``target`` is the collection's id, or 0 for For you's seeds (not a foreign key: a
    deleted collection takes its rows with it in code, and a worker drops any left)."""

    __tablename__ = "wanted_papers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target: Mapped[int] = mapped_column(Integer)
    arxiv_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(10), default="wanted")  # wanted | fetching | unknown | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        UniqueConstraint("user_id", "target", "arxiv_id", name="uq_wanted_papers_user_target_paper"),
        Index("ix_wanted_papers_state_due", "state", "due_at"),
    )


class ImportOutcome(Base):
    """What a member's import into a collection, or seeding of For you, came to: the
    message the page shows and the arXiv ids that could not be saved. The form redirects
    to the page with this row's id (post/redirect/get), so a reload shows the outcome
    again instead of sending the import again. One per (member, target): each import
    replaces the last. ``target`` as in ``WantedPaper``."""

    __tablename__ = "import_outcomes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    not_here: Mapped[str] = mapped_column(Text, default="")  # arXiv ids, one per line (the first few)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_import_outcomes_user_target", "user_id", "target"),)


class WantedTitle(Base):
    """A BibTeX entry a member imported or seeded with that names no arXiv id (a journal
    or proceedings paper, as most of a Zotero library is): a worker looks its title up on
    arXiv (``paperboy.worker.wanted``) and, when a paper with that very title (and first
    author) is there, stores it and saves it where the member asked. One row per
    (member, target, title key); states and target as in ``WantedPaper``."""

    __tablename__ = "wanted_titles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    target: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(400))  # as the entry spells it, shown to the member
    title_key: Mapped[str] = mapped_column(String(400))  # ``references.title_key``: what is matched
    first_author: Mapped[str] = mapped_column(String(100), default="")  # surname key; "" when none
    state: Mapped[str] = mapped_column(String(10), default="wanted")  # wanted | fetching | unknown | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        UniqueConstraint("user_id", "target", "title_key", name="uq_wanted_titles_user_target_key"),
        Index("ix_wanted_titles_state_due", "state", "due_at"),
    )


# The stored vectors, as packages beside or below the index package read them (For you's
# ranker, `paperboy stats`): the index package owns this table (``index.models``) and
# writes it; layers keep those readers from importing it.
PAPER_EMBEDDINGS = table("paper_embeddings", column("paper_id"), column("model", String),
                         column("vector", LargeBinary))
