"""Smart HTTP git at ``/<app>.git/...``: authentication here, the protocol by ``git http-backend``.

An ASGI application. Credentials are HTTP Basic with the API token as password (any user name),
as ``~/.netrc`` written by ``pyroku login`` provides them. Without credentials the answer is 401
(git then looks for them); with a token that is not valid, 401; with a valid token for an app the
user may not see (or that does not exist), 404 with the same message either way. Only the smart
protocol's three endpoints exist. Each request runs one ``git http-backend`` (CGI) whose output
is streamed back as it comes, so a push sees its build's output live.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import re
import shutil
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from starlette.types import Message, Receive, Scope, Send

from pyroku.git._exceptions import RepositoryError
from pyroku.git._receiver import Pusher, PushReceiver
from pyroku.git._repos import Repositories
from pyroku.state import Database, NotFound, Unauthorized, authenticate, find_app

log = logging.getLogger("pyroku.git")

PATH: Final = re.compile(r"^/(?P<app>[a-z][a-z0-9-]{0,29})\.git(?P<rest>/.*)$")
_SERVICES: Final = {
    ("GET", "/info/refs"),
    ("POST", "/git-upload-pack"),
    ("POST", "/git-receive-pack"),
}
_CHUNK: Final = 65536
_REALM: Final = b'Basic realm="Pyroku"'


@dataclass(frozen=True)
class _Caller:
    user_id: str
    email: str
    app_id: str
    app_name: str


def is_git_path(path: str) -> bool:
    return PATH.match(path) is not None


class GitEndpoint:
    def __init__(
        self,
        db: Database,
        repositories: Repositories,
        receiver: PushReceiver,
        *,
        rate_limit: Callable[[str], bool] = lambda _key: True,
    ) -> None:
        self._db = db
        self._repos = repositories
        self._receiver = receiver
        self._rate_limit = rate_limit
        git = shutil.which("git")
        if git is None:
            raise RuntimeError("git is not installed")
        self._backend = [git, "http-backend"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        match = PATH.match(scope["path"])
        method = scope["method"]
        if match is None or (method, match["rest"]) not in _SERVICES:
            await _plain(send, 404, "Not found: only the smart HTTP protocol is served here.\n")
            return
        query = scope.get("query_string", b"").decode("latin-1")
        service = match["rest"].lstrip("/") if method == "POST" else _service(query)
        if service not in ("git-upload-pack", "git-receive-pack"):
            await _plain(send, 403, "Only smart HTTP clients are supported (git 1.6.6 or later).\n")
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        token = _basic_password(headers.get("authorization", ""))
        if not token:
            await _plain(send, 401, "Authentication required: log in with `pyroku login`.\n",
                         [(b"www-authenticate", _REALM)])
            return
        try:
            caller = await asyncio.to_thread(self._authorize, token, match["app"])
        except Unauthorized:
            await _plain(send, 401, "Invalid credentials: log in again with `pyroku login`.\n",
                         [(b"www-authenticate", _REALM)])
            return
        except NotFound:
            await _plain(send, 404, "Couldn't find that app.\n")
            return
        if not self._rate_limit(caller.user_id):
            await _plain(send, 429, "Too many git requests; try again later.\n")
            return
        try:
            await asyncio.to_thread(self._repos.ensure, caller.app_id)
        except RepositoryError:
            log.exception("cannot create the repository of %s", caller.app_name)
            await _plain(send, 500, "The app's repository could not be created; try again later.\n")
            return
        secret = None
        if method == "POST" and service == "git-receive-pack":
            secret = self._receiver.register(Pusher(caller.app_id, caller.app_name, caller.user_id, caller.email))
        try:
            await self._run_backend(scope, receive, send, headers, caller, match["rest"], query, secret)
        finally:
            if secret is not None:
                self._receiver.unregister(secret)

    def _authorize(self, token: str, app_name: str) -> _Caller:
        with self._db.read() as session:
            user = authenticate(session, token).user
            app = find_app(session, user, app_name)
            return _Caller(user.id, user.email, app.id, app.name)

    async def _run_backend(
        self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], caller: _Caller,
        rest: str, query: str, secret: str | None,
    ) -> None:
        env = dict(self._repos.env)
        env.update(
            GIT_PROJECT_ROOT=str(self._repos.root),
            GIT_HTTP_EXPORT_ALL="1",
            PATH_INFO=f"/{self._repos.relative(caller.app_id)}{rest}",
            REQUEST_METHOD=scope["method"],
            QUERY_STRING=query,
            REMOTE_USER=caller.email,
            REMOTE_ADDR=(scope.get("client") or ("127.0.0.1", 0))[0],
            CONTENT_TYPE=headers.get("content-type", ""),
            PYROKU_GIT_SOCKET=str(self._receiver.socket_path),
            GIT_HTTP_MAX_REQUEST_BUFFER="100M",
        )
        if "content-length" in headers:
            env["CONTENT_LENGTH"] = headers["content-length"]
        if "content-encoding" in headers:
            env["HTTP_CONTENT_ENCODING"] = headers["content-encoding"]
        if "git-protocol" in headers:
            env["GIT_PROTOCOL"] = headers["git-protocol"]
        if secret is not None:
            env["PYROKU_PUSH_SECRET"] = secret
        proc = await asyncio.create_subprocess_exec(
            *self._backend, env=env, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        disconnected = asyncio.Event()
        feeding = asyncio.ensure_future(_feed(receive, proc.stdin, disconnected))
        errors = asyncio.ensure_future(proc.stderr.read())
        responding = asyncio.ensure_future(_respond(proc.stdout, send))
        try:
            waiter = asyncio.ensure_future(disconnected.wait())
            done, _ = await asyncio.wait({responding, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if responding not in done:  # the client went away: stop the backend (and the push's build)
                responding.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
                await responding
        finally:
            feeding.cancel()
            if proc.returncode is None and disconnected.is_set():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # receive-pack and its hook too
            await proc.wait()
            stderr = await errors
            if stderr.strip():
                log.info("git http-backend (%s): %s", caller.app_name, stderr.decode(errors="replace").strip())


def _service(query: str) -> str:
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "service":
            return value
    return ""


def _basic_password(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    _user, sep, password = decoded.partition(":")
    return password if sep else ""


async def _feed(receive: Receive, stdin: asyncio.StreamWriter, disconnected: asyncio.Event) -> None:
    """Copy the request body into the backend, then keep listening for the client leaving."""
    body_done = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            disconnected.set()
            break
        if body_done:
            continue
        chunk = message.get("body", b"")
        try:
            if chunk:
                stdin.write(chunk)
                await stdin.drain()
            if not message.get("more_body", False):
                body_done = True
                stdin.close()
        except (ConnectionError, OSError):
            body_done = True
    with contextlib.suppress(Exception):
        stdin.close()


async def _respond(stdout: asyncio.StreamReader, send: Callable[[Message], Awaitable[None]]) -> None:
    """The CGI response: headers (``Status:`` sets the status) then the body, streamed."""
    status = 200
    headers: list[tuple[bytes, bytes]] = []
    while True:
        line = await stdout.readline()
        if not line or line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
        if name.lower() == "status":
            with contextlib.suppress(ValueError):
                status = int(value.strip().split()[0])
        else:
            headers.append((name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    while chunk := await stdout.read(_CHUNK):
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _plain(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})
