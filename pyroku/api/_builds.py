"""Builds: `POST /apps/{app}/builds` from a source tarball, their output, the build cache, the app's
buildpacks, and `POST /sources` for uploading a tarball to build.

Two URLs carry their own secret instead of an API token, as on Heroku: a source blob's
`put_url`/`get_url` and a build's `output_stream_url`. They are served by :func:`blob_app`, which
the server mounts beside the API (no `Accept` version needed, output streamed as it is written).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as PlainRequest
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.api._ranges import paginate
from pyroku.build import (
    BuildRequest,
    BuildService,
    BuildsUnavailable,
    InvalidBuildpack,
    Source,
    TarballSource,
    describe_buildpack,
    resolve_buildpack,
)
from pyroku.state import (
    App,
    Build,
    find_app,
    find_build,
    list_buildpacks,
    list_builds,
    set_buildpacks,
)

router = APIRouter()

OUTPUT_PATH = "/build-output"
SOURCE_PATH = "/source-blobs"
MAX_SOURCE_BYTES = 1024 * 1024 * 1024
_CHUNK = 1 << 20


class SourceBlob(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(min_length=1, max_length=4000)
    checksum: str | None = Field(default=None, max_length=80, pattern=r"^SHA256:[0-9a-fA-F]{64}$")
    version: str | None = Field(default=None, max_length=128)
    version_description: str | None = Field(default=None, max_length=1000)


class BuildpackRef(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str | None = Field(default=None, max_length=1000)
    name: str | None = Field(default=None, max_length=1000)


class BuildCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_blob: SourceBlob
    buildpacks: list[BuildpackRef] | None = Field(default=None, max_length=16)


class BuildpackUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    buildpack: str = Field(min_length=1, max_length=1000)


class BuildpackInstallations(BaseModel):
    model_config = ConfigDict(extra="ignore")
    updates: list[BuildpackUpdate] = Field(max_length=16)


def builds(request: Request | PlainRequest) -> BuildService:
    service = getattr(request.app.state, "builds", None)
    if not isinstance(service, BuildService):
        raise ApiError(422, "invalid_params", "Builds are not available on this server.")
    return service


def _base(request: Request | PlainRequest) -> str:
    return str(request.base_url).rstrip("/")


def render_build(request: Request, build: Build, app: App) -> dict[str, Any]:
    return {
        "id": build.id,
        "app": render.app_ref(app),
        "buildpacks": list(build.buildpacks),
        "created_at": render.ts(build.created_at),
        "updated_at": render.ts(build.updated_at),
        "output_stream_url": f"{_base(request)}{OUTPUT_PATH}/{build.id}?token={build.output_token}",
        "release": {"id": build.release_id} if build.release_id else None,
        "slug": {"id": build.slug_id} if build.slug_id else None,
        "source_blob": {
            "checksum": build.source_checksum,
            "url": build.source_url,
            "version": build.source_version,
            "version_description": None,
        },
        "stack": build.stack,
        "status": build.status,
        "user": render.user_ref(build.user),
    }


def _installation(url: str, ordinal: int) -> dict[str, Any]:
    return {"buildpack": describe_buildpack(url), "ordinal": ordinal}


# ---- builds ------------------------------------------------------------------------------------

def _own_source(service: BuildService, url: str) -> Path | None:
    """The local file behind one of our own source `get_url`s (checked against its secret)."""
    parts = urlsplit(url)
    if not parts.path.startswith(SOURCE_PATH + "/"):
        return None
    blob_id = parts.path.removeprefix(SOURCE_PATH + "/")
    token = (parse_qs(parts.query).get("token") or [""])[0]
    if not service.sources.check(blob_id, token):
        raise ApiError(422, "invalid_params", "That source blob URL is not valid (expired or unknown).")
    path = service.sources.path(blob_id)
    if not path.is_file():
        raise ApiError(422, "invalid_params", "Nothing was uploaded to that source blob yet.")
    return path


@router.post("/apps/{app}/builds", status_code=201)
async def post_build(request: Request, caller: CallerDep, app: str, body: BuildCreate) -> JSONResponse:
    """Build a source tarball (`source_blob.url`, e.g. a `get_url` from `POST /sources`)."""
    ctx = context(request)

    def lookup() -> str:
        with ctx.db.read() as session:
            return find_app(session, caller.user(session), app).id

    app_id = await run_in_threadpool(lookup)
    service = builds(request)
    blob = body.source_blob
    local = _own_source(service, blob.url)
    if local is None and urlsplit(blob.url).scheme not in ("http", "https"):
        raise ApiError(422, "invalid_params", "source_blob.url must be an http:// or https:// URL.")
    source: Source = TarballSource(url=None if local else blob.url, path=local, checksum=blob.checksum)
    packs = None
    if body.buildpacks is not None:
        packs = tuple((b.url or b.name or "").strip() for b in body.buildpacks)
    build_request = BuildRequest(
        app_id=app_id, user_id=caller.user_id, source=source, source_url=blob.url,
        source_version=blob.version, source_checksum=blob.checksum, buildpacks=packs,
    )
    try:
        build_id = await service.create(build_request)
    except InvalidBuildpack as exc:
        raise ApiError(422, "invalid_params", str(exc)) from exc
    except BuildsUnavailable as exc:
        raise ApiError(422, "invalid_params", str(exc)) from exc
    service.submit(build_id, build_request)

    def show() -> dict[str, Any]:
        with ctx.db.read() as session:
            found = find_app(session, caller.user(session), app_id)
            return render_build(request, find_build(session, found, build_id), found)

    return JSONResponse(await run_in_threadpool(show), status_code=201)


@router.get("/apps/{app}/builds")
def get_builds(request: Request, caller: CallerDep, app: str) -> JSONResponse:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        items = list_builds(session, found)
        return paginate(request, items, {"created_at": lambda b: render.ts(b.created_at), "id": lambda b: b.id},
                        lambda b: render_build(request, b, found), default="created_at")


@router.get("/apps/{app}/builds/{build}")
def get_build(request: Request, caller: CallerDep, app: str, build: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return render_build(request, find_build(session, found, build), found)


@router.delete("/apps/{app}/build-cache", status_code=202)
async def delete_build_cache(request: Request, caller: CallerDep, app: str) -> JSONResponse:
    """Purge the app's build cache: the next build installs everything again."""
    ctx = context(request)

    def lookup() -> str:
        with ctx.db.read() as session:
            return find_app(session, caller.user(session), app).id

    app_id = await run_in_threadpool(lookup)
    service = builds(request)
    await service.purge_cache(app_id)
    ctx.announce(app_id, f"Build cache purged by user {caller.email}")
    return JSONResponse({}, status_code=202)


