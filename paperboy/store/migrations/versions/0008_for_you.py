"""interest_signals and for_you_prefs: what a member tells the "For you" feed

Revision ID: 0008
Revises: 0007

Votes and saves are positive signals already; these add seed papers, "not interested"
(a negative example that also hides the paper from the member's feeds), votes or saves
the feed should ignore, and the member's pause switch and reset time.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interest_signals",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    op.create_index("ix_interest_signals_paper", "interest_signals", ["paper_id"])
    op.create_table(
        "for_you_prefs",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reset_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("for_you_prefs")
    op.drop_index("ix_interest_signals_paper", table_name="interest_signals")
    op.drop_table("interest_signals")
