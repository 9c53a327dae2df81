"""Apps, config vars, releases, formation and collaborators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.api._ranges import paginate
from pyroku.sizes import host_memory_mb
from pyroku.state import (
    RELEASE_PHASE,
    App,
    Formation,
    FormationUpdate,
    NotFound,
    add_collaborator,
    create_app,
    current_config,
    current_version,
    delete_app,
    find_app,
    find_collaborator,
    find_formation,
    find_release,
    find_user,
    list_collaborators,
    list_formation,
    list_releases,
    parse_quantity,
    release_process_types,
    release_slug,
    remove_collaborator,
    rollback,
    set_config,
    update_app,
    update_formation,
    visible_apps,
)

router = APIRouter()


class AppCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=100)


class AppUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = Field(default=None, max_length=100)
    maintenance: bool | None = None


class ReleaseCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    release: str | None = Field(default=None, max_length=100, description="rollback to this id or version")
    slug: str | None = Field(default=None, max_length=100)
    description: str | None = Field(default=None, max_length=1000)


class FormationChange(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str = Field(max_length=200)
    quantity: int | str | None = None
    size: str | None = Field(default=None, max_length=100)


class FormationBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")
    updates: list[FormationChange] = Field(max_length=100)


class FormationSingle(BaseModel):
    model_config = ConfigDict(extra="ignore")
    quantity: int | str | None = None
    size: str | None = Field(default=None, max_length=100)


class CollaboratorCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user: str = Field(max_length=254)
    silent: bool | None = None


_APP_KEYS: dict[str, Any] = {"id": lambda a: a.id, "name": lambda a: a.name}


# ---- apps -----------------------------------------------------------------------------------

@router.get("/apps")
def list_apps(request: Request, caller: CallerDep) -> JSONResponse:
    with context(request).db.read() as session:
        apps = visible_apps(session, caller.user(session))
        return paginate(request, apps, _APP_KEYS, lambda a: render.app(request, a), default="name")


@router.get("/users/{user}/apps")
def list_user_apps(request: Request, caller: CallerDep, user: str) -> JSONResponse:
    """Apps the user owns or collaborates on (`~` is you)."""
    with context(request).db.read() as session:
        me = caller.user(session)
        target = me if user in ("~", me.id, me.email) else None
        if target is None:
            if not me.is_admin:
                raise ApiError(404, "not_found", f"Couldn't find that user ({user}).")
            target = find_user(session, user)
        apps = visible_apps(session, target)
        return paginate(request, apps, _APP_KEYS, lambda a: render.app(request, a), default="name")


@router.post("/apps", status_code=201)
def post_app(request: Request, caller: CallerDep, body: AppCreate | None = None) -> JSONResponse:
    ctx = context(request)
    with ctx.db.write() as session:
        app = create_app(session, caller.user(session), body.name if body else None)
        shown = render.app(request, app)
        first = list_releases(session, app)[0]
    ctx.released(first, caller.email)
    return JSONResponse(shown, status_code=201)


@router.get("/apps/{app}")
def get_app(request: Request, caller: CallerDep, app: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        return render.app(request, find_app(session, caller.user(session), app))


@router.patch("/apps/{app}")
def patch_app(request: Request, caller: CallerDep, app: str, body: AppUpdate) -> dict[str, Any]:
    ctx = context(request)
    with ctx.db.write() as session:
        user = caller.user(session)
        found = find_app(session, user, app, lock=True)
        update_app(session, found, user, name=body.name, maintenance=body.maintenance)
        shown = render.app(request, found)
    ctx.on_change(found.id)
    return shown


@router.delete("/apps/{app}")
def destroy_app(request: Request, caller: CallerDep, app: str) -> dict[str, Any]:
    ctx = context(request)
    with ctx.db.write() as session:
        user = caller.user(session)
        found = find_app(session, user, app, lock=True)
        shown = render.app(request, found)
        destroyed = delete_app(session, found, user)
    ctx.logplex.set_drains(found.id, [])
    ctx.logplex.forget(found.id)
    ctx.on_change(found.id)
    ctx.on_destroy(destroyed)
    return shown


# ---- config vars ----------------------------------------------------------------------------

@router.get("/apps/{app}/config-vars")
def get_config_vars(request: Request, caller: CallerDep, app: str) -> dict[str, str]:
    with context(request).db.read() as session:
        return current_config(session, find_app(session, caller.user(session), app))


@router.patch("/apps/{app}/config-vars")
def patch_config_vars(
    request: Request, caller: CallerDep, app: str, body: dict[str, str | None]
) -> dict[str, str]:
    """Merge the given vars (null deletes) and release the result as the next version."""
    ctx = context(request)
    with ctx.db.write() as session:
        user = caller.user(session)
        config, release = set_config(session, find_app(session, user, app, lock=True), user, body)
    if release is not None:
        ctx.released(release, caller.email)
    return config


# ---- releases -------------------------------------------------------------------------------

@router.get("/apps/{app}/releases")
def get_releases(request: Request, caller: CallerDep, app: str) -> JSONResponse:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        releases = list_releases(session, found)
        current = current_version(releases)
        return paginate(
            request, releases, {"version": lambda r: r.version, "id": lambda r: r.id},
            lambda r: render.release(found, r, current), default="version",
        )


@router.get("/apps/{app}/releases/{release}")
def get_release(request: Request, caller: CallerDep, app: str, release: str) -> dict[str, Any]:
    """With a release phase, `output_stream_url` streams its output (live while it is pending)."""
    ctx = context(request)
    with ctx.db.read() as session:
        found = find_app(session, caller.user(session), app)
        rel = find_release(session, found, release)
        shown = render.release(found, rel, current_version(list_releases(session, found)))
        has_phase = RELEASE_PHASE in release_process_types(session, rel)
    if has_phase:
        stream = ctx.logplex.create_session(found.id, lines=1500, tail=rel.status == "pending",
                                            dyno=f"{RELEASE_PHASE}.{rel.version}")
        shown["output_stream_url"] = stream.url(f"{str(request.base_url).rstrip('/')}/log-stream")
    return shown


@router.get("/apps/{app}/releases/{release}/config-vars")
def get_release_config(request: Request, caller: CallerDep, app: str, release: str) -> dict[str, str]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return dict(find_release(session, found, release).config)


@router.post("/apps/{app}/releases", status_code=201)
def post_release(request: Request, caller: CallerDep, app: str, body: ReleaseCreate) -> JSONResponse:
    """`{"slug": id}` releases an uploaded slug with the current config; `{"release": id|version}`
    rolls back: a new release copying that one's slug and config."""
    if (body.release is None) == (body.slug is None):
        raise ApiError(422, "invalid_params", "Give either `slug` (to deploy) or `release` (to roll back to).")
    ctx = context(request)
    with ctx.db.write() as session:
        user = caller.user(session)
        found = find_app(session, user, app, lock=True)
        if body.slug is not None:
            rel, scaled = release_slug(session, found, user, body.slug, body.description)
        else:
            rel, scaled = rollback(session, found, user, body.release or "")
        shown = render.release(found, rel, rel.version)
    ctx.released(rel, caller.email)
    if scaled:
        summary = " ".join(f"{s.type}@{s.quantity}:{s.size}" for s in scaled)
        ctx.announce(found.id, f"Scaled to {summary} by user {caller.email}")
    return JSONResponse(shown, status_code=201)


