"""deferred_ddl: indexes and constraints a bulk import set aside, to put back

Revision ID: 0006
Revises: 0005

A large import into a (nearly) empty store drops the secondary indexes of the author
and category tables (and, on PostgreSQL, the child tables' foreign keys) and builds
them once at the end (paperboy/store/bulk.py). Each dropped object's CREATE statement is
stored here in the same transaction as the DROP, so a kill -9 at any point leaves
either the object or the statement that recreates it.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deferred_ddl",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ddl", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("deferred_ddl")
