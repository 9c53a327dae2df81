"""``access``, ``access:add``, ``access:remove``: an app's collaborators."""

from __future__ import annotations

from typing import Any

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import JSONObject, path
from pyroku.cli._group import ClientCommand
from pyroku.cli._session import current_session

__all__ = ["access", "access_add", "access_remove"]


def _email(obj: Any) -> str:
    return str(obj.get("email", "")) if isinstance(obj, dict) else ""


@click.command("access", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def access(app: str, as_json: bool) -> None:
    """List who has access to the app."""
    session = current_session()
    out = session.output
    client = session.client()
    collaborators: list[JSONObject] = client.get(path("/apps/{}/collaborators", app))
    if as_json:
        out.json(collaborators)
        return
    rows = {_email(item.get("user")): str(item.get("role") or "collaborator") for item in collaborators}
    if "owner" not in rows.values():
        owner = _email(client.get(path("/apps/{}", app)).get("owner"))
        if owner:
            rows[owner] = "owner"
    ordered = sorted(rows.items(), key=lambda row: (row[1] != "owner", row[0]))
    out.header(f"{out.app(app)} Access List")
    out.table([[email, role] for email, role in ordered])


@click.command("access:add", cls=ClientCommand)
@with_app
@click.argument("email")
def access_add(app: str, email: str) -> None:
    """Give the user with EMAIL access to the app."""
    session = current_session()
    out = session.output
    with out.action(f"Adding {email} access to the app {out.app(app)}"):
        session.client().post(path("/apps/{}/collaborators", app), {"user": email})


@click.command("access:remove", cls=ClientCommand)
@with_app
@click.argument("email")
def access_remove(app: str, email: str) -> None:
    """Remove the access of the user with EMAIL to the app."""
    session = current_session()
    out = session.output
    with out.action(f"Removing {email} access from the app {out.app(app)}"):
        session.client().delete(path("/apps/{}/collaborators/{}", app, email))
