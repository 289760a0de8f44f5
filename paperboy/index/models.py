"""Tables owned by the index package.

``paper_embeddings`` keeps one vector per paper and model (float32 bytes) with the
paper's content hash at embedding time, so the vector indexes can be rebuilt without
re-embedding and only new or changed papers are embedded again. The keyword and ANN
index files themselves live in ``settings.resolved_index_dir`` (one copy per node);
their progress is kept beside them, not here.

``embed_batches`` is the queue of embedding work: papers missing a vector for a model,
planned in batches (newest papers first) that any number of workers claim with a
lease (``store.claims``); ``embed_batch_items`` names each open batch's papers. A batch
is marked done in the transaction that writes its vectors.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from paperboy.store.models import Base, UTCDateTime, utcnow


class PaperEmbedding(Base):
    __tablename__ = "paper_embeddings"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(32))
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, L2-normalised
    embedded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    # Coverage counts and "what changed since" scans go by model first.
    __table_args__ = (Index("ix_paper_embeddings_model_embedded", "model", "embedded_at"),)


class EmbedBatch(Base):
    """Papers to embed with one model, claimed by one worker at a time."""

    __tablename__ = "embed_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    # A digest of the planned (paper id, content hash) pairs: two planners that plan the
    # same papers write one row.
    key: Mapped[str] = mapped_column(String(40))
    # Claimed newest first: the batch's newest announce date, then its highest paper id.
    day: Mapped[dt.date] = mapped_column(Date)
    top_id: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default="due")  # due | running | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(String(2000))

    __table_args__ = (
        UniqueConstraint("model", "key", name="uq_embed_batches_model_key"),
        Index("ix_embed_batches_claim", "model", "state", "day", "top_id"),
    )


class EmbedBatchItem(Base):
    """A paper of an open batch (removed when the batch is done)."""

    __tablename__ = "embed_batch_items"

    batch_id: Mapped[int] = mapped_column(ForeignKey("embed_batches.id", ondelete="CASCADE"), primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_embed_batch_items_paper", "paper_id"), {"sqlite_with_rowid": False})
