"""``ps:scale``: set how many dynos of each process type run, and their size."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import JSONObject, path
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._group import ClientCommand
from pyroku.cli._output import format_size
from pyroku.cli._session import current_session

__all__ = ["ScaleChange", "parse_scale_args", "plan_updates", "ps_scale"]

_SCALE = re.compile(r"^(?P<type>[A-Za-z0-9_-]+?)(?P<op>[=+-])(?P<quantity>\d+)(?::(?P<size>[A-Za-z0-9_-]+))?$")
SCALE_USAGE = "expected TYPE=QUANTITY[:SIZE], TYPE+N or TYPE-N (e.g. web=2 worker=1:standard-2x web+1)"


@dataclass(frozen=True)
class ScaleChange:
    type: str
    op: str  # "=" sets, "+" and "-" are relative to the current quantity
    quantity: int
    size: str | None = None

    def target(self, current: int) -> int:
        if self.op == "+":
            return current + self.quantity
        if self.op == "-":
            return current - self.quantity
        return self.quantity


def parse_scale_args(args: Sequence[str]) -> list[ScaleChange]:
    changes: list[ScaleChange] = []
    seen: set[str] = set()
    for arg in args:
        match = _SCALE.match(arg)
        if match is None:
            raise InvalidInput(f"Invalid scale argument {arg!r}: {SCALE_USAGE}")
        change = ScaleChange(type=match["type"], op=match["op"], quantity=int(match["quantity"]), size=match["size"])
        if change.type in seen:
            raise InvalidInput(f"Process type {change.type} is given more than once")
        seen.add(change.type)
        changes.append(change)
    return changes


def _describe(item: JSONObject) -> str:
    return f"{item.get('quantity')}:{format_size(str(item.get('size') or ''))}"


def plan_updates(changes: Sequence[ScaleChange], current: Mapping[str, int]) -> list[JSONObject]:
    """The ``updates`` body of ``PATCH /apps/{app}/formation``; relative changes use ``current``."""
    updates: list[JSONObject] = []
    for change in changes:
        if change.op != "=" and change.type not in current:
            raise CLIError(f"No {change.type} process type to scale relatively; use {change.type}=N")
        quantity = change.target(current.get(change.type, 0))
        if quantity < 0:
            raise InvalidInput(f"Cannot scale {change.type} below 0 (it runs {current.get(change.type, 0)})")
        update: JSONObject = {"type": change.type, "quantity": quantity}
        if change.size:
            update["size"] = change.size
        updates.append(update)
    return updates


def _show_formation(app: str, formation: list[JSONObject]) -> None:
    out = current_session().output
    if not formation:
        out.echo(f"No process types on {out.app(app)}. Push code with a Procfile to add some.")
        return
    ordered = sorted(formation, key=lambda item: str(item.get("type")))
    out.echo(" ".join(f"{item.get('type')}={_describe(item)}" for item in ordered))


@click.command("ps:scale", cls=ClientCommand)
@with_app
@click.argument("changes", nargs=-1, metavar="TYPE=QUANTITY[:SIZE]...")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON (the formation).")
def ps_scale(app: str, changes: tuple[str, ...], as_json: bool) -> None:
    """Scale dynos: web=2, worker=1:standard-2x, web+1, web-1. Without arguments, show the formation."""
    parsed = parse_scale_args(changes)
    session = current_session()
    out = session.output
    client = session.client()
    formation_path = path("/apps/{}/formation", app)
    current: dict[str, int] = {}
    if not parsed or any(change.op != "=" for change in parsed):
        formation: list[JSONObject] = client.get(formation_path)
        if not parsed:
            if as_json:
                out.json(formation)
            else:
                _show_formation(app, formation)
            return
        current = {str(item.get("type")): int(item.get("quantity") or 0) for item in formation}
    updates = plan_updates(parsed, current)
    if as_json:
        out.json(client.patch(formation_path, {"updates": updates}))
        return
    with out.action("Scaling dynos") as result:
        updated: list[JSONObject] = client.patch(formation_path, {"updates": updates})
        by_type = {str(item.get("type")): item for item in updated}
        running = [f"{change.type} at {_describe(by_type[change.type])}" for change in parsed if change.type in by_type]
        result.suffix = f"now running {', '.join(running)}" if running else ""
