"""Desired state, read from the platform's state: which dynos each app should run."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from pyroku.sizes import DEFAULT_SIZE, DynoSize, find_size
from pyroku.state import App, Database, Release, Slug, feature_enabled, list_formation


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

    def dyno_names(self) -> dict[str, ProcessPlan]:
        """`web.1 … web.N` for each process type, mapped to its plan."""
        if self.slug_id is None:
            return {}
        return {f"{p.type}.{i}": p for p in self.processes for i in range(1, p.quantity + 1)}


def load_plans(db: Database, app_ids: list[str] | None = None) -> dict[str, AppPlan]:
    """Plans for the given apps (all apps when None); a destroyed app is simply absent."""
    plans: dict[str, AppPlan] = {}
    with db.read() as session:
        query = select(App)
        if app_ids is not None:
            query = query.where(App.id.in_(app_ids))
        for app in session.scalars(query):
            release = session.scalar(
                select(Release)
                .where(Release.app_id == app.id, Release.status == "succeeded")
                .order_by(Release.version.desc())
                .limit(1)
            )
            if release is None:
                continue
            slug = session.get(Slug, release.slug_id) if release.slug_id else None
            processes = tuple(
                ProcessPlan(f.type, f.quantity, find_size(f.size) or DEFAULT_SIZE, f.command)
                for f in list_formation(session, app)
                if f.command
            )
            plans[app.id] = AppPlan(
                app_id=app.id,
                app_name=app.name,
                release_version=release.version,
                slug_id=slug.id if slug and slug.checksum else None,
                slug_checksum=(slug.checksum or "") if slug else "",
                commit=slug.commit if slug else None,
                config=dict(release.config),
                processes=processes,
                preboot=feature_enabled(session, app, "preboot"),
            )
    return plans
