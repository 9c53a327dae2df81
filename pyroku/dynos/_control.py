"""The dyno manager as the API's threads call it: each call runs on the manager's loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from pyroku.dynos._manager import DynoManager, DynoView
from pyroku.dynos._rendezvous import Rendezvous
from pyroku.sizes import DynoSize

T = TypeVar("T")

_TIMEOUT = 120.0


class DynoControl:
    def __init__(self, manager: DynoManager, loop: asyncio.AbstractEventLoop, rendezvous: Rendezvous) -> None:
        self._manager = manager
        self._loop = loop
        self._rendezvous = rendezvous

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_TIMEOUT)

    async def _list(self, app_id: str) -> list[DynoView]:
        return self._manager.dynos(app_id)

    def list(self, app_id: str) -> list[DynoView]:
        return self._call(self._list(app_id))

    def restart(self, app_id: str, target: str | None) -> None:
        """Checks the target now; the restart itself carries on after the call returns."""
        self._call(self._start_restart(app_id, target))

    async def _start_restart(self, app_id: str, target: str | None) -> None:
        self._manager.check(app_id, target)
        self._manager.spawn(self._manager.restart(app_id, target))

    def stop(self, app_id: str, target: str) -> None:
        self._call(self._start_stop(app_id, target))

    async def _start_stop(self, app_id: str, target: str) -> None:
        self._manager.check(app_id, target)
        self._manager.spawn(self._manager.stop(app_id, target))

    def run(
        self, app_id: str, command: str, *, size: DynoSize | None, attach: bool, env: dict[str, str],
        time_to_live: float | None,
    ) -> tuple[DynoView, str | None]:
        return self._call(self._manager.run(
            app_id, command, size=size, attach=attach, env=env, time_to_live=time_to_live,
            rendezvous=self._rendezvous,
        ))

    def app_changed(self, app_id: str) -> None:
        self._manager.app_changed(app_id)
