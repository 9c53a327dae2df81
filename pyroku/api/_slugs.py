"""Slugs: register one, upload its blob to the URL given, then release it (`POST .../releases {slug}`)."""

from __future__ import annotations

import tempfile
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.state import create_slug, find_app, find_slug, mark_uploaded, slug_for_upload

router = APIRouter()

BLOB_PATH = "/slug-blobs"
_CHUNK = 1 << 20


class SlugCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    process_types: dict[str, str]
    commit: str | None = Field(default=None, max_length=64)
    commit_description: str | None = Field(default=None, max_length=10_000)
    buildpack_provided_description: str | None = Field(default=None, max_length=1000)
    checksum: str | None = Field(default=None, max_length=80)
    stack: str | None = Field(default=None, max_length=100)


def blob_url(request: Request, slug_id: str, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{BLOB_PATH}/{slug_id}?token={token}"


@router.post("/apps/{app}/slugs", status_code=201)
def post_slug(request: Request, caller: CallerDep, app: str, body: SlugCreate) -> JSONResponse:
    """Register a slug; PUT its tar.gz (with `./app/...` inside) to `blob.url` before releasing it."""
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        slug, token = create_slug(
            session, found, body.process_types, commit=body.commit, commit_description=body.commit_description,
            buildpack_provided_description=body.buildpack_provided_description, checksum=body.checksum,
        )
        return JSONResponse(render.slug(slug, {"method": "PUT", "url": blob_url(request, slug.id, token)}),
                            status_code=201)


@router.get("/apps/{app}/slugs/{slug}")
def get_slug(request: Request, caller: CallerDep, app: str, slug: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return render.slug(find_slug(session, found, slug), None)


@router.put(BLOB_PATH + "/{slug_id}", include_in_schema=False)
async def put_slug_blob(request: Request, slug_id: str, token: str = "") -> JSONResponse:
    """The upload URL handed out with the slug: its secret is the only credential, as with S3."""
    ctx = context(request)
    limit = ctx.limits.slug_max_bytes

    def check() -> None:
        with ctx.db.read() as session:
            slug_for_upload(session, slug_id, token)

    await run_in_threadpool(check)
    size = 0
    with tempfile.TemporaryFile(dir=ctx.upload_dir) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "request_entity_too_large",
                               f"Slug is larger than the {limit // (1 << 20)} MB limit.")
            spool.write(chunk)
        spool.seek(0)
        checksum = await run_in_threadpool(ctx.slugs.put, slug_id, spool)

    def record() -> None:
        with ctx.db.write() as session:
            mark_uploaded(session, slug_for_upload(session, slug_id, token), checksum, size)

    try:
        await run_in_threadpool(record)
    except Exception:
        await run_in_threadpool(ctx.slugs.delete, slug_id)
        raise
    return JSONResponse({"id": slug_id, "checksum": checksum, "size": size})
