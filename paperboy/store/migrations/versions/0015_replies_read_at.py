"""users.replies_read_at: when the member last opened /replies

Revision ID: 0015
Revises: 0014

The badge's count (users.unread_replies) is raised by one per reply; with the time it
was last cleared, it can be counted again exactly when a reply goes away (deleted by its
author, hidden by a moderator, its author's account deleted), and /replies can mark as
new exactly the replies that came after it. Members already here are taken to have read
everything up to this migration.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("replies_read_at", UTCDateTime(timezone=True), nullable=True))
    users = sa.table("users", sa.column("replies_read_at", UTCDateTime(timezone=True)))
    op.execute(users.update().values(replies_read_at=dt.datetime.now(dt.UTC)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("replies_read_at")
