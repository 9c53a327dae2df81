"""Releases and config vars. Every change appends a numbered, immutable release; the app's
config is the head release's snapshot, so history is never rewritten."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, Release, Slug, User, utcnow

CONFIG_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONFIG_MAX_BYTES = 32 * 1024
RELEASE_PHASE = "release"  # the Procfile type run before a release goes live


def create_release(
    session: Session,
    app: App,
    user: User | None,
    description: str,
    *,
    config: dict[str, str],
    slug_id: str | None = None,
) -> Release:
    """Append the next version. Callers hold the app's lock (see `find_app(lock=True)`).

    A release whose slug has a `release` process type is `pending` until its release phase
    (run by the dyno manager) succeeds; the app keeps running the previous release meanwhile."""
    latest = session.scalar(select(func.max(Release.version)).where(Release.app_id == app.id))
    slug = session.get(Slug, slug_id) if slug_id else None
    release = Release(
        app_id=app.id,
        version=(latest or 0) + 1,
        description=description,
        status="pending" if slug and RELEASE_PHASE in slug.process_types else "succeeded",
        slug_id=slug_id,
        config=dict(config),
        user_id=user.id if user else None,
    )
    session.add(release)
    session.flush()
    release.user = user
    app.released_at = utcnow()
    return release


def finish_release_phase(session: Session, app_id: str, version: int, succeeded: bool) -> Release | None:
    """Record the outcome of a pending release's release phase."""
    release = session.scalar(select(Release).where(Release.app_id == app_id, Release.version == version))
    if release is None or release.status != "pending":
        return None
    release.status = "succeeded" if succeeded else "failed"
    session.flush()
    return release


def head_release(session: Session, app: App) -> Release:
    release = session.scalar(
        select(Release).where(Release.app_id == app.id).order_by(Release.version.desc()).limit(1)
    )
    if release is None:  # every app is created with v1
        raise NotFound("This app has no releases.")
    return release


def current_config(session: Session, app: App) -> dict[str, str]:
    return dict(head_release(session, app).config)


def list_releases(session: Session, app: App) -> list[Release]:
    return list(session.scalars(select(Release).where(Release.app_id == app.id).order_by(Release.version)))


def current_version(releases: list[Release]) -> int | None:
    """The release the app runs: the newest that succeeded."""
    done = [r.version for r in releases if r.status == "succeeded"]
    return max(done) if done else None


def find_release(session: Session, app: App, id_or_version: str) -> Release:
    key = id_or_version.strip()
    digits = key[1:] if key[:1] in ("v", "V") else key
    query = select(Release).where(Release.app_id == app.id)
    if digits.isdigit() and len(digits) < 10:
        query = query.where(Release.version == int(digits))
    else:
        query = query.where(Release.id == key)
    release = session.scalar(query)
    if release is None:
        raise NotFound(f"Couldn't find that release ({id_or_version}).")
    return release


def validate_config_changes(changes: dict[str, Any]) -> dict[str, str | None]:
    clean: dict[str, str | None] = {}
    for key, value in changes.items():
        if not CONFIG_KEY_RE.match(key):
            raise InvalidParams(
                f"Invalid config var key {key!r}: keys must start with a letter or underscore and "
                "contain only letters, digits and underscores."
            )
        if value is None:
            clean[key] = None
        elif isinstance(value, str):
            if "\x00" in value:
                raise InvalidParams(f"Config var {key} contains a NUL character, which is not allowed.")
            clean[key] = value
        else:
            raise InvalidParams(f"Config var {key} must be a string, or null to unset it.")
    return clean


def config_size(config: dict[str, str]) -> int:
    return sum(len(k.encode()) + len(v.encode("utf-8", "surrogatepass")) for k, v in config.items())


def set_config(
    session: Session, app: App, user: User, changes: dict[str, Any]
) -> tuple[dict[str, str], Release | None]:
    """Merge `changes` (None deletes) into the app's config and release it as the next version.
    Returns the new config and the release (None when nothing was asked)."""
    clean = validate_config_changes(changes)
    head = head_release(session, app)
    config: dict[str, str] = dict(head.config)
    set_keys = [k for k, v in clean.items() if v is not None]
    unset_keys = [k for k, v in clean.items() if v is None and k in config]
    if not set_keys and not unset_keys:
        return config, None
    for key, value in clean.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    size = config_size(config)
    if size > CONFIG_MAX_BYTES:
        raise InvalidParams(
            f"Config vars would total {size} bytes; the limit is {CONFIG_MAX_BYTES} bytes (32 KB) per app."
        )
    parts = []
    if set_keys:
        parts.append("Set " + ", ".join(set_keys))
    if unset_keys:
        parts.append(("unset " if parts else "Unset ") + ", ".join(unset_keys))
    release = create_release(
        session, app, user, " and ".join(parts) + " config vars", config=config, slug_id=head.slug_id
    )
    return config, release
