"""wanted_papers: papers members imported or seeded that this instance lacks, fetched
from arXiv by a worker

Revision ID: 0016
Revises: 0015

Before, an imported or seeded arXiv id this instance did not have was reported and
dropped; now it is queued here, claimed with a lease by any worker, fetched, stored and
saved where the member asked.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wanted_papers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("arxiv_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.UniqueConstraint("user_id", "target", "arxiv_id", name="uq_wanted_papers_user_target_paper"),
    )
    op.create_index("ix_wanted_papers_state_due", "wanted_papers", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_wanted_papers_state_due", table_name="wanted_papers")
    op.drop_table("wanted_papers")
