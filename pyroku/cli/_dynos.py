"""``ps``, ``ps:restart``, ``ps:stop``, ``ps:type``, ``run`` and ``run:detached``."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import socket
import sys
import termios
import tty
from collections.abc import Iterator
from urllib.parse import urlsplit

import click

from pyroku.cli._app_resolution import with_app
from pyroku.cli._client import JSONObject, path
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._group import ClientCommand
from pyroku.cli._output import format_size, format_time
from pyroku.cli._session import current_session
from pyroku.rendezvous import EXIT_MARKER, GREETING

__all__ = ["ps", "ps_restart", "ps_stop", "ps_type", "run", "run_detached"]



@click.command("ps", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def ps(app: str, as_json: bool) -> None:
    """List the app's dynos."""
    session = current_session()
    out = session.output
    items: list[JSONObject] = session.client().get(path("/apps/{}/dynos", app))
    if as_json:
        out.json(items)
        return
    if not items:
        out.echo(f"No dynos on {out.app(app)}")
        return
    by_type: dict[str, list[JSONObject]] = {}
    for item in sorted(items, key=lambda d: (str(d.get("type")), _dyno_number(d))):
        by_type.setdefault(str(item.get("type")), []).append(item)
    for kind, dynos in by_type.items():
        first = dynos[0]
        label = "One-off dyno" if kind == "run" else f"{kind} ({format_size(str(first.get('size')))})"
        out.header(label if kind == "run" else f"{label}: {first.get('command')} ({len(dynos)})")
        for d in dynos:
            since = format_time(d.get("updated_at"))
            extra = f": `{d.get('command')}`" if kind == "run" else ""
            out.echo(f"{d.get('name')}: {d.get('state')} {since}{extra}")
        out.echo()


def _dyno_number(item: JSONObject) -> int:
    suffix = str(item.get("name", "")).rpartition(".")[2]
    return int(suffix) if suffix.isdigit() else 0


@click.command("ps:restart", cls=ClientCommand)
@with_app
@click.argument("dyno", required=False)
def ps_restart(app: str, dyno: str | None) -> None:
    """Restart every dyno, the dynos of a type (web), or one dyno (web.1)."""
    session = current_session()
    out = session.output
    what = dyno or "all dynos"
    with out.action(f"Restarting {what} on {out.app(app)}"):
        url = path("/apps/{}/dynos/{}", app, dyno) if dyno else path("/apps/{}/dynos", app)
        session.client().delete(url)


@click.command("ps:stop", cls=ClientCommand)
@with_app
@click.argument("dyno")
def ps_stop(app: str, dyno: str) -> None:
    """Stop a dyno (a formation dyno is replaced at once; scale to 0 to stop for good)."""
    session = current_session()
    out = session.output
    with out.action(f"Stopping {dyno} on {out.app(app)}"):
        session.client().post(path("/apps/{}/dynos/{}/actions/stop", app, dyno), {})


@click.command("ps:type", cls=ClientCommand)
@with_app
@click.argument("changes", nargs=-1, metavar="TYPE=SIZE...")
def ps_type(app: str, changes: tuple[str, ...]) -> None:
    """Show the dyno size of each process type, or change it: web=standard-2x."""
    session = current_session()
    out = session.output
    client = session.client()
    if changes:
        updates = []
        for change in changes:
            kind, sep, size = change.partition("=")
            if not sep or not kind or not size:
                raise InvalidInput(f"Invalid argument {change!r}: expected TYPE=SIZE (e.g. web=standard-2x)")
            updates.append({"type": kind, "size": size})
        client.patch(path("/apps/{}/formation", app), {"updates": updates})
    formation: list[JSONObject] = client.get(path("/apps/{}/formation", app))
    out.table([[str(f.get("type")), format_size(str(f.get("size"))), str(f.get("quantity"))]
               for f in sorted(formation, key=lambda f: str(f.get("type")))],
              headers=["Type", "Size", "Qty"])


def _terminal_env() -> dict[str, str]:
    columns, lines = shutil.get_terminal_size()
    return {"TERM": os.environ.get("TERM", "xterm"), "COLUMNS": str(columns), "LINES": str(lines)}


