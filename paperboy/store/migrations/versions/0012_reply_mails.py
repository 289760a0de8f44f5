"""users.reply_mails: whether a member is mailed when someone replies to their comment

Revision ID: 0012
Revises: 0011

On by default, as discussion sites do; every such mail turns it off in one click.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("reply_mails", sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("reply_mails")