# ---- formation ------------------------------------------------------------------------------

@router.get("/apps/{app}/formation")
def get_formation(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [render.formation(found, f) for f in list_formation(session, found)]


def _update(type_: str, quantity: int | str | None, size: str | None) -> FormationUpdate:
    return FormationUpdate(type_, None if quantity is None else parse_quantity(quantity), size)


@router.patch("/apps/{app}/formation")
def patch_formation(request: Request, caller: CallerDep, app: str, body: FormationBatch) -> list[dict[str, Any]]:
    updates = [_update(u.type, u.quantity, u.size) for u in body.updates]
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        changed = update_formation(session, found, updates, max_memory_mb=host_memory_mb())
        shown = [render.formation(found, f) for f in changed]
    _scaled(request, found, changed, caller.email)
    return shown


def _scaled(request: Request, app: App, changed: list[Formation], email: str) -> None:
    ctx = context(request)
    summary = " ".join(f"{f.type}@{f.quantity}:{f.size}" for f in changed)
    ctx.announce(app.id, f"Scaled to {summary} by user {email}")
    ctx.on_change(app.id)


@router.get("/apps/{app}/formation/{process_type}")
def get_formation_type(request: Request, caller: CallerDep, app: str, process_type: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return render.formation(found, find_formation(session, found, process_type))


@router.patch("/apps/{app}/formation/{process_type}")
def patch_formation_type(
    request: Request, caller: CallerDep, app: str, process_type: str, body: FormationSingle
) -> dict[str, Any]:
    update = _update(process_type, body.quantity, body.size)
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        changed = update_formation(session, found, [update], max_memory_mb=host_memory_mb())
        shown = render.formation(found, changed[0])
    _scaled(request, found, changed, caller.email)
    return shown


# ---- collaborators --------------------------------------------------------------------------

@router.get("/apps/{app}/collaborators")
def get_collaborators(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [render.collaborator(found, c) for c in list_collaborators(session, found)]


@router.post("/apps/{app}/collaborators", status_code=201)
def post_collaborator(request: Request, caller: CallerDep, app: str, body: CollaboratorCreate) -> JSONResponse:
    with context(request).db.write() as session:
        user = caller.user(session)
        found = find_app(session, user, app, lock=True)
        try:
            new = find_user(session, body.user)
        except NotFound as exc:
            raise ApiError(422, "invalid_params", f"No Pyroku user has the email {body.user}.") from exc
        collab = add_collaborator(session, found, user, new)
        return JSONResponse(render.collaborator(found, collab), status_code=201)


@router.get("/apps/{app}/collaborators/{collaborator}")
def get_collaborator(request: Request, caller: CallerDep, app: str, collaborator: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return render.collaborator(found, find_collaborator(session, found, collaborator))


@router.delete("/apps/{app}/collaborators/{collaborator}")
def delete_collaborator(request: Request, caller: CallerDep, app: str, collaborator: str) -> dict[str, Any]:
    with context(request).db.write() as session:
        user = caller.user(session)
        found = find_app(session, user, app, lock=True)
        collab = find_collaborator(session, found, collaborator)
        shown = render.collaborator(found, collab)
        remove_collaborator(session, found, user, collab)
        return shown
