"""for_you_prefs.feed_on and feed_version: a member's private For you feed address

Revision ID: 0011
Revises: 0010

The address is signed with the site's secret key over (member, feed_version); a new
address or turning the feed off bumps or clears it, so an old address never works again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("for_you_prefs") as batch:
        batch.add_column(sa.Column("feed_on", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("feed_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("for_you_prefs") as batch:
        batch.drop_column("feed_version")
        batch.drop_column("feed_on")
