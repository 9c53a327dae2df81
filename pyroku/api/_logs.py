"""Log sessions (what `pyroku logs` and `heroku logs` read) and log drains."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.logs import DrainSpec, InvalidDrainURL, InvalidFilter, validate_drain_url
from pyroku.state import App, add_drain, find_app, find_drain, list_drains, remove_drain

router = APIRouter()


class LogSessionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lines: int | None = Field(default=None, ge=1, le=1500)
    tail: bool = False
    source: str | None = Field(default=None, max_length=64)
    dyno: str | None = Field(default=None, max_length=128)
    dyno_name: str | None = Field(default=None, max_length=128)
    type: str | None = Field(default=None, max_length=128)


class DrainCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(max_length=2048)


@router.post("/apps/{app}/log-sessions", status_code=201)
def post_log_session(
    request: Request, caller: CallerDep, app: str, body: LogSessionCreate | None = None
) -> JSONResponse:
    body = body or LogSessionCreate()
    ctx = context(request)
    with ctx.db.read() as session:
        found = find_app(session, caller.user(session), app)
    try:
        log_session = ctx.logplex.create_session(
            found.id, lines=body.lines or 100, tail=body.tail, source=body.source or None,
            dyno=body.dyno or body.dyno_name or body.type or None,
        )
    except InvalidFilter as exc:
        raise ApiError(422, "invalid_params", str(exc)) from exc
    created = render.ts(log_session.created_at.replace(tzinfo=None))
    return JSONResponse({
        "id": log_session.id,
        "logplex_url": log_session.url(f"{str(request.base_url).rstrip('/')}/log-stream"),
        "created_at": created,
        "updated_at": created,
    }, status_code=201)


def publish_drains(request: Request, app: App) -> None:
    """Hand the app's drains, as now committed, to logplex."""
    ctx = context(request)
    with ctx.db.read() as session:
        specs = [DrainSpec(d.id, d.url, d.token) for d in list_drains(session, app)]
    ctx.logplex.set_drains(app.id, specs)


@router.get("/apps/{app}/log-drains")
def get_drains(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [render.drain(found, d) for d in list_drains(session, found)]


@router.post("/apps/{app}/log-drains", status_code=201)
def post_drain(request: Request, caller: CallerDep, app: str, body: DrainCreate) -> JSONResponse:
    try:
        url = validate_drain_url(body.url)
    except InvalidDrainURL as exc:
        raise ApiError(422, "invalid_params", f"Invalid drain URL: {exc}.") from exc
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        drain = add_drain(session, found, url)
        shown = render.drain(found, drain)
    publish_drains(request, found)
    return JSONResponse(shown, status_code=201)


@router.get("/apps/{app}/log-drains/{drain:path}")
def get_drain(request: Request, caller: CallerDep, app: str, drain: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return render.drain(found, find_drain(session, found, drain))


@router.delete("/apps/{app}/log-drains/{drain:path}")
def delete_drain(request: Request, caller: CallerDep, app: str, drain: str) -> dict[str, Any]:
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        row = find_drain(session, found, drain)
        shown = render.drain(found, row)
        remove_drain(session, row)
    publish_drains(request, found)
    return shown
