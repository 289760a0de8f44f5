"""search index state (embeddings, index bookkeeping)

Revision ID: 0002
Revises: 0001

Owned by the index stage (paperboy/index/models.py).
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column("paper_id", sa.Integer(), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("content_hash", sa.String(32), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("embedded_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("paper_id", "model"),
    )
    op.create_index("ix_paper_embeddings_model_embedded", "paper_embeddings", ["model", "embedded_at"])


def downgrade() -> None:
    op.drop_index("ix_paper_embeddings_model_embedded", table_name="paper_embeddings")
    op.drop_table("paper_embeddings")