@click.command("run", cls=ClientCommand, context_settings={"ignore_unknown_options": True})
@with_app
@click.option("-s", "--size", help="Dyno size (e.g. standard-2x).")
@click.option("-e", "--env", "env", multiple=True, help="KEY=VALUE for this dyno only (repeatable).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(app: str, size: str | None, env: tuple[str, ...], command: tuple[str, ...]) -> None:
    """Run a one-off dyno attached to this terminal: `pyroku run bash`, `pyroku run -- python manage.py migrate`.

    The command's exit status becomes pyroku's."""
    session = current_session()
    out = session.output
    body: JSONObject = {"command": " ".join(command), "attach": True, "env": {**_terminal_env(), **_pairs(env)}}
    if size:
        body["size"] = size
    dyno = session.client().post(path("/apps/{}/dynos", app), body)
    click.echo(f"Running `{body['command']}` on {out.app(app)}... up, {dyno.get('name')}", err=True)
    status = _attach(str(dyno.get("attach_url") or ""))
    sys.exit(status)


@click.command("run:detached", cls=ClientCommand, context_settings={"ignore_unknown_options": True})
@with_app
@click.option("-s", "--size", help="Dyno size (e.g. standard-2x).")
@click.option("-e", "--env", "env", multiple=True, help="KEY=VALUE for this dyno only (repeatable).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run_detached(app: str, size: str | None, env: tuple[str, ...], command: tuple[str, ...]) -> None:
    """Run a one-off dyno in the background; its output goes to the logs."""
    session = current_session()
    out = session.output
    body: JSONObject = {"command": " ".join(command), "attach": False, "env": _pairs(env)}
    if size:
        body["size"] = size
    with out.action(f"Running `{body['command']}` on {out.app(app)}") as result:
        dyno = session.client().post(path("/apps/{}/dynos", app), body)
        result.suffix = f"up, {dyno.get('name')}"
    out.echo(f"Run pyroku logs --app {app} --dyno {dyno.get('name')} to view the output.")


def _pairs(items: tuple[str, ...]) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"Invalid --env {item!r}: expected KEY=VALUE")
        pairs[key] = value
    return pairs


@contextlib.contextmanager
def _raw_terminal() -> Iterator[None]:
    """Keystrokes (Ctrl-C included) go to the dyno untouched while attached to a terminal."""
    if not sys.stdin.isatty():
        yield
        return
    saved = termios.tcgetattr(sys.stdin.fileno())
    tty.setraw(sys.stdin.fileno())
    try:
        yield
    finally:
        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)


def _attach(url: str) -> int:
    """Pipe this terminal to the dyno's until it exits; returns its exit status."""
    parts = urlsplit(url)
    if parts.scheme != "rendezvous" or not parts.hostname or not parts.port:
        raise CLIError(f"The API gave an unusable attach URL: {url!r}")
    try:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    except OSError as exc:
        raise CLIError(f"Cannot attach to the dyno at {parts.hostname}:{parts.port}: {exc.strerror or exc}") from exc
    with sock, _raw_terminal():
        sock.sendall(parts.path.lstrip("/").encode() + b"\r\n")
        sock.settimeout(None)
        return _relay(sock)


def _relay(sock: socket.socket) -> int:
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    stdin_open = True
    try:
        selector.register(sys.stdin.fileno(), selectors.EVENT_READ)
    except (ValueError, OSError):  # stdin closed or not selectable
        stdin_open = False
    pending = b""
    greeted = False
    status = 0
    stdout = sys.stdout.buffer
    while True:
        for key, _ in selector.select():
            if key.fileobj is sock:
                data = sock.recv(65536)
                if not data:
                    stdout.write(pending)
                    stdout.flush()
                    return status
                pending += data
                if not greeted:
                    if b"\n" not in pending:
                        continue
                    first, pending = pending.split(b"\n", 1)
                    if first + b"\n" != GREETING:
                        raise CLIError("The dyno's terminal answered unexpectedly.")
                    greeted = True
                shown, pending, found = _split_marker(pending)
                if found is not None:
                    status = found
                stdout.write(shown)
                stdout.flush()
            elif stdin_open:
                chunk = os.read(sys.stdin.fileno(), 65536)
                if not chunk:  # end of piped input: end-of-file for the program in the dyno
                    selector.unregister(sys.stdin.fileno())
                    stdin_open = False
                    sock.sendall(b"\x04")
                    continue
                sock.sendall(chunk)


def _split_marker(data: bytes) -> tuple[bytes, bytes, int | None]:
    """Output to show now, output held back (a possible start of the exit marker), and the exit
    status once the marker line has arrived."""
    at = data.find(EXIT_MARKER[:3])
    if at < 0:
        return data, b"", None
    tail = data[at:]
    if not EXIT_MARKER.startswith(tail[: len(EXIT_MARKER)]):
        return data, b"", None  # not the marker after all
    if b"\n" not in tail:
        return data[:at], tail, None
    line, rest = tail.split(b"\n", 1)
    value = line[len(EXIT_MARKER):].strip()
    status = int(value) if value.isdigit() else 1
    return data[:at] + rest, b"", status
