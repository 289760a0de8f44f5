"""Tables owned by the index package.

``paper_embeddings`` keeps one vector per paper and model (float32 bytes) with the
paper's content hash at embedding time, so the vector indexes can be rebuilt without
re-embedding and only new or changed papers are embedded again. The keyword and ANN
index files themselves live in ``settings.resolved_index_dir`` (one copy per node);
their progress is kept beside them, not here.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
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
