"""The interface every dyno runtime implements (runc/crun on this host today, Kubernetes later)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from pyroku.runtime.types import DynoExit, DynoHandle, DynoSpec, DynoStatus, MemoryUsage


@runtime_checkable
class Attachment(Protocol):
    """A one-off dyno's terminal: read/write raw bytes on ``fileno()``; the caller closes it.

    Closing the attachment does not stop the dyno (hang it up with ``stop``).
    """

    def fileno(self) -> int: ...

    def resize(self, rows: int, cols: int) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class ContainerRuntime(Protocol):
    """Runs dynos. Dynos outlive the runtime object: a new one re-adopts what is still running.

    Every dyno started stays listed, running or exited, until :meth:`remove`; each exit is
    reported once per runtime object through :meth:`exits` (exits that happened while no
    runtime object existed are reported by the next one).
    """

    async def start(self, spec: DynoSpec) -> DynoHandle:
        """Start a dyno and return once its command is being launched (not once it is ready)."""
        ...

    async def list(self) -> list[DynoStatus]: ...

    async def status(self, dyno_id: str) -> DynoStatus: ...

    async def stop(self, dyno_id: str, grace: float = 30.0) -> DynoExit:
        """SIGTERM every process of the dyno, SIGKILL what is left after ``grace`` s; wait for the exit.

        ``DynoExit.grace_expired`` tells whether SIGKILL was needed (Heroku's R12).
        """
        ...

    async def kill(self, dyno_id: str) -> DynoExit:
        """SIGKILL every process of the dyno at once and wait for the exit."""
        ...

    async def wait(self, dyno_id: str) -> DynoExit:
        """Wait for the dyno to exit (returns at once for an exited dyno)."""
        ...

    def exits(self) -> AsyncIterator[DynoExit]:
        """Every exit, once, as it happens (one consumer)."""
        ...

    async def remove(self, dyno_id: str) -> None:
        """Forget an exited dyno, freeing what it held; a running one is killed first."""
        ...

    async def memory_usage(self, dyno_id: str) -> MemoryUsage | None:
        """Current memory of a running dyno; ``None`` once it has exited."""
        ...

    async def bound(self, dyno_id: str, port: int) -> bool:
        """Whether a process of the dyno listens on ``port`` where the router can reach it."""
        ...

    async def attach(self, dyno_id: str) -> Attachment:
        """The terminal of a dyno started with ``tty=True``."""
        ...

    async def aclose(self) -> None:
        """Release the runtime object's own resources; dynos keep running."""
        ...
