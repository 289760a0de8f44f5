"""embed_batches and embed_batch_items: embedding as work any worker can claim

Revision ID: 0010
Revises: 0009

Papers missing a vector for a model are planned in batches (newest first), claimed
with a lease by `paperboy worker` processes on any machine, and marked done in the
transaction that writes their vectors to paper_embeddings.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embed_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("top_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "key", name="uq_embed_batches_model_key"),
    )
    op.create_index("ix_embed_batches_claim", "embed_batches", ["model", "state", "day", "top_id"])
    op.create_table(
        "embed_batch_items",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["embed_batches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("batch_id", "paper_id"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_embed_batch_items_paper", "embed_batch_items", ["paper_id"])


def downgrade() -> None:
    op.drop_index("ix_embed_batch_items_paper", table_name="embed_batch_items")
    op.drop_table("embed_batch_items")
    op.drop_index("ix_embed_batches_claim", table_name="embed_batches")
    op.drop_table("embed_batches")
