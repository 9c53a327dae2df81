"""``config``, ``config:get``, ``config:set``, ``config:unset``."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import APIClient, JSONObject, path
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._group import ClientCommand
from pyroku.cli._output import join_names
from pyroku.cli._releases import latest_release
from pyroku.cli._session import current_session

__all__ = ["config", "config_get", "config_set", "config_unset", "parse_assignments", "shell_line"]

SET_USAGE = "Usage: pyroku config:set KEY1=VALUE1 [KEY2=VALUE2 ...]"


def parse_assignments(args: Sequence[str]) -> dict[str, str]:
    """``["A=1", "B=two words"]`` → ``{"A": "1", "B": "two words"}``; the value may contain ``=``."""
    if not args:
        raise InvalidInput(f"{SET_USAGE}: give at least one KEY=VALUE")
    assignments: dict[str, str] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{arg!r} is not KEY=VALUE. {SET_USAGE}")
        assignments[key.strip()] = value
    return assignments


def shell_line(key: str, value: str) -> str:
    """``KEY=value`` quoted for a POSIX shell: ``B='two words'``."""
    return f"{key}={shlex.quote(value)}"


def _config_vars(client: APIClient, app: str) -> dict[str, str]:
    found: JSONObject = client.get(path("/apps/{}/config-vars", app))
    return {str(key): "" if value is None else str(value) for key, value in found.items()}


def _release_suffix(client: APIClient, app: str) -> str:
    """``v7`` for the release a config change created; empty if it cannot be told."""
    try:
        newest = latest_release(client, app)
    except CLIError:
        return ""
    return f"v{newest['version']}" if newest and "version" in newest else ""


@click.command("config", cls=ClientCommand)
@with_app
@click.option("-s", "--shell", is_flag=True, help="Print KEY=value lines for a shell.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def config(app: str, shell: bool, as_json: bool) -> None:
    """Show the app's config vars."""
    session = current_session()
    out = session.output
    client = session.client()
    if as_json:
        out.json(client.get(path("/apps/{}/config-vars", app)))
        return
    variables = _config_vars(client, app)
    if shell:
        out.lines([shell_line(key, value) for key, value in sorted(variables.items())])
        return
    if not variables:
        out.echo(f"{out.app(app)} has no config vars.")
        return
    out.header(f"{out.app(app)} Config Vars")
    out.object(sorted(variables.items()))


@click.command("config:get", cls=ClientCommand)
@with_app
@click.argument("key")
@click.option("-s", "--shell", is_flag=True, help="Print KEY=value.")
def config_get(app: str, key: str, shell: bool) -> None:
    """Print one config var's value (an empty line when it is not set)."""
    session = current_session()
    value = _config_vars(session.client(), app).get(key, "")
    session.output.echo(shell_line(key, value) if shell else value)


@click.command("config:set", cls=ClientCommand)
@with_app
@click.argument("assignments", nargs=-1, metavar="KEY=VALUE...")
def config_set(app: str, assignments: tuple[str, ...]) -> None:
    """Set config vars; creates a release and restarts the app's dynos."""
    changes = parse_assignments(assignments)
    session = current_session()
    out = session.output
    client = session.client()
    with out.action(f"Setting {join_names(list(changes))} and restarting {out.app(app)}") as result:
        updated: JSONObject = client.patch(path("/apps/{}/config-vars", app), changes)
        result.suffix = _release_suffix(client, app)
    out.object([(key, str(updated.get(key, value))) for key, value in changes.items()])


@click.command("config:unset", cls=ClientCommand)
@with_app
@click.argument("keys", nargs=-1, metavar="KEY...")
def config_unset(app: str, keys: tuple[str, ...]) -> None:
    """Unset config vars; creates a release and restarts the app's dynos."""
    names = list(dict.fromkeys(key for key in keys if key.strip()))
    if not names:
        raise InvalidInput("Usage: pyroku config:unset KEY1 [KEY2 ...]: give at least one KEY")
    session = current_session()
    out = session.output
    client = session.client()
    with out.action(f"Unsetting {join_names(names)} and restarting {out.app(app)}") as result:
        client.patch(path("/apps/{}/config-vars", app), dict.fromkeys(names))
        result.suffix = _release_suffix(client, app)
