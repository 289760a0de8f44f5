"""wanted_titles: BibTeX entries without an arXiv id, looked up on arXiv by title

Revision ID: 0017
Revises: 0016

An imported or seeded BibTeX entry that named no arXiv id (a journal or proceedings
paper) was counted and left out; now its title is queued here, and a worker looks it up
on arXiv and saves the paper with that title where the member asked.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wanted_titles",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(400), nullable=False),
        sa.Column("title_key", sa.String(400), nullable=False),
        sa.Column("first_author", sa.String(100), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.UniqueConstraint("user_id", "target", "title_key", name="uq_wanted_titles_user_target_key"),
    )
    op.create_index("ix_wanted_titles_state_due", "wanted_titles", ["state", "due_at"])


def downgrade() -> None:
    op.drop_index("ix_wanted_titles_state_due", table_name="wanted_titles")
    op.drop_table("wanted_titles")
