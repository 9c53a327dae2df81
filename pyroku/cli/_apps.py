"""``apps``, ``create``, ``apps:info``, ``apps:destroy``, ``apps:rename``, ``open``, ``maintenance``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import click

from pyroku.cli import _git
from pyroku.cli._app_resolution import DEFAULT_REMOTE, app_name_from_git_url, with_app
from pyroku.cli._browser import open_in_browser
from pyroku.cli._client import JSONObject, path
from pyroku.cli._exceptions import CLIError, GitError
from pyroku.cli._group import ClientCommand
from pyroku.cli._output import format_time
from pyroku.cli._prompt import confirm_name
from pyroku.cli._session import current_session

__all__ = [
    "apps_create",
    "apps_destroy",
    "apps_info",
    "apps_list",
    "apps_open",
    "apps_rename",
    "maintenance",
    "maintenance_off",
    "maintenance_on",
]

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def _email(obj: Any) -> str:
    return str(obj.get("email", "")) if isinstance(obj, dict) else ""


def _name(obj: Any) -> str:
    return str(obj.get("name", "")) if isinstance(obj, dict) else ""


@click.command("apps", cls=ClientCommand)
@json_option
def apps_list(as_json: bool) -> None:
    """List your apps and the apps you collaborate on."""
    session = current_session()
    client = session.client()
    listing: list[JSONObject] = client.get("/apps")
    if as_json:
        session.output.json(listing)
        return
    out = session.output
    if not listing:
        out.echo("You have no apps.")
        return
    me = _email(client.get("/account"))
    mine = sorted(_name(app) for app in listing if _email(app.get("owner")) == me)
    others = sorted((_name(app), _email(app.get("owner"))) for app in listing if _email(app.get("owner")) != me)
    out.header(f"{me} Apps")
    out.lines(mine or ["You have no apps."])
    if others:
        out.echo()
        out.header("Collaborated Apps")
        out.table(others)


def _add_remote(remote: str, git_url: str) -> None:
    if _git.in_work_tree():
        _git.set_remote(remote, git_url)


@click.command("create", cls=ClientCommand)
@click.argument("name", required=False)
@click.option("-r", "--remote", default=DEFAULT_REMOTE, show_default=True, help="Name of the git remote.")
@click.option("--no-remote", is_flag=True, help="Do not add a git remote.")
@json_option
def apps_create(name: str | None, remote: str, no_remote: bool, as_json: bool) -> None:
    """Create an app (the server picks a name unless NAME is given).

    Inside a git checkout, the git remote 'pyroku' is set to the app's git URL.
    """
    session = current_session()
    client = session.client()
    out = session.output
    if name:
        with out.action(f"Creating {out.app(name)}"):
            app: JSONObject = client.post("/apps", {"name": name})
    else:
        with out.action("Creating app") as result:
            app = client.post("/apps", {})
            result.suffix = out.app(_name(app))
    git_url = str(app.get("git_url") or "")
    if not no_remote and git_url:
        try:
            _add_remote(remote, git_url)
        except GitError as exc:
            raise CLIError(f"Created {_name(app)}, but could not set the git remote: {exc}") from exc
    if as_json:
        out.json(app)
    else:
        out.echo(f"{app.get('web_url') or ''} | {git_url}")


def _formation_summary(formation: list[JSONObject]) -> str:
    parts = [f"{item.get('type')}: {item.get('quantity')}" for item in sorted(formation, key=_type_key)]
    return ", ".join(parts)


def _type_key(item: JSONObject) -> str:
    return str(item.get("type", ""))


@click.command("apps:info", cls=ClientCommand)
@with_app
@json_option
def apps_info(app: str, as_json: bool) -> None:
    """Show an app's details."""
    session = current_session()
    client = session.client()
    info: JSONObject = client.get(path("/apps/{}", app))
    if as_json:
        session.output.json(info)
        return
    formation: list[JSONObject] = client.get(path("/apps/{}/formation", app))
    out = session.output
    out.header(out.app(_name(info)))
    out.object(
        [
            ("Created", format_time(info.get("created_at"))),
            ("Dynos", _formation_summary(formation)),
            ("Git URL", str(info.get("git_url") or "")),
            ("Maintenance", "on" if info.get("maintenance") else "off"),
            ("Owner", _email(info.get("owner"))),
            ("Region", _name(info.get("region"))),
            ("Released", format_time(info.get("released_at"))),
            ("Stack", _name(info.get("stack"))),
            ("Web URL", str(info.get("web_url") or "")),
        ]
    )


