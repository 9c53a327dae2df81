"""Build output: one append-only file per build, followed live by whoever streams it.

Lines are written as they come (the file is the record ``builds:output`` reads later); readers of
a build still running wait on an event instead of polling the file.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

_ID = re.compile(r"[0-9a-f-]{36}")
_CHUNK: Final = 65536
MAX_OUTPUT_BYTES: Final = 64 * 1024 * 1024  # beyond this, lines are counted, not kept


class BuildLog:
    """The output of one running build. Use from the event loop only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("ab", buffering=0)
        self._changed = asyncio.Event()
        self._size = 0
        self._dropped = 0
        self.finished = False

    def line(self, text: str) -> None:
        data = (text.rstrip("\r\n") + "\n").encode(errors="replace")
        if self._size + len(data) > MAX_OUTPUT_BYTES:
            self._dropped += 1
            return
        self._file.write(data)
        self._size += len(data)
        self._wake()

    def close(self) -> None:
        if self._dropped:
            self._file.write(f"[{self._dropped} more lines were not kept: the output limit is "
                             f"{MAX_OUTPUT_BYTES // 2**20} MB]\n".encode())
        self._file.close()
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Set at the next line written or at close."""
        return self._changed


class BuildOutputs:
    """Every build's output file, and the logs of the builds running now."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._live: dict[str, BuildLog] = {}

    def path(self, build_id: str) -> Path:
        if not _ID.fullmatch(build_id):
            raise ValueError(f"invalid build id {build_id!r}")
        return self.directory / f"{build_id}.log"

    def open(self, build_id: str) -> BuildLog:
        log = BuildLog(self.path(build_id))
        self._live[build_id] = log
        return log

    def live(self, build_id: str) -> BuildLog | None:
        """The log of a build still running."""
        return self._live.get(build_id)

    def close(self, build_id: str) -> None:
        log = self._live.pop(build_id, None)
        if log is not None:
            log.close()

    def remove(self, build_id: str) -> None:
        self.path(build_id).unlink(missing_ok=True)

    async def follow(self, build_id: str, *, live: bool = True) -> AsyncIterator[bytes]:
        """The output so far and, with ``live`` and while the build runs, what comes after."""
        path = self.path(build_id)
        offset = 0
        while True:
            log = self._live.get(build_id)
            waiter = asyncio.ensure_future(log.next_change().wait()) if log is not None and live else None
            try:
                chunk = await asyncio.to_thread(_read_from, path, offset)
                while chunk:
                    offset += len(chunk)
                    yield chunk
                    chunk = await asyncio.to_thread(_read_from, path, offset)
                if waiter is None or log is None or log.finished:
                    return
                await waiter
            finally:
                if waiter is not None:
                    waiter.cancel()


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read(_CHUNK)
    except FileNotFoundError:
        return b""
