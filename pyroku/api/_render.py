"""Resources as JSON, in the Heroku Platform API v3 shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Request

from pyroku.api._context import context, git_url
from pyroku.dynos import DynoView
from pyroku.sizes import find_size
from pyroku.state import (
    FEATURES,
    App,
    AppFeature,
    Authorization,
    Collaborator,
    Domain,
    Formation,
    LogDrain,
    Release,
    Slug,
    SniEndpoint,
    User,
)

STACK_NAME = "pyroku-12"
REGION_NAME = "local"
_NS = uuid.UUID("8c2f1f1e-6a4c-4f41-9d1c-8b1b2f6f7a10")
STACK = {"id": str(uuid.uuid5(_NS, STACK_NAME)), "name": STACK_NAME}
REGION = {"id": str(uuid.uuid5(_NS, REGION_NAME)), "name": REGION_NAME}


def ts(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def user_ref(user: User | None) -> dict[str, Any] | None:
    return {"id": user.id, "email": user.email} if user else None


def app_ref(app: App) -> dict[str, str]:
    return {"id": app.id, "name": app.name}


def account(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": None,
        "allow_tracking": False,
        "beta": False,
        "federated": False,
        "verified": True,
        "two_factor_authentication": False,
        "suspended_at": None,
        "delinquent_at": None,
        "default_organization": None,
        "default_team": None,
        "identity_provider": None,
        "sms_number": None,
        "country_of_residence": None,
        "last_login": ts(user.last_login),
        "created_at": ts(user.created_at),
        "updated_at": ts(user.updated_at),
    }


def app(request: Request, app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "owner": user_ref(app.owner),
        "organization": None,
        "team": None,
        "space": None,
        "region": REGION,
        "stack": STACK,
        "build_stack": STACK,
        "generation": {"id": str(uuid.uuid5(_NS, "cedar")), "name": "cedar"},
        "git_url": git_url(request, app.name),
        "web_url": context(request).urls.web_url(app.name),
        "maintenance": app.maintenance,
        "internal_routing": None,
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": None,
        "repo_size": None,
        "slug_size": None,
        "created_at": ts(app.created_at),
        "updated_at": ts(app.updated_at),
        "released_at": ts(app.released_at),
    }


def release(app: App, rel: Release, current: int | None) -> dict[str, Any]:
    return {
        "id": rel.id,
        "version": rel.version,
        "description": rel.description,
        "status": rel.status,
        "current": rel.version == current,
        "app": app_ref(app),
        "slug": {"id": rel.slug_id} if rel.slug_id else None,
        "user": user_ref(rel.user),
        "addon_plan_names": [],
        "artifacts": [],
        "output_stream_url": None,
        "eligible_for_rollback": rel.status == "succeeded",
        "created_at": ts(rel.created_at),
        "updated_at": ts(rel.updated_at),
    }


def formation(app: App, f: Formation) -> dict[str, Any]:
    size = find_size(f.size)
    return {
        "id": f.id,
        "type": f.type,
        "quantity": f.quantity,
        "size": f.size,
        "dyno_size": {"id": str(uuid.uuid5(_NS, "size-" + size.api_name)) if size else None, "name": f.size},
        "command": f.command,
        "app": app_ref(app),
        "created_at": ts(f.created_at),
        "updated_at": ts(f.updated_at),
    }


def collaborator(app: App, c: Collaborator) -> dict[str, Any]:
    return {
        "id": c.id,
        "app": app_ref(app),
        "user": {**(user_ref(c.user) or {}), "federated": False},
        "role": c.role,
        "permissions": [{"name": n, "description": n} for n in ("view", "deploy", "operate", "manage")],
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    }


def authorization(auth: Authorization, user: User, token: str | None) -> dict[str, Any]:
    return {
        "id": auth.id,
        "description": auth.description,
        "scope": ["global"],
        "access_token": {"id": auth.id, "token": token, "expires_in": None} if token else None,
        "client": None,
        "grant": None,
        "refresh_token": None,
        "session": None,
        "user": {"id": user.id, "email": user.email, "full_name": None},
        "created_at": ts(auth.created_at),
        "updated_at": ts(auth.updated_at),
    }


def domain(app: App, d: Domain | None, default_hostname: str) -> dict[str, Any]:
    """A custom domain, or (d=None) the app's default hostname under the platform domain."""
    hostname = d.hostname if d else default_hostname
    return {
        "id": d.id if d else str(uuid.uuid5(_NS, "domain-" + app.id)),
        "hostname": hostname,
        "kind": "custom" if d else "heroku",
        "cname": default_hostname if d else None,
        "status": "succeeded",
        "acm_status": None,
        "acm_status_reason": None,
        "sni_endpoint": None,
        "app": app_ref(app),
        "created_at": ts(d.created_at if d else app.created_at),
        "updated_at": ts(d.updated_at if d else app.created_at),
    }


def feature(app: App, name: str, row: AppFeature | None) -> dict[str, Any]:
    info = FEATURES[name]
    return {
        "id": row.id if row else str(uuid.uuid5(_NS, f"feature-{app.id}-{name}")),
        "name": name,
        "description": info.description,
        "doc_url": info.doc_url,
        "enabled": bool(row and row.enabled),
        "state": "general",
        "display_name": name,
        "feedback_email": "",
        "created_at": ts(row.created_at if row else app.created_at),
        "updated_at": ts(row.updated_at if row else app.created_at),
    }


def drain(app: App, d: LogDrain) -> dict[str, Any]:
    return {
        "id": d.id,
        "url": d.url,
        "token": d.token,
        "addon": None,
        "app": app_ref(app),
        "created_at": ts(d.created_at),
        "updated_at": ts(d.updated_at),
    }


def slug(s: Slug, blob: dict[str, str] | None) -> dict[str, Any]:
    return {
        "id": s.id,
        "blob": blob,
        "buildpack_provided_description": s.buildpack_provided_description,
        "checksum": s.checksum,
        "commit": s.commit,
        "commit_description": s.commit_description,
        "process_types": s.process_types,
        "size": s.size,
        "stack": STACK,
        "created_at": ts(s.created_at),
        "updated_at": ts(s.updated_at),
    }


def dyno(app: App, d: DynoView, attach_url: str | None) -> dict[str, Any]:
    return {
        "id": d.handle_id or str(uuid.uuid5(_NS, f"dyno-{app.id}-{d.name}")),
        "name": d.name,
        "type": d.type,
        "state": d.state,
        "command": d.command,
        "size": d.size,
        "attach_url": attach_url,
        "app": app_ref(app),
        "release": {"version": d.release_version},
        "created_at": ts(d.started_at.replace(tzinfo=None)),
        "updated_at": ts(d.started_at.replace(tzinfo=None)),
    }


def sni_endpoint(app: App, c: SniEndpoint) -> dict[str, Any]:
    """A certificate as the API shows it; the private key never leaves the platform."""
    return {
        "id": c.id,
        "name": c.name,
        "certificate_chain": c.certificate_chain,
        "domains": list(c.domains),
        "ssl_cert": {"cert_domains": list(c.domains), "expires_at": ts(c.expires_at), "subject": c.subject},
        "app": app_ref(app),
        "created_at": ts(c.created_at),
        "updated_at": ts(c.updated_at),
    }
