"""Dynos: list, restart, stop, and one-off dynos (`pyroku run`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.dynos import DynoControl, DynoError, NoSuchDyno
from pyroku.sizes import DYNO_SIZES, find_size
from pyroku.state import App, find_app

router = APIRouter()

MAX_TIME_TO_LIVE = 86_400


class DynoCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    command: str = Field(min_length=1, max_length=10_000)
    attach: bool = False
    size: str | None = Field(default=None, max_length=100)
    type: str | None = Field(default=None, max_length=100)
    env: dict[str, str] = Field(default_factory=dict)
    time_to_live: int | None = Field(default=None, ge=1, le=MAX_TIME_TO_LIVE)
    force_no_tty: bool | None = None


def _control(request: Request) -> DynoControl:
    ctx = context(request)
    if ctx.dynos is None:
        raise ApiError(422, "invalid_params", f"Dynos are not available on this server: {ctx.dynos_unavailable}")
    return ctx.dynos


def _app(request: Request, caller: CallerDep, app: str) -> App:
    with context(request).db.read() as session:
        return find_app(session, caller.user(session), app)


def _dyno_error(exc: DynoError) -> ApiError:
    status, error_id = (404, "not_found") if isinstance(exc, NoSuchDyno) else (422, "invalid_params")
    return ApiError(status, error_id, str(exc))


@router.get("/apps/{app}/dynos")
def list_dynos(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    found = _app(request, caller, app)
    if context(request).dynos is None:
        return []
    return [render.dyno(found, d, None) for d in _control(request).list(found.id)]


@router.get("/apps/{app}/dynos/{dyno}")
def get_dyno(request: Request, caller: CallerDep, app: str, dyno: str) -> dict[str, Any]:
    found = _app(request, caller, app)
    for view in _control(request).list(found.id):
        if dyno in (view.name, view.handle_id):
            return render.dyno(found, view, None)
    raise ApiError(404, "not_found", f"Couldn't find that dyno ({dyno}).")


def _restart(request: Request, caller: CallerDep, app: str, target: str | None) -> JSONResponse:
    found = _app(request, caller, app)
    try:
        _control(request).restart(found.id, target)
    except DynoError as exc:
        raise _dyno_error(exc) from exc
    return JSONResponse({}, status_code=202)


@router.delete("/apps/{app}/dynos", status_code=202)
def restart_all(request: Request, caller: CallerDep, app: str) -> JSONResponse:
    return _restart(request, caller, app, None)


@router.delete("/apps/{app}/dynos/{dyno}", status_code=202)
def restart_dyno(request: Request, caller: CallerDep, app: str, dyno: str) -> JSONResponse:
    """Restart one dyno (`web.1`) or every dyno of a type (`web`)."""
    return _restart(request, caller, app, dyno)


@router.post("/apps/{app}/dynos/{dyno}/actions/stop", status_code=202)
def stop_dyno(request: Request, caller: CallerDep, app: str, dyno: str) -> JSONResponse:
    found = _app(request, caller, app)
    try:
        _control(request).stop(found.id, dyno)
    except DynoError as exc:
        raise _dyno_error(exc) from exc
    return JSONResponse({}, status_code=202)


@router.post("/apps/{app}/dynos", status_code=201)
def create_dyno(request: Request, caller: CallerDep, app: str, body: DynoCreate) -> JSONResponse:
    """A one-off dyno; with `attach`, `attach_url` is where its terminal waits for `pyroku run`."""
    size = None
    if body.size is not None:
        size = find_size(body.size)
        if size is None:
            names = ", ".join(DYNO_SIZES)
            raise ApiError(422, "invalid_params", f"No such dyno size {body.size!r}. Sizes: {names}.")
    found = _app(request, caller, app)
    try:
        view, attach_url = _control(request).run(
            found.id, body.command, size=size, attach=body.attach, env=body.env,
            time_to_live=float(body.time_to_live) if body.time_to_live else None,
        )
    except DynoError as exc:
        raise _dyno_error(exc) from exc
    return JSONResponse(render.dyno(found, view, attach_url), status_code=201)
