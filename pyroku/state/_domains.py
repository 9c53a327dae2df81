"""Custom domains and app features."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, AppFeature, Domain

MAX_DOMAINS_PER_APP = 1000
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)+{_LABEL}$")


def validate_hostname(hostname: str, platform_domain: str) -> str:
    host = hostname.strip().lower().rstrip(".")
    if len(host) > 253 or not HOSTNAME_RE.match(host):
        raise InvalidParams(f"{hostname!r} is not a valid hostname (like www.example.com).")
    suffix = "." + platform_domain.lower()
    if host == platform_domain.lower() or host.endswith(suffix):
        raise InvalidParams(f"Hostnames under {platform_domain} belong to the platform; add your own domain.")
    return host


def list_domains(session: Session, app: App) -> list[Domain]:
    return list(session.scalars(select(Domain).where(Domain.app_id == app.id).order_by(Domain.hostname)))


def add_domain(session: Session, app: App, hostname: str, platform_domain: str) -> Domain:
    host = validate_hostname(hostname, platform_domain)
    if session.scalar(select(Domain.id).where(Domain.hostname == host)) is not None:
        raise InvalidParams(f"{host} is already in use by an app.")  # never say which
    count = session.scalar(select(func.count()).select_from(Domain).where(Domain.app_id == app.id)) or 0
    if count >= MAX_DOMAINS_PER_APP:
        raise InvalidParams(f"An app may have at most {MAX_DOMAINS_PER_APP} custom domains.")
    domain = Domain(app_id=app.id, hostname=host)
    session.add(domain)
    try:
        session.flush()
    except IntegrityError as exc:
        raise InvalidParams(f"{host} is already in use by an app.") from exc
    return domain


def find_domain(session: Session, app: App, id_or_hostname: str) -> Domain:
    key = id_or_hostname.strip().lower()
    domain = session.scalar(
        select(Domain).where(Domain.app_id == app.id).where((Domain.hostname == key) | (Domain.id == key))
    )
    if domain is None:
        raise NotFound(f"Couldn't find that domain ({id_or_hostname}).")
    return domain


def remove_domain(session: Session, domain: Domain) -> None:
    session.delete(domain)
    session.flush()


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    description: str
    doc_url: str = ""


FEATURES: dict[str, FeatureInfo] = {
    f.name: f
    for f in (
        FeatureInfo("preboot", "Start new web dynos and route to them before stopping the old ones on deploy."),
        FeatureInfo("runtime-dyno-metadata", "Expose the app, dyno and release metadata to dynos as env vars."),
    )
}


def feature_states(session: Session, app: App) -> dict[str, AppFeature | None]:
    rows = {f.name: f for f in session.scalars(select(AppFeature).where(AppFeature.app_id == app.id))}
    return {name: rows.get(name) for name in FEATURES}


def feature_enabled(session: Session, app: App, name: str) -> bool:
    row = feature_states(session, app).get(name)
    return bool(row and row.enabled)


def set_feature(session: Session, app: App, name: str, enabled: bool) -> AppFeature:
    if name not in FEATURES:
        raise NotFound(f"Couldn't find that feature ({name}). Features: {', '.join(FEATURES)}.")
    row = feature_states(session, app)[name]
    if row is None:
        row = AppFeature(app_id=app.id, name=name, enabled=enabled)
        session.add(row)
    row.enabled = enabled
    session.flush()
    return row
