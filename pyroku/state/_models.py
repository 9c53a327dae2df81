"""SQLAlchemy models: the platform's desired state and its immutable history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Naive UTC, stored the same way in SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Authorization(Timestamped, Base):
    """An API token. Only its SHA-256 is stored."""

    __tablename__ = "authorizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(lazy="joined")


class App(Timestamped, Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    released_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    owner: Mapped[User] = relationship(lazy="joined")


class Collaborator(Timestamped, Base):
    """Who may see and change an app; the owner has a row too, with role `owner`."""

    __tablename__ = "collaborators"
    __table_args__ = (UniqueConstraint("app_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="collaborator")

    user: Mapped[User] = relationship(lazy="joined")


class Release(Timestamped, Base):
    """One numbered, immutable release: a slug (maybe none yet) plus a config snapshot."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("app_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="succeeded")
    slug_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)

    user: Mapped[User | None] = relationship(lazy="joined")


class Formation(Timestamped, Base):
    """Desired process counts and sizes per type; the dyno manager makes them real."""

    __tablename__ = "formations"
    __table_args__ = (UniqueConstraint("app_id", "type"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(128))
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[str] = mapped_column(String(32))
    command: Mapped[str] = mapped_column(Text, default="")


class Domain(Timestamped, Base):
    """A custom hostname routed to an app (the default APP.<platform domain> is implied)."""

    __tablename__ = "domains"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    hostname: Mapped[str] = mapped_column(String(253), unique=True)


class AppFeature(Timestamped, Base):
    """An opt-in behaviour switched on for one app (e.g. `preboot`)."""

    __tablename__ = "app_features"
    __table_args__ = (UniqueConstraint("app_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Slug(Timestamped, Base):
    """A compiled app: the tarball lives in the slug store under this id; `checksum` is set
    once its blob has been uploaded and verified."""

    __tablename__ = "slugs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    process_types: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    commit_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    buildpack_provided_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    expected_checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    upload_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class LogDrain(Timestamped, Base):
    """Where an app's log stream is also sent (syslog or HTTPS); logplex runs it."""

    __tablename__ = "log_drains"
    __table_args__ = (UniqueConstraint("app_id", "url"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64))


class Build(Timestamped, Base):
    """One run of the slug compiler for an app: from a git push or `POST /apps/{app}/builds`.

    `status` is pending → succeeded | failed; a success records the slug and release it made.
    `output_token` is the secret in the build's `output_stream_url`."""

    __tablename__ = "builds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    source_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    source_version: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source_checksum: Mapped[str | None] = mapped_column(String(80), nullable=True)
    buildpacks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    stack: Mapped[str] = mapped_column(String(32))
    slug_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    release_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    output_token: Mapped[str] = mapped_column(String(64))

    user: Mapped[User | None] = relationship(lazy="joined")


class BuildpackInstallation(Timestamped, Base):
    """The app's buildpacks, in order (none: the bundled ones are tried until one detects)."""

    __tablename__ = "buildpack_installations"
    __table_args__ = (UniqueConstraint("app_id", "ordinal"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)


class SniEndpoint(Timestamped, Base):
    """A TLS certificate for some of an app's custom domains; the router serves it by SNI."""

    __tablename__ = "sni_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    certificate_chain: Mapped[str] = mapped_column(Text)
    private_key: Mapped[str] = mapped_column(Text)
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DynoUsage(Base):
    """One dyno's run, for metering: dyno-seconds per app and account by size."""

    __tablename__ = "dyno_usage"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the runtime's dyno id
    app_id: Mapped[str] = mapped_column(String(36), index=True)  # kept after the app is destroyed
    dyno_name: Mapped[str] = mapped_column(String(64))
    size: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
