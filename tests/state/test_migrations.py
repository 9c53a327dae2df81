from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from pyroku.state import Database
from pyroku.state._models import Base


def test_migrations_build_exactly_the_models(db: Database) -> None:
    """A model change without its Alembic migration fails here."""
    with db._write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(db: Database) -> None:
    db.migrate()
