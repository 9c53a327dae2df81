"""The platform side of the ``pre-receive`` hook: a Unix socket where pushes become builds.

The git endpoint registers every receive-pack request it passes to ``git http-backend`` and hands
the secret to the hook through the environment; the hook connects here with it. Only ``main`` and
``master`` deploy; other refs, deletions and two branches at once are refused before anything is
built. Pushes to one app deploy one at a time: a push holds the app's lock from its build until its
HTTP request ends (git has then updated the ref), and a push whose branch moved meanwhile is
refused. The build's output goes back line by line; its outcome becomes the hook's exit status,
so a failed build leaves the ref (and the running release) as they were. A pusher who goes away
cancels the build.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pyroku.build import BuildError, BuildOutcome, BuildRequest, BuildService, GitSource
from pyroku.git._repos import DEPLOY_BRANCHES, Repositories

log = logging.getLogger("pyroku.git")

ZERO: Final = "0" * 40
_MAX_REQUEST: Final = 1 << 20
_PASSED_ENV: Final = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")
_FAILED: Final = " !     "


@dataclass(frozen=True)
class Pusher:
    """Who is pushing to which app, as the git endpoint authenticated them."""

    app_id: str
    app_name: str
    user_id: str
    email: str


class PushReceiver:
    def __init__(self, socket_path: Path, repositories: Repositories, builds: BuildService) -> None:
        self.socket_path = socket_path
        self._repos = repositories
        self._builds = builds
        self._pushes: dict[str, Pusher] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # per app: one push deploys at a time
        self._held: dict[str, asyncio.Lock] = {}  # push secret → the app lock it holds
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.socket_path),
                                                       limit=_MAX_REQUEST)
        os.chmod(self.socket_path, 0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        self.socket_path.unlink(missing_ok=True)

    def register(self, pusher: Pusher) -> str:
        secret = secrets.token_urlsafe(24)
        self._pushes[secret] = pusher
        return secret

    def unregister(self, secret: str) -> None:
        """The push's request is over: git has updated its ref or given up, so the app's next push may go."""
        self._pushes.pop(secret, None)
        lock = self._held.pop(secret, None)
        if lock is not None:
            lock.release()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(text: str) -> None:
            if not writer.is_closing():
                writer.write(b"L" + text.replace("\n", " ").encode(errors="replace") + b"\n")

        status = 1
        try:
            try:
                request = json.loads(await reader.readline())
            except (ValueError, asyncio.LimitOverrunError):
                request = None
            pusher = self._pushes.get(str(request.get("secret", ""))) if isinstance(request, dict) else None
            if pusher is None or not isinstance(request, dict):
                say(_FAILED + "This push is not known to the platform.")
            else:
                status = await self._push(str(request["secret"]), pusher, request, say, reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except Exception:
            log.exception("handling a push failed")
            say(_FAILED + "The platform failed while handling this push; try again.")
        with contextlib.suppress(ConnectionError, RuntimeError):
            writer.write(f"X{status}\n".encode())
            await writer.drain()
            writer.close()

    async def _push(
        self, secret: str, pusher: Pusher, request: dict[str, Any], say: Any, reader: asyncio.StreamReader
    ) -> int:
        updates = [u for u in request.get("updates", []) if isinstance(u, list) and len(u) == 3]
        problem = _refused(updates)
        if problem is not None:
            for line in problem:
                say(_FAILED + line)
            return 1
        old, new, ref = updates[0]
        branch = ref.removeprefix("refs/heads/")
        env = {k: str(v) for k, v in dict(request.get("env", {})).items() if k in _PASSED_ENV}
        repository = self._repos.path(pusher.app_id)
        build = BuildRequest(
            app_id=pusher.app_id, user_id=pusher.user_id, source=GitSource(repository, new, env),
            source_version=new,
        )

        lock = self._locks.setdefault(pusher.app_id, asyncio.Lock())
        if lock.locked():
            say("-----> Another build of this app is running: this one waits for it to finish")
        await lock.acquire()
        # held until this push's HTTP request ends, when git has updated (or not) the ref
        self._held[secret] = lock
        current = await asyncio.to_thread(self._repos.head, pusher.app_id, ref)
        if (current or ZERO) != old:
            say(_FAILED + f"{branch} changed while this push waited (another push was deployed first).")
            say(_FAILED + "Fetch, merge and push again.")
            return 1

        try:
            build_id = await self._builds.create(build)
        except BuildError as exc:
            say(_FAILED + str(exc))
            return 1
        task = asyncio.ensure_future(self._builds.execute(build_id, build, say))
        gone = asyncio.ensure_future(reader.read(1))  # the hook sends nothing more: EOF means it is gone
        done, _ = await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        if task not in done:
            log.info("pusher of %s went away: cancelling build %s", pusher.app_name, build_id)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            return 1
        gone.cancel()
        outcome: BuildOutcome = task.result()
        if not outcome.succeeded:
            say(_FAILED + f"Push rejected to {pusher.app_name}: nothing was deployed.")
            return 1
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._repos.set_default_branch, pusher.app_id, ref)
        return 0


def _refused(updates: list[list[str]]) -> list[str] | None:
    """Why a push cannot deploy, or None when it is one update of main or master."""
    if not updates:
        return ["Nothing to deploy."]
    others = [u[2] for u in updates if u[2] not in DEPLOY_BRANCHES]
    if others:
        names = ", ".join(r.removeprefix("refs/heads/") for r in others)
        return [f"Pushing {names} is not supported: only main or master deploy.",
                "Deploy another branch with: git push pyroku <branch>:main"]
    if len(updates) > 1:
        return ["Push main or master, not both at once."]
    if updates[0][1] == ZERO:
        return [f"Deleting {updates[0][2].removeprefix('refs/heads/')} is not supported."]
    return None
