"""The migrations and the models describe the same schema, on both backends."""

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from paperboy.schema import metadata
from paperboy.store.db import make_engine
from paperboy.store.migrate import for_backend, head_revision, is_up_to_date, upgrade
from paperboy.store.namekeys import name_key
from tests.support.databases import unmigrated_url


def test_migrated_database_matches_the_models(fresh_engine):
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": for_backend(conn.dialect.name)})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(fresh_engine):
    upgrade(fresh_engine)
    assert is_up_to_date(fresh_engine)
    assert head_revision()


def test_names_kept_before_their_keys_get_them_on_upgrade(databases, tmp_path):
    """0020 adds users.display_name_key and fills it for the names already there, so the
    look-up that replaced reading every name finds them too."""
    eng = make_engine(unmigrated_url(databases, tmp_path))
    upgrade(eng, "0019")
    names = ["Ana Lopes", "ＪＯＳÉ García", "", "\u0410da"]
    with eng.begin() as conn:
        for i, name in enumerate(names, start=1):
            conn.execute(text("INSERT INTO users (id, email, display_name, is_admin, is_suspended, created_at) "
                              "VALUES (:i, :e, :n, false, false, :t)"),
                         {"i": i, "e": f"u{i}@example.org", "n": name, "t": dt.datetime(2026, 1, 1)})
    upgrade(eng)
    with eng.connect() as conn:
        keys = dict(conn.execute(text("SELECT id, display_name_key FROM users")).all())
    eng.dispose()
    assert keys == {1: "ana lopes", 2: "josé garcía", 3: None, 4: "ada"}
    assert keys[4] == name_key("Ada")
