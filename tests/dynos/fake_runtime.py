"""FakeRuntime: an in-memory ContainerRuntime for fast, clock-driven tests of the manager's policy
(boot timeouts, backoff, cycling). It is a test double, named as such; the manager is also tested
against the real runc runtime in tests/dynos/test_runc_manager.py."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyroku.runtime import Attachment, DynoExit, DynoHandle, DynoSpec, DynoStatus, MemoryUsage


@dataclass
class FakeDyno:
    spec: DynoSpec
    id: str
    running: bool = True
    bound: bool = True
    memory: int = 0
    exit: DynoExit | None = None
    stop_grace_expires: bool = False
    events: list[str] = field(default_factory=list)


class FakeRuntime:
    def __init__(self) -> None:
        self.dynos: dict[str, FakeDyno] = {}
        self.calls: list[str] = []
        self.bind_on_start = True
        self._ids = itertools.count(1)
        self._exits: asyncio.Queue[DynoExit] = asyncio.Queue()

    def running(self, app_id: str | None = None) -> list[FakeDyno]:
        return [d for d in self.dynos.values() if d.running and (app_id is None or d.spec.app_id == app_id)]

    def names(self, app_id: str) -> list[str]:
        return sorted(d.spec.dyno_name for d in self.running(app_id))

    def _end(self, dyno: FakeDyno, status: int, reason: str, *, oom: bool = False, grace: bool = False) -> DynoExit:
        dyno.running = False
        dyno.exit = DynoExit(dyno.id, dyno.spec.dyno_name, dyno.spec.app_id, status, reason,  # type: ignore[arg-type]
                             oom, grace, datetime.now(UTC))
        return dyno.exit

    def crash(self, dyno_id: str, status: int = 1, *, oom: bool = False) -> None:
        """The dyno's process exits on its own."""
        self._exits.put_nowait(self._end(self.dynos[dyno_id], status, "exited", oom=oom))

    async def start(self, spec: DynoSpec) -> DynoHandle:
        dyno_id = f"d{next(self._ids)}"
        self.dynos[dyno_id] = FakeDyno(spec, dyno_id, bound=self.bind_on_start)
        self.calls.append(f"start {spec.dyno_name} v{spec.release_version}")
        address = ("10.0.0.2", spec.port) if spec.port else None
        return DynoHandle(dyno_id, spec.dyno_name, address, datetime.now(UTC))

    async def list(self) -> list[DynoStatus]:
        return [
            DynoStatus(d.id, d.spec.app_id, d.spec.app_name, d.spec.dyno_name, d.spec.release_version,
                       "running" if d.running else "exited", datetime.now(UTC),
                       ("10.0.0.2", d.spec.port) if d.spec.port else None, d.exit)
            for d in self.dynos.values()
        ]

    async def status(self, dyno_id: str) -> DynoStatus:
        return next(s for s in await self.list() if s.id == dyno_id)

    async def stop(self, dyno_id: str, grace: float = 30.0) -> DynoExit:
        dyno = self.dynos[dyno_id]
        self.calls.append(f"stop {dyno.spec.dyno_name} v{dyno.spec.release_version}")
        if dyno.stop_grace_expires:
            return self._end(dyno, 137, "stopped", grace=True)
        return self._end(dyno, 143, "stopped")

    async def kill(self, dyno_id: str) -> DynoExit:
        dyno = self.dynos[dyno_id]
        self.calls.append(f"kill {dyno.spec.dyno_name}")
        return self._end(dyno, 137, "killed")

    async def wait(self, dyno_id: str) -> DynoExit:
        raise NotImplementedError

    async def exits(self) -> AsyncIterator[DynoExit]:
        while True:
            yield await self._exits.get()

    async def remove(self, dyno_id: str) -> None:
        self.dynos.pop(dyno_id, None)

    async def memory_usage(self, dyno_id: str) -> MemoryUsage | None:
        dyno = self.dynos.get(dyno_id)
        if dyno is None or not dyno.running:
            return None
        return MemoryUsage(dyno.memory, 0, 0, dyno.spec.size.memory_mb * 2**20)

    async def bound(self, dyno_id: str, port: int) -> bool:
        return self.dynos[dyno_id].bound

    async def attach(self, dyno_id: str) -> Attachment:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None
