"""core tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_key", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authors_name_key"), ["name_key"], unique=False)

    op.create_table(
        "ingest_cursors",
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_suspended", sa.Boolean(), nullable=False),
        sa.Column("email_verified_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    op.create_table(
        "follows",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "kind", "target"),
    )
    op.create_table(
        "papers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arxiv_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors_text", sa.Text(), nullable=False),
        sa.Column("primary_category", sa.String(length=40), nullable=True),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("msc_classes", sa.Text(), nullable=True),
        sa.Column("acm_classes", sa.Text(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("announced_on", sa.Date(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("journal_ref", sa.Text(), nullable=True),
        sa.Column("doi", sa.String(length=255), nullable=True),
        sa.Column("license", sa.String(length=255), nullable=True),
        sa.Column("abs_url", sa.String(length=255), nullable=True),
        sa.Column("pdf_url", sa.String(length=255), nullable=True),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("sources", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("upvotes", sa.Integer(), nullable=False),
        sa.Column("num_comments", sa.Integer(), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("featured_on", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("arxiv_id"),
    )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_papers_announced_on"), ["announced_on"], unique=False)
        batch_op.create_index(
            "ix_papers_announced_votes", ["announced_on", "upvotes"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_papers_featured_on"), ["featured_on"], unique=False)

    op.create_table(
        "paper_authors",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
        ),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id", "position"),
    )
    with op.batch_alter_table("paper_authors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_authors_author_id"), ["author_id"], unique=False)

    op.create_table(
        "paper_categories",
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("paper_id", "category"),
    )
    with op.batch_alter_table("paper_categories", schema=None) as batch_op:
        batch_op.create_index(
            "ix_paper_categories_category", ["category", "paper_id"], unique=False
        )

    op.create_table(
        "votes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["paper_id"], ["papers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "paper_id"),
    )
    op.create_index("ix_papers_modified_at", "papers", ["modified_at"])
    op.create_index("ix_votes_paper_created", "votes", ["paper_id", "created_at"])
    op.create_index("ix_votes_created", "votes", ["created_at"])


def downgrade() -> None:
    op.drop_table("votes")

    with op.batch_alter_table("paper_categories", schema=None) as batch_op:
        batch_op.drop_index("ix_paper_categories_category")

    op.drop_table("paper_categories")
    with op.batch_alter_table("paper_authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_authors_author_id"))

    op.drop_table("paper_authors")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_papers_featured_on"))
        batch_op.drop_index("ix_papers_announced_votes")
        batch_op.drop_index(batch_op.f("ix_papers_announced_on"))

    op.drop_table("papers")
    op.drop_table("follows")
    op.drop_table("users")
    op.drop_table("ingest_cursors")
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authors_name_key"))

    op.drop_table("authors")
