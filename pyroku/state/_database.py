"""Engines, sessions and migrations for SQLite (default, WAL) and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from pyroku.state._exceptions import StateError

MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(url: str) -> str:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StateError(f"Invalid database URL {url!r}: {exc}") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StateError(f"Unsupported database {parsed.drivername!r}: use sqlite:/// or postgresql://")
    return parsed.render_as_string(hide_password=False)


def _sqlite_engine(url: str, *, immediate: bool) -> Engine:
    """SQLite with WAL; the write engine takes the write lock up front (BEGIN IMMEDIATE)
    so that concurrent read-modify-write transactions serialise instead of failing."""
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's begin hook issue BEGIN
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """The platform's state store. `read()` for queries, `write()` for changes: writes
    serialise per app through row locks (PostgreSQL) or the database write lock (SQLite)."""

    def __init__(self, url: str) -> None:
        self.url = _normalise_url(url)
        try:
            if make_url(self.url).get_backend_name() == "sqlite":
                self._read_engine = _sqlite_engine(self.url, immediate=False)
                self._write_engine = _sqlite_engine(self.url, immediate=True)
            else:
                self._read_engine = self._write_engine = create_engine(self.url, pool_pre_ping=True)
        except NoSuchModuleError as exc:
            raise StateError(f"No driver for database URL {url!r}") from exc
        self._reads = sessionmaker(self._read_engine, expire_on_commit=False)
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)

    @classmethod
    def sqlite_in(cls, data_dir: Path) -> Database:
        return cls(f"sqlite:///{data_dir / 'pyroku.sqlite3'}")

    @property
    def is_sqlite(self) -> bool:
        return self._write_engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self._write_engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._writes() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self._read_engine.dispose()
        self._write_engine.dispose()
