"""What runs: slugs, the releases made from them, and rollbacks. A slug's blob is uploaded once,
to a URL carrying a secret, and verified before any release may use it."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.sizes import DEFAULT_SIZE
from pyroku.state._accounts import hash_token
from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._formation import PROCESS_TYPE_RE
from pyroku.state._models import App, Formation, Release, Slug, User
from pyroku.state._releases import create_release, find_release, head_release

CHECKSUM_RE = re.compile(r"^SHA256:[0-9a-f]{64}$")


def validate_process_types(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise InvalidParams("process_types must be a map of process type to command.")
    for kind, command in raw.items():
        if not PROCESS_TYPE_RE.match(kind):
            raise InvalidParams(f"Invalid process type {kind!r}: use letters, digits, dashes and underscores.")
        if not isinstance(command, str) or not command.strip():
            raise InvalidParams(f"The command of process type {kind!r} must be a non-empty string.")
    return dict(raw)


def create_slug(
    session: Session,
    app: App,
    process_types: dict[str, str],
    *,
    commit: str | None = None,
    commit_description: str | None = None,
    buildpack_provided_description: str | None = None,
    checksum: str | None = None,
) -> tuple[Slug, str]:
    """Register a slug awaiting its blob; returns it and the one-time upload secret."""
    if checksum is not None and not CHECKSUM_RE.match(checksum):
        raise InvalidParams("checksum must look like SHA256:<64 lowercase hex digits>.")
    token = secrets.token_urlsafe(32)
    slug = Slug(
        app_id=app.id,
        process_types=validate_process_types(process_types),
        commit=commit,
        commit_description=commit_description,
        buildpack_provided_description=buildpack_provided_description,
        expected_checksum=checksum,
        upload_token_hash=hash_token(token),
    )
    session.add(slug)
    session.flush()
    return slug, token


def find_slug(session: Session, app: App, slug_id: str) -> Slug:
    slug = session.scalar(select(Slug).where(Slug.id == slug_id, Slug.app_id == app.id))
    if slug is None:
        raise NotFound(f"Couldn't find that slug ({slug_id}).")
    return slug


def slug_for_upload(session: Session, slug_id: str, token: str) -> Slug:
    """The slug whose blob `token` may upload; NotFound for anything else, so the URL's
    secret cannot be probed."""
    slug = session.get(Slug, slug_id)
    if (
        slug is None
        or slug.upload_token_hash is None
        or not hmac.compare_digest(slug.upload_token_hash, hash_token(token))
    ):
        raise NotFound("No such upload.")
    return slug


def mark_uploaded(session: Session, slug: Slug, checksum: str, size: int) -> None:
    if slug.expected_checksum and slug.expected_checksum != checksum:
        raise InvalidParams(f"The uploaded slug's checksum {checksum} does not match {slug.expected_checksum}.")
    slug.checksum = checksum
    slug.size = size
    slug.upload_token_hash = None  # one upload per slug
    session.flush()


@dataclass(frozen=True)
class Scaled:
    """A formation change made by a release (Heroku scales `web` to 1 on its first deploy)."""

    type: str
    quantity: int
    size: str


def release_slug(
    session: Session, app: App, user: User, slug_id: str, description: str | None = None
) -> tuple[Release, list[Scaled]]:
    slug = find_slug(session, app, slug_id)
    if slug.checksum is None:
        raise InvalidParams(f"Slug {slug.id} has no uploaded blob yet.")
    config = dict(head_release(session, app).config)
    label = description or f"Deploy {(slug.commit or slug.id)[:8]}"
    release = create_release(session, app, user, label, config=config, slug_id=slug.id)
    return release, sync_formation(session, app, slug.process_types)


def sync_formation(session: Session, app: App, process_types: dict[str, str]) -> list[Scaled]:
    """Make the formation list exactly the slug's process types, keeping quantities and sizes;
    a newly introduced `web` starts at one dyno."""
    scaled: list[Scaled] = []
    existing = {f.type: f for f in session.scalars(select(Formation).where(Formation.app_id == app.id))}
    for kind, formation in existing.items():
        if kind not in process_types:
            session.delete(formation)
    for kind, command in process_types.items():
        if kind in existing:
            existing[kind].command = command
            continue
        quantity = 1 if kind == "web" else 0
        session.add(
            Formation(app_id=app.id, type=kind, quantity=quantity, size=DEFAULT_SIZE.name, command=command)
        )
        if quantity:
            scaled.append(Scaled(kind, quantity, DEFAULT_SIZE.name))
    session.flush()
    return scaled


def release_process_types(session: Session, release: Release) -> dict[str, str]:
    if release.slug_id is None:
        return {}
    slug = session.get(Slug, release.slug_id)
    return dict(slug.process_types) if slug else {}


def rollback(session: Session, app: App, user: User, id_or_version: str) -> tuple[Release, list[Scaled]]:
    """A new release copying the target's slug and config; history is never rewritten."""
    target = find_release(session, app, id_or_version)
    if target.status != "succeeded":
        raise InvalidParams(f"Cannot roll back to v{target.version}: that release {target.status}.")
    release = create_release(
        session, app, user, f"Rollback to v{target.version}", config=target.config, slug_id=target.slug_id
    )
    if release.slug_id is None:  # config-only history: the formation stays as it is
        return release, []
    return release, sync_formation(session, app, release_process_types(session, release))
