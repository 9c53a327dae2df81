from collections.abc import Iterator
from pathlib import Path

import pytest

from pyroku.state import Database
from tests.conftest import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database on each real backend."""
    if request.param == "sqlite":
        database = Database.sqlite_in(tmp_path)
    else:
        pg: PostgresServer = request.getfixturevalue("postgres")
        database = Database(pg.create_database())
    database.migrate()
    yield database
    database.dispose()
