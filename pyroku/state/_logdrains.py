"""Log drains as desired state: the API records them, logplex makes them run."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, LogDrain

MAX_DRAINS_PER_APP = 5


def list_drains(session: Session, app: App | None = None) -> list[LogDrain]:
    """One app's drains, or every app's (for logplex at start-up)."""
    query = select(LogDrain).order_by(LogDrain.created_at)
    if app is not None:
        query = query.where(LogDrain.app_id == app.id)
    return list(session.scalars(query))


def add_drain(session: Session, app: App, url: str) -> LogDrain:
    """`url` must already be validated by logplex; this enforces the per-app rules."""
    drains = list_drains(session, app)
    if any(d.url == url for d in drains):
        raise InvalidParams("This drain URL is already added to the app.")
    if len(drains) >= MAX_DRAINS_PER_APP:
        raise InvalidParams(f"An app may have at most {MAX_DRAINS_PER_APP} log drains.")
    drain = LogDrain(app_id=app.id, url=url, token=f"d.{uuid.uuid4()}")
    session.add(drain)
    session.flush()
    return drain


def find_drain(session: Session, app: App, id_or_url: str) -> LogDrain:
    query = select(LogDrain).where(LogDrain.app_id == app.id)
    drain = session.scalar(query.where((LogDrain.id == id_or_url) | (LogDrain.url == id_or_url)))
    if drain is None:
        raise NotFound(f"Couldn't find that log drain ({id_or_url}).")
    return drain


def remove_drain(session: Session, drain: LogDrain) -> None:
    session.delete(drain)
    session.flush()
