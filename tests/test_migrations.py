"""The migrations and the models describe the same schema, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paperboy.schema import metadata
from paperboy.store.migrate import for_backend, head_revision, is_up_to_date, upgrade


def test_migrated_database_matches_the_models(fresh_engine):
    with fresh_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": for_backend(conn.dialect.name)})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(fresh_engine):
    upgrade(fresh_engine)
    assert is_up_to_date(fresh_engine)
    assert head_revision()
