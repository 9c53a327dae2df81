"""Formation: desired quantity and size per process type. The dyno manager reconciles it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.sizes import DEFAULT_SIZE, DYNO_SIZES, find_size
from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, Formation

PROCESS_TYPE_RE = re.compile(r"^[-\w]{1,128}$", re.ASCII)
MAX_DYNOS_PER_APP = 100


@dataclass(frozen=True)
class Quantity:
    """A new dyno count, or with `relative` a change to the current one (`"+1"`, `"-2"`)."""

    value: int
    relative: bool = False

    def apply(self, current: int) -> int:
        return current + self.value if self.relative else self.value


@dataclass(frozen=True)
class FormationUpdate:
    type: str
    quantity: Quantity | None = None
    size: str | None = None


def list_formation(session: Session, app: App) -> list[Formation]:
    return list(session.scalars(select(Formation).where(Formation.app_id == app.id).order_by(Formation.type)))


def find_formation(session: Session, app: App, type_or_id: str) -> Formation:
    formation = session.scalar(
        select(Formation)
        .where(Formation.app_id == app.id)
        .where((Formation.type == type_or_id) | (Formation.id == type_or_id))
    )
    if formation is None:
        raise NotFound(f"Couldn't find that process type ({type_or_id}).")
    return formation


_QUANTITY_RE = re.compile(r"^\s*([+-]?)(\d{1,5})\s*$")


def parse_quantity(value: object) -> Quantity:
    """Quantities arrive as integers, or as strings ("2", and "+1" / "-1" from the Heroku CLI's
    relative scaling)."""
    if isinstance(value, bool):
        raise InvalidParams("Quantity must be a whole number.")
    if isinstance(value, int):
        quantity = Quantity(value)
    elif isinstance(value, str) and (match := _QUANTITY_RE.match(value)):
        sign, digits = match.groups()
        quantity = Quantity(-int(digits) if sign == "-" else int(digits), relative=bool(sign))
    else:
        raise InvalidParams(f"Quantity must be a whole number, not {value!r}.")
    if not quantity.relative and not 0 <= quantity.value <= MAX_DYNOS_PER_APP:
        raise InvalidParams(f"Quantity must be between 0 and {MAX_DYNOS_PER_APP}.")
    return quantity


def update_formation(
    session: Session, app: App, updates: list[FormationUpdate], *, max_memory_mb: int | None = None
) -> list[Formation]:
    """Apply a batch of updates atomically; the app's total stays within 100 dynos, and no size
    needs more memory than `max_memory_mb` (the machine's)."""
    if not updates:
        raise InvalidParams("No formation updates given.")
    current = {f.type: f for f in list_formation(session, app)}
    changed: list[Formation] = []
    for update in updates:
        if not PROCESS_TYPE_RE.match(update.type):
            raise InvalidParams(
                f"Invalid process type {update.type!r}: use letters, digits, dashes and underscores."
            )
        size_name: str | None = None
        if update.size is not None:
            size = find_size(update.size)
            if size is None:
                names = ", ".join(s.api_name for s in DYNO_SIZES.values())
                raise InvalidParams(f"No such dyno size {update.size!r}. Sizes: {names}.")
            if max_memory_mb is not None and size.memory_mb > max_memory_mb:
                raise InvalidParams(
                    f"{size.name} dynos need {size.memory_mb} MB of memory; this platform's machines have "
                    f"{max_memory_mb} MB. Choose a smaller size."
                )
            size_name = size.name
        formation = current.get(update.type)
        if formation is None:
            formation = Formation(app_id=app.id, type=update.type, quantity=0, size=DEFAULT_SIZE.name)
            session.add(formation)
            current[update.type] = formation
        if update.quantity is not None:
            quantity = update.quantity.apply(formation.quantity)
            if not 0 <= quantity <= MAX_DYNOS_PER_APP:
                raise InvalidParams(
                    f"Cannot scale {update.type} to {quantity}: quantity must be between 0 and {MAX_DYNOS_PER_APP}."
                )
            formation.quantity = quantity
        if size_name is not None:
            formation.size = size_name
        changed.append(formation)
    total = sum(f.quantity for f in current.values())
    if total > MAX_DYNOS_PER_APP:
        raise InvalidParams(f"An app may run at most {MAX_DYNOS_PER_APP} dynos; this would be {total}.")
    session.flush()
    return changed
