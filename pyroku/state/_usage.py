"""Dyno lifecycle records for metering (billing per second is a later component's job)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.state._models import DynoUsage


def dyno_started(session: Session, dyno_id: str, app_id: str, dyno_name: str, size: str, at: datetime) -> None:
    if session.get(DynoUsage, dyno_id) is None:
        session.add(DynoUsage(id=dyno_id, app_id=app_id, dyno_name=dyno_name, size=size,
                              started_at=at.replace(tzinfo=None)))


def dyno_stopped(session: Session, dyno_id: str, at: datetime) -> None:
    usage = session.get(DynoUsage, dyno_id)
    if usage is not None and usage.stopped_at is None:
        usage.stopped_at = at.replace(tzinfo=None)


def usage_for(session: Session, app_id: str) -> list[DynoUsage]:
    return list(session.scalars(select(DynoUsage).where(DynoUsage.app_id == app_id).order_by(DynoUsage.started_at)))
