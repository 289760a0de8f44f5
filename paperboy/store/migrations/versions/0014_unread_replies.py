"""users.unread_replies: the count behind the header's "new replies" badge

Revision ID: 0014
Revises: 0013

Raised in the transaction that stores a reply (or a new thread on a member's
submission), set to 0 when the member opens /replies.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("unread_replies", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("unread_replies")
