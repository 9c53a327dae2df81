"""Runs the router as its own process (so API load never slows traffic), restarts it if it dies.

The router is started in its own session: if the controller crashes the router keeps serving the
last routing table, and the next controller adopts it through its pid file instead of starting a
second one. A clean shutdown of the controller stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("pyroku.server.router")

_RESTART_DELAY = 1.0


class RouterProcess:
    def __init__(self, argv: list[str], pid_file: Path, log_file: Path) -> None:
        self._argv = [sys.executable, "-m", "pyroku.router", *argv]
        self._pid_file = pid_file
        self._log_file = log_file
        self._pid: int | None = None
        self._watch: asyncio.Task[None] | None = None

    def _adoptable(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        return pid if [a.decode() for a in cmdline[: len(self._argv)]] == self._argv else None

    def _spawn(self) -> int:
        with self._log_file.open("ab") as out:
            process = subprocess.Popen(self._argv, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        self._pid_file.write_text(f"{process.pid}\n")
        return process.pid

    async def start(self) -> None:
        self._pid = self._adoptable()
        if self._pid is None:
            self._pid = self._spawn()
        else:
            log.info("adopted the running router (pid %s)", self._pid)
        self._watch = asyncio.ensure_future(self._supervise())

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(_RESTART_DELAY)
            if self._pid is not None and not _alive(self._pid):
                log.warning("the router (pid %s) exited; starting it again", self._pid)
                self._pid = self._spawn()

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGTERM)
        for _ in range(100):
            if not _alive(self._pid):
                break
            await asyncio.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    """True while `pid` runs; reaps it when it is our exited child."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[-1][:1] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False
