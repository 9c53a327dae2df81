"""Watching the routing table file: a cheap ``stat`` every ~250 ms, a reload when it changed.

A missing, unreadable or malformed file never replaces the table being served; the problem is
logged once per distinct file version and the watcher keeps looking.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

from pyroku.router._exceptions import RoutingTableError
from pyroku.router.table import RoutingTable, load

logger = logging.getLogger("pyroku.router")

_Signature = tuple[int, int, int, int]


class TableWatcher:
    """Calls ``on_table`` with every new valid version of the file at ``path``."""

    def __init__(self, path: Path, on_table: Callable[[RoutingTable], None], interval: float = 0.25) -> None:
        self._path = path
        self._on_table = on_table
        self._interval = interval
        self._seen: _Signature | None = None
        self._missing_reported = False
        self._timer: asyncio.TimerHandle | None = None
        self.reloads = 0
        self.errors = 0

    def _signature(self) -> _Signature | None:
        try:
            st = os.stat(self._path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size, st.st_ctime_ns)

    def check(self) -> bool:
        """Reload when the file changed; True when a new table was applied."""
        signature = self._signature()
        if signature is None:
            if not self._missing_reported:
                self._missing_reported = True
                logger.warning("routing table %s is missing; serving the last one", self._path)
            return False
        self._missing_reported = False
        if signature == self._seen:
            return False
        self._seen = signature
        try:
            table = load(self._path)
        except RoutingTableError as exc:
            self.errors += 1
            logger.warning("%s; serving the last good table", exc)
            return False
        self.reloads += 1
        self._on_table(table)
        return True

    def start(self) -> None:
        self.check()
        self._schedule()

    def _schedule(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(self._interval, self._tick)

    def _tick(self) -> None:
        try:
            self.check()
        except Exception:  # never let a bug stop the watching
            logger.exception("checking the routing table failed")
        self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
