"""Desired state, read from the platform's state: which dynos each app should run."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.sizes import DEFAULT_SIZE, DynoSize, find_size
from pyroku.state import RELEASE_PHASE, App, Database, Release, Slug, feature_enabled, list_formation


@dataclass(frozen=True)
class ProcessPlan:
    type: str
    quantity: int
    size: DynoSize
    command: str


@dataclass(frozen=True)
class AppPlan:
    """What one app should run: its current release's slug, config and formation.

    `slug_id` is None until something is deployed; then nothing runs (the router answers H81)."""

    app_id: str
    app_name: str
    release_version: int
    slug_id: str | None = None
    slug_checksum: str = ""
    commit: str | None = None
    config: dict[str, str] = field(default_factory=dict)
    processes: tuple[ProcessPlan, ...] = ()
    preboot: bool = False
    release_command: str | None = None  # the Procfile's `release:` entry, run before going live

    def dyno_names(self) -> dict[str, ProcessPlan]:
        """`web.1 … web.N` for each process type, mapped to its plan."""
        if self.slug_id is None:
            return {}
        return {f"{p.type}.{i}": p for p in self.processes for i in range(1, p.quantity + 1)}


def _plan(session: Session, app: App, release: Release) -> AppPlan:
    """The app as `release` would run it: that release's slug, commands and config, with the
    formation's quantities and sizes."""
    slug = session.get(Slug, release.slug_id) if release.slug_id else None
    commands = slug.process_types if slug else {}
    processes = tuple(
        ProcessPlan(f.type, f.quantity, find_size(f.size) or DEFAULT_SIZE, commands[f.type])
        for f in list_formation(session, app)
        if f.type in commands and f.type != RELEASE_PHASE
    )
    return AppPlan(
        app_id=app.id,
        app_name=app.name,
        release_version=release.version,
        slug_id=slug.id if slug and slug.checksum else None,
        slug_checksum=(slug.checksum or "") if slug else "",
        commit=slug.commit if slug else None,
        config=dict(release.config),
        processes=processes,
        preboot=feature_enabled(session, app, "preboot"),
        release_command=commands.get(RELEASE_PHASE),
    )


def _newest(session: Session, app: App, status: str) -> Release | None:
    return session.scalar(
        select(Release)
        .where(Release.app_id == app.id, Release.status == status)
        .order_by(Release.version.desc())
        .limit(1)
    )


def load_plans(db: Database, app_ids: list[str] | None = None) -> dict[str, AppPlan]:
    """What each app runs now: its newest succeeded release (all apps when None); an app that
    was destroyed, or never released, is simply absent."""
    plans: dict[str, AppPlan] = {}
    with db.read() as session:
        query = select(App)
        if app_ids is not None:
            query = query.where(App.id.in_(app_ids))
        for app in session.scalars(query):
            release = _newest(session, app, "succeeded")
            if release is not None:
                plans[app.id] = _plan(session, app, release)
    return plans


def load_pending(db: Database, app_id: str) -> AppPlan | None:
    """The newest release awaiting its release phase, newer than what runs; None if there is none."""
    with db.read() as session:
        app = session.get(App, app_id)
        if app is None:
            return None
        pending = _newest(session, app, "pending")
        current = _newest(session, app, "succeeded")
        if pending is None or (current is not None and current.version > pending.version):
            return None
        return _plan(session, app, pending)
