"""Custom domains and app features."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context, default_hostname
from pyroku.api._errors import ApiError
from pyroku.state import (
    FEATURES,
    add_domain,
    feature_states,
    find_app,
    find_domain,
    list_domains,
    remove_domain,
    set_feature,
)

router = APIRouter()


class DomainCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    hostname: str = Field(max_length=300)


class FeatureUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    enabled: bool


@router.get("/apps/{app}/domains")
def get_domains(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        default = default_hostname(request, found.name)
        return [render.domain(found, None, default)] + [
            render.domain(found, d, default) for d in list_domains(session, found)
        ]


@router.post("/apps/{app}/domains", status_code=201)
def post_domain(request: Request, caller: CallerDep, app: str, body: DomainCreate) -> JSONResponse:
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        domain = add_domain(session, found, body.hostname, context(request).urls.domain)
        shown = render.domain(found, domain, default_hostname(request, found.name))
    context(request).on_change(found.id)
    return JSONResponse(shown, status_code=201)


@router.get("/apps/{app}/domains/{domain}")
def get_domain(request: Request, caller: CallerDep, app: str, domain: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        default = default_hostname(request, found.name)
        if domain.lower() == default:
            return render.domain(found, None, default)
        return render.domain(found, find_domain(session, found, domain), default)


@router.delete("/apps/{app}/domains/{domain}")
def delete_domain(request: Request, caller: CallerDep, app: str, domain: str) -> dict[str, Any]:
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        default = default_hostname(request, found.name)
        if domain.lower() == default:
            raise ApiError(422, "invalid_params", f"{default} is the app's own hostname and cannot be removed.")
        row = find_domain(session, found, domain)
        shown = render.domain(found, row, default)
        remove_domain(session, row)
    context(request).on_change(found.id)
    return shown


@router.get("/apps/{app}/features")
def get_features(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [render.feature(found, name, row) for name, row in feature_states(session, found).items()]


@router.get("/apps/{app}/features/{feature}")
def get_feature(request: Request, caller: CallerDep, app: str, feature: str) -> dict[str, Any]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        if feature not in FEATURES:
            raise ApiError(404, "not_found", f"Couldn't find that feature ({feature}).")
        return render.feature(found, feature, feature_states(session, found)[feature])


@router.patch("/apps/{app}/features/{feature}")
def patch_feature(request: Request, caller: CallerDep, app: str, feature: str, body: FeatureUpdate) -> dict[str, Any]:
    with context(request).db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        row = set_feature(session, found, feature, body.enabled)
        shown = render.feature(found, feature, row)
    context(request).on_change(found.id)
    return shown