def _remotes_of(app_name: str, git_url: str) -> list[str]:
    """Remotes of the current checkout that point at the app."""
    host = urlsplit(git_url).netloc if "://" in git_url else None
    found = []
    for remote, url in _git.remotes().items():
        same_url = url.rstrip("/") == git_url.rstrip("/")
        same_app = app_name_from_git_url(url) == app_name and (
            host is None or "://" not in url or urlsplit(url).netloc == host
        )
        if same_url or same_app:
            found.append(remote)
    return found


@click.command("apps:destroy", cls=ClientCommand)
@with_app
@click.option("-c", "--confirm", metavar="APP", help="The app's name, to skip the confirmation prompt.")
def apps_destroy(app: str, confirm: str | None) -> None:
    """Permanently destroy an app, and remove its git remote from this checkout."""
    session = current_session()
    out = session.output
    confirm_name(out, app, confirm, doing=f"Destroying {app}",
                 warning=f"WARNING: This will delete {out.app(app)} including all add-ons.")
    client = session.client()
    info: JSONObject = client.get(path("/apps/{}", app))
    name = _name(info) or app
    with out.action(f"Destroying {out.app(name)} (including all add-ons)"):
        client.delete(path("/apps/{}", app))
    git_url = str(info.get("git_url") or "")
    for remote in _remotes_of(name, git_url):
        _git.remove_remote(remote)


@click.command("apps:rename", cls=ClientCommand)
@with_app
@click.argument("newname")
def apps_rename(app: str, newname: str) -> None:
    """Rename an app; updates this checkout's git remote when it points at the app."""
    session = current_session()
    out = session.output
    client = session.client()
    old: JSONObject = client.get(path("/apps/{}", app))
    with out.action(f"Renaming {out.app(_name(old) or app)} to {out.app(newname)}"):
        renamed: JSONObject = client.patch(path("/apps/{}", app), {"name": newname})
    git_url = str(renamed.get("git_url") or "")
    out.echo(f"{renamed.get('web_url') or ''} | {git_url}")
    for remote in _remotes_of(_name(old) or app, str(old.get("git_url") or "")):
        _git.set_remote(remote, git_url)
        out.echo(f"Git remote {remote} updated")


@click.command("open", cls=ClientCommand)
@with_app
@click.argument("path_suffix", metavar="[PATH]", required=False, default="")
def apps_open(app: str, path_suffix: str) -> None:
    """Print the app's web URL (and open it in a browser when run in a terminal)."""
    session = current_session()
    info: JSONObject = session.client().get(path("/apps/{}", app))
    web_url = str(info.get("web_url") or "")
    if not web_url:
        raise CLIError(f"{app} has no web URL")
    url = urljoin(web_url if web_url.endswith("/") else web_url + "/", path_suffix.lstrip("/"))
    session.output.echo(url)
    open_in_browser(url)


@click.command("maintenance", cls=ClientCommand)
@with_app
def maintenance(app: str) -> None:
    """Show whether the app is in maintenance mode."""
    session = current_session()
    info: JSONObject = session.client().get(path("/apps/{}", app))
    session.output.echo("on" if info.get("maintenance") else "off")


def _set_maintenance(app: str, enabled: bool) -> None:
    session = current_session()
    out = session.output
    verb = "Enabling" if enabled else "Disabling"
    with out.action(f"{verb} maintenance mode for {out.app(app)}"):
        session.client().patch(path("/apps/{}", app), {"maintenance": enabled})


@click.command("maintenance:on", cls=ClientCommand)
@with_app
def maintenance_on(app: str) -> None:
    """Put the app into maintenance mode."""
    _set_maintenance(app, True)


@click.command("maintenance:off", cls=ClientCommand)
@with_app
def maintenance_off(app: str) -> None:
    """Take the app out of maintenance mode."""
    _set_maintenance(app, False)
