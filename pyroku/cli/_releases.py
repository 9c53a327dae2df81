"""``releases``, ``releases:info``, ``rollback``."""

from __future__ import annotations

import re
import shlex
from typing import Any

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import APIClient, JSONObject, path
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._group import ClientCommand
from pyroku.cli._logs import stream_log
from pyroku.cli._output import format_object, format_time
from pyroku.cli._session import current_session

__all__ = [
    "latest_release",
    "list_releases",
    "parse_release",
    "releases",
    "releases_info",
    "releases_output",
    "rollback",
]

_VERSION = re.compile(r"^[vV]?(\d+)$")


def parse_release(text: str) -> str:
    """``v3`` or ``3`` → ``3``; a release id is passed through."""
    text = text.strip()
    if not text:
        raise InvalidInput("A release is a version like v3 or a release id")
    match = _VERSION.match(text)
    return match.group(1) if match else text


def _version(release: Any) -> int:
    try:
        return int(release.get("version", 0))
    except (AttributeError, TypeError, ValueError):
        return 0


def list_releases(client: APIClient, app: str, limit: int) -> list[JSONObject]:
    """The newest ``limit`` releases, newest first (sorted here too, in case the server ignores Range)."""
    found: list[JSONObject] = client.get(
        path("/apps/{}/releases", app), headers={"Range": f"version ..; order=desc, max={limit}"}
    )
    return sorted(found, key=_version, reverse=True)[:limit]


def latest_release(client: APIClient, app: str) -> JSONObject | None:
    newest = list_releases(client, app, 1)
    return newest[0] if newest else None


def _current(releases: list[JSONObject]) -> JSONObject | None:
    flagged = [release for release in releases if release.get("current")]
    if flagged:
        return flagged[0]
    return releases[0] if releases else None


def _email(release: JSONObject) -> str:
    user = release.get("user")
    return str(user.get("email", "")) if isinstance(user, dict) else ""


def _description(release: JSONObject) -> str:
    text = str(release.get("description") or "")
    status = release.get("status")
    if status and status != "succeeded":
        text += f" ({status})"
    return text


@click.command("releases", cls=ClientCommand)
@with_app
@click.option(
    "-n", "--num", default=15, show_default=True, type=click.IntRange(1, 1000), help="How many releases to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def releases(app: str, num: int, as_json: bool) -> None:
    """List the app's releases, newest first."""
    session = current_session()
    out = session.output
    found = list_releases(session.client(), app, num)
    if as_json:
        out.json(found)
        return
    if not found:
        out.echo(f"{out.app(app)} has no releases.")
        return
    current = _current(found)
    current_text = f" - Current: v{_version(current)}" if current else ""
    out.header(f"{out.app(app)} Releases{current_text}")
    out.table(
        [[f"v{_version(rel)}", _description(rel), _email(rel), format_time(rel.get("created_at"))] for rel in found]
    )


def _get_release(client: APIClient, app: str, release: str | None) -> JSONObject:
    if release is None:  # the newest, fetched on its own: listings omit per-release details
        newest = latest_release(client, app)
        if newest is None:
            raise CLIError(f"{app} has no releases")
        release = str(_version(newest))
    found: JSONObject = client.get(path("/apps/{}/releases/{}", app, parse_release(release)))
    return found


@click.command("releases:info", cls=ClientCommand)
@with_app
@click.argument("release", required=False)
@click.option("-s", "--shell", is_flag=True, help="Show the config vars as KEY=value lines.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def releases_info(app: str, release: str | None, shell: bool, as_json: bool) -> None:
    """Show a release (default: the newest) and its config vars."""
    session = current_session()
    client = session.client()
    out = session.output
    found = _get_release(client, app, release)
    if as_json:
        out.json(found)
        return
    version = _version(found)
    config: JSONObject = client.get(path("/apps/{}/releases/{}/config-vars", app, str(version)))
    out.header(f"Release v{version}")
    addons = found.get("addon_plan_names") or []
    out.object(
        [
            ("Add-ons", ", ".join(str(name) for name in addons)),
            ("By", _email(found)),
            ("Change", str(found.get("description") or "")),
            ("Current", "yes" if found.get("current") else "no"),
            ("Status", str(found.get("status") or "")),
            ("When", format_time(found.get("created_at"))),
        ]
    )
    out.echo()
    out.header(f"v{version} Config vars")
    if shell:
        out.lines([f"{key}={shlex.quote(str(value))}" for key, value in sorted(config.items())])
    else:
        out.lines(format_object(sorted((key, str(value)) for key, value in config.items())))


@click.command("releases:output", cls=ClientCommand)
@with_app
@click.argument("release", required=False)
def releases_output(app: str, release: str | None) -> None:
    """Show the output of a release's release phase (live while it runs)."""
    session = current_session()
    found = _get_release(session.client(), app, release)
    url = found.get("output_stream_url")
    if not url:
        raise CLIError(f"Release v{_version(found)} has no release phase output.")
    stream_log(str(url), session.output, follow=found.get("status") == "pending")


def _previous(client: APIClient, app: str) -> JSONObject:
    """The newest succeeded release older than the current one, like ``heroku rollback``."""
    recent = list_releases(client, app, 50)
    current = _current(recent)
    if current is None:
        raise CLIError(f"{app} has no releases")
    older = [
        rel for rel in recent if _version(rel) < _version(current) and rel.get("status", "succeeded") == "succeeded"
    ]
    if not older:
        raise CLIError(f"{app} has no release before v{_version(current)} to roll back to")
    return older[0]


@click.command("rollback", cls=ClientCommand)
@with_app
@click.argument("release", required=False)
def rollback(app: str, release: str | None) -> None:
    """Roll back to RELEASE (default: the one before the current release).

    A rollback is a new release with the code and config vars of the target.
    """
    session = current_session()
    client = session.client()
    out = session.output
    current = _current(list_releases(client, app, 1))
    target = _get_release(client, app, release) if release else _previous(client, app)
    with out.action(f"Rolling back {out.app(app)} to v{_version(target)}") as result:
        created: JSONObject = client.post(
            path("/apps/{}/releases", app), {"release": str(target.get("id") or _version(target))}
        )
        result.suffix = f"v{_version(created)}"
    if current is not None:
        out.echo(f"To undo, run: pyroku rollback v{_version(current)} -a {app}")
