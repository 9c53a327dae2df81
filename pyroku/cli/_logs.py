"""``logs`` and ``drains``: read an app's log stream, and send it elsewhere."""

from __future__ import annotations

import re
import zlib

import click
import httpx

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import JSONObject, path
from pyroku.cli._exceptions import LogStreamError
from pyroku.cli._group import ClientCommand
from pyroku.cli._output import Output
from pyroku.cli._session import current_session

__all__ = ["drains", "drains_add", "drains_remove", "logs", "stream_log"]

_PREFIX = re.compile(r"^(\S+ )(\w+)\[([^\]]*)\]:")
_COLOURS = ("cyan", "green", "yellow", "blue", "magenta", "bright_cyan", "bright_green", "bright_blue")


def colourise(line: str, out: Output) -> str:
    """Colour the `source[process]:` part per process, as Heroku's CLI does on a terminal."""
    match = _PREFIX.match(line)
    if not out.color or not match:
        return line
    stamp, source, process = match.groups()
    if source == "heroku":
        colour = "red" if process != "router" else "bright_black"
    else:
        colour = _COLOURS[zlib.crc32(process.split(".")[0].encode()) % len(_COLOURS)]
    return stamp + click.style(f"{source}[{process}]:", fg=colour) + line[match.end():]


@click.command("logs", cls=ClientCommand)
@with_app
@click.option("-n", "--num", type=click.IntRange(1, 1500), default=100, show_default=True,
              help="Number of lines to show.")
@click.option("-t", "--tail", is_flag=True, help="Keep showing new lines until interrupted.")
@click.option("-s", "--source", type=click.Choice(["app", "heroku"]), help="Only lines from this source.")
@click.option("-d", "--dyno", "--ps", "dyno", help="Only this dyno (web.1) or process type (web).")
def logs(app: str, num: int, tail: bool, source: str | None, dyno: str | None) -> None:
    """Show the app's recent log lines (with --tail, follow them)."""
    session = current_session()
    body: JSONObject = {"lines": num, "tail": tail}
    if source:
        body["source"] = source
    if dyno:
        body["dyno"] = dyno
    log_session = session.client().post(path("/apps/{}/log-sessions", app), body)
    stream_log(str(log_session["logplex_url"]), session.output, follow=tail)


def stream_log(url: str, out: Output, *, follow: bool, what: str = "log stream") -> None:
    """Print a stream's lines (log lines coloured on a terminal); with `follow`, until it ends."""
    timeout = httpx.Timeout(30.0, read=None if follow else 30.0)
    try:
        with httpx.stream("GET", url, timeout=timeout, headers={"Accept": "text/plain"}) as response:
            if response.status_code != 200:
                raise LogStreamError(f"The {what} answered {response.status_code}; try again.")
            for line in response.iter_lines():
                out.echo(colourise(line, out))
    except httpx.TransportError as exc:
        raise LogStreamError(f"The {what} was interrupted: {exc}") from exc


@click.command("drains", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def drains(app: str, as_json: bool) -> None:
    """List the app's log drains."""
    session = current_session()
    items: list[JSONObject] = session.client().get(path("/apps/{}/log-drains", app))
    if as_json:
        session.output.json(items)
        return
    session.output.header("Drains")
    session.output.table([[str(d.get("url")), f"({d.get('token')})"] for d in items])


@click.command("drains:add", cls=ClientCommand)
@with_app
@click.argument("url")
def drains_add(app: str, url: str) -> None:
    """Send the app's logs to URL (syslog://, syslog+tls:// or https://)."""
    session = current_session()
    drain = session.client().post(path("/apps/{}/log-drains", app), {"url": url})
    session.output.echo(f"Successfully added drain {drain.get('url')}")


@click.command("drains:remove", cls=ClientCommand)
@with_app
@click.argument("url_or_id")
def drains_remove(app: str, url_or_id: str) -> None:
    """Stop sending the app's logs to the drain with this URL or id."""
    session = current_session()
    drain = session.client().delete(path("/apps/{}/log-drains/{}", app, url_or_id))
    session.output.echo(f"Successfully removed drain {drain.get('url')}")
