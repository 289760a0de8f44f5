"""users: display_name_key, the key a display name is compared by, indexed

Revision ID: 0020
Revises: 0019

Display names are unique as they read (``store.namekeys.name_key``: case, compatibility
forms and look-alike letters of other scripts folded). Neither SQL dialect folds so, and
the check read every name on each sign-up and rename (0.2 s with 100k named members);
the key, kept beside the name and indexed, makes it one look-up. Existing names get
their keys here; two members whose names already fold to one keep them (the index is
not unique): the check applies to names chosen from now on.
"""

import sqlalchemy as sa
from alembic import op

from paperboy.store.namekeys import name_key

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("display_name_key", sa.String(100), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("display_name", sa.String),
                     sa.column("display_name_key", sa.String))
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(users.c.id, users.c.display_name).where(
            users.c.id > last, users.c.display_name.is_not(None), users.c.display_name != "")
            .order_by(users.c.id).limit(BATCH)).all()
        if not rows:
            break
        conn.execute(users.update().where(users.c.id == sa.bindparam("uid")).values(display_name_key=sa.bindparam("key")),
                     [{"uid": uid, "key": name_key(name)} for uid, name in rows])
        last = rows[-1][0]
    op.create_index("ix_users_display_name_key", "users", ["display_name_key"])


def downgrade() -> None:
    op.drop_index("ix_users_display_name_key", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name_key")
