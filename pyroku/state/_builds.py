"""Builds and the buildpacks an app is built with."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, Build, BuildpackInstallation, Slug, User

BUILD_STATUSES = ("pending", "succeeded", "failed")
MAX_BUILDPACKS = 16
MAX_BUILDPACK_URL = 1000


def create_build(
    session: Session,
    app: App,
    user: User | None,
    *,
    stack: str,
    buildpacks: list[dict[str, Any]],
    source_url: str | None = None,
    source_version: str | None = None,
    source_checksum: str | None = None,
) -> Build:
    build = Build(
        app_id=app.id,
        user_id=user.id if user else None,
        status="pending",
        source_url=source_url,
        source_version=source_version,
        source_checksum=source_checksum,
        buildpacks=buildpacks,
        stack=stack,
        output_token=secrets.token_urlsafe(24),
    )
    session.add(build)
    session.flush()
    build.user = user
    return build


def find_build(session: Session, app: App, build_id: str) -> Build:
    build = session.scalar(select(Build).where(Build.id == build_id, Build.app_id == app.id))
    if build is None:
        raise NotFound(f"Couldn't find that build ({build_id}).")
    return build


def latest_build(session: Session, app: App) -> Build:
    build = session.scalar(
        select(Build).where(Build.app_id == app.id).order_by(Build.created_at.desc(), Build.id).limit(1)
    )
    if build is None:
        raise NotFound("This app has no builds yet.")
    return build


def list_builds(session: Session, app: App) -> list[Build]:
    return list(session.scalars(select(Build).where(Build.app_id == app.id).order_by(Build.created_at)))


def finish_build(
    session: Session, build_id: str, status: str, *, slug_id: str | None = None, release_id: str | None = None
) -> Build | None:
    """Record how a pending build ended (a finished build is never changed again)."""
    if status not in ("succeeded", "failed"):
        raise ValueError(f"invalid final build status {status!r}")
    build = session.get(Build, build_id)
    if build is None or build.status != "pending":
        return None
    build.status = status
    build.slug_id = slug_id
    build.release_id = release_id
    session.flush()
    return build


def fail_pending_builds(session: Session) -> int:
    """Builds a stopped server left pending can no longer finish: mark them failed."""
    result = session.execute(update(Build).where(Build.status == "pending").values(status="failed"))
    return int(getattr(result, "rowcount", 0) or 0)


def discard_slug(session: Session, slug_id: str) -> None:
    """Forget a slug whose blob never made it into the store (a failed build's)."""
    slug = session.get(Slug, slug_id)
    if slug is not None and slug.checksum is None:
        session.delete(slug)
        session.flush()


def list_buildpacks(session: Session, app: App) -> list[BuildpackInstallation]:
    return list(session.scalars(
        select(BuildpackInstallation).where(BuildpackInstallation.app_id == app.id)
        .order_by(BuildpackInstallation.ordinal)
    ))


def set_buildpacks(session: Session, app: App, urls: list[str]) -> list[BuildpackInstallation]:
    """Replace the app's buildpack list (callers validate what a URL may be)."""
    if len(urls) > MAX_BUILDPACKS:
        raise InvalidParams(f"An app may have at most {MAX_BUILDPACKS} buildpacks.")
    clean = [u.strip() for u in urls]
    for url in clean:
        if not url or len(url) > MAX_BUILDPACK_URL or any(c in url for c in "\t\r\n\x00"):
            raise InvalidParams(f"Invalid buildpack {url!r}.")
    if len(set(clean)) != len(clean):
        raise InvalidParams("The same buildpack is listed twice.")
    session.execute(delete(BuildpackInstallation).where(BuildpackInstallation.app_id == app.id))
    session.flush()
    for ordinal, url in enumerate(clean, start=1):
        session.add(BuildpackInstallation(app_id=app.id, ordinal=ordinal, url=url))
    session.flush()
    return list_buildpacks(session, app)
