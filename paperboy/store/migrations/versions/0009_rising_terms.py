"""rising_terms: the worker's latest "rising now" list per period kind

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rising_terms",
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=200), nullable=False),
        sa.Column("query", sa.String(length=300), nullable=False),
        sa.Column("recent_count", sa.Integer(), nullable=False),
        sa.Column("recent_total", sa.Integer(), nullable=False),
        sa.Column("base_count", sa.Integer(), nullable=False),
        sa.Column("base_total", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("llr", sa.Float(), nullable=False),
        sa.Column("recent_from", sa.Date(), nullable=False),
        sa.Column("recent_to", sa.Date(), nullable=False),
        sa.Column("base_from", sa.Date(), nullable=False),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit", "rank"),
    )


def downgrade() -> None:
    op.drop_table("rising_terms")
