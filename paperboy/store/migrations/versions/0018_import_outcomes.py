"""import_outcomes: what a member's import or seeding came to, for the page after it

Revision ID: 0018
Revises: 0017

The import and seed forms rendered their outcome in the POST's response, so a reload
sent the import again. They now keep the outcome here and redirect to the page, which
shows it (post/redirect/get).
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_outcomes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("target", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("not_here", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_import_outcomes_user_target", "import_outcomes", ["user_id", "target"])


def downgrade() -> None:
    op.drop_index("ix_import_outcomes_user_target", table_name="import_outcomes")
    op.drop_table("import_outcomes")