# ---- buildpack installations -----------------------------------------------------------------

@router.get("/apps/{app}/buildpack-installations")
def get_buildpack_installations(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [_installation(b.url, b.ordinal) for b in list_buildpacks(session, found)]


@router.put("/apps/{app}/buildpack-installations")
def put_buildpack_installations(
    request: Request, caller: CallerDep, app: str, body: BuildpackInstallations
) -> list[dict[str, Any]]:
    """Replace the app's buildpacks (an empty list: detect among the bundled ones again)."""
    urls = [u.buildpack.strip() for u in body.updates]
    service = getattr(request.app.state, "builds", None)
    try:
        for url in urls:
            if isinstance(service, BuildService):
                service.resolve([url])
            else:
                resolve_buildpack(url)
    except InvalidBuildpack as exc:
        raise ApiError(422, "invalid_params", str(exc)) from exc
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        return [_installation(b.url, b.ordinal) for b in set_buildpacks(session, found, urls)]


# ---- sources -----------------------------------------------------------------------------------

@router.post("/sources", status_code=201)
def post_source(request: Request, caller: CallerDep) -> JSONResponse:
    """A place to upload a source tarball (PUT to `put_url`) and the URL to build it from (`get_url`)."""
    service = builds(request)
    blob_id, token = service.sources.create()
    url = f"{_base(request)}{SOURCE_PATH}/{blob_id}?token={token}"
    return JSONResponse({"source_blob": {"get_url": url, "put_url": url}}, status_code=201)


# ---- the secret-carrying URLs -------------------------------------------------------------------

async def _put_source(request: PlainRequest) -> Response:
    service = builds(request)
    blob_id = request.path_params["blob"]
    if not service.sources.check(blob_id, request.query_params.get("token", "")):
        return PlainTextResponse("No such upload.\n", status_code=404)
    target = service.sources.path(blob_id)
    part = target.with_suffix(".part")
    size = 0
    with part.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_SOURCE_BYTES:
                part.unlink(missing_ok=True)
                return PlainTextResponse(f"Sources are limited to {MAX_SOURCE_BYTES // 2**20} MB.\n",
                                         status_code=413)
            out.write(chunk)
    part.replace(target)
    return PlainTextResponse("", status_code=200)


async def _get_source(request: PlainRequest) -> Response:
    service = builds(request)
    blob_id = request.path_params["blob"]
    if not service.sources.check(blob_id, request.query_params.get("token", "")):
        return PlainTextResponse("No such source.\n", status_code=404)
    path = service.sources.path(blob_id)
    if not path.is_file():
        return PlainTextResponse("Nothing was uploaded here yet.\n", status_code=404)
    return FileResponse(path, media_type="application/gzip")


async def _get_output(request: PlainRequest) -> Response:
    service = builds(request)
    build_id = request.path_params["build"]
    token = request.query_params.get("token", "")

    def check() -> bool:
        with request.app.state.db.read() as session:
            build = session.get(Build, build_id)
            return build is not None and hmac.compare_digest(build.output_token, token)

    if len(build_id) != 36 or not await run_in_threadpool(check):
        return PlainTextResponse("No such build output.\n", status_code=404)
    return StreamingResponse(service.follow(build_id), media_type="text/plain; charset=utf-8",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def blob_app(service: BuildService, db: Any) -> Starlette:
    """The secret-URL endpoints (`/source-blobs/...`, `/build-output/...`), mounted beside the API."""
    app = Starlette(routes=[
        Route(SOURCE_PATH + "/{blob}", _put_source, methods=["PUT"]),
        Route(SOURCE_PATH + "/{blob}", _get_source, methods=["GET", "HEAD"]),
        Route(OUTPUT_PATH + "/{build}", _get_output, methods=["GET"]),
    ])
    app.state.builds = service
    app.state.db = db
    return app


def is_blob_path(path: str) -> bool:
    return path.startswith((SOURCE_PATH + "/", OUTPUT_PATH + "/"))
