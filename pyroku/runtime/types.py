"""Wire types of the container runtime: what the dyno manager asks for and what it gets back.

Nothing here names a host path, PID or network namespace: a Kubernetes backend returns the same
types. Log targets are plain data because dyno output is relayed by a supervisor process that
outlives the controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from pyroku.sizes import DEFAULT_SIZE, DynoSize


@dataclass(frozen=True, slots=True)
class SyslogLogTarget:
    """Ship each output line as an RFC 5424 frame (octet-counted) to logplex's Unix stream socket.

    Frames are ``<190>1 <ts> <app_id> app <dyno_name> - - <line>``: HOST is the app id, as the
    ingestion socket of ``pyroku.logs`` expects.
    """

    socket_path: str


@dataclass(frozen=True, slots=True)
class FileLogTarget:
    """Append ``<RFC 3339 timestamp> <dyno_name>: <line>`` lines to a file (debugging, tests, benchmarks)."""

    path: str


LogTarget = SyslogLogTarget | FileLogTarget | None
"""Where a dyno's merged stdout/stderr goes; ``None`` drops it (attached one-off dynos use ``attach``)."""


@dataclass(frozen=True)
class DynoSpec:
    """Everything needed to run one dyno.

    ``dyno_name`` is ``<type>.<n>`` (``web.1``, ``run.4821``). ``port`` is the ``$PORT`` a web dyno
    must bind inside its own network namespace (every dyno has its own, so all may use the same
    number); ``None`` for dynos that serve nothing. ``tty`` gives the dyno a terminal reachable
    through :meth:`ContainerRuntime.attach` instead of sending its output to ``log_target``.
    """

    app_id: str
    app_name: str
    dyno_name: str
    release_version: int
    slug_id: str
    slug_checksum: str
    command: str
    env: Mapping[str, str] = field(default_factory=dict)
    size: DynoSize = DEFAULT_SIZE
    port: int | None = None
    tty: bool = False
    log_target: LogTarget = None

    @property
    def process_type(self) -> str:
        return self.dyno_name.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class DynoHandle:
    """A started dyno. ``address`` is where the router sends requests (web dynos), else ``None``."""

    id: str
    dyno_name: str
    address: tuple[str, int] | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class MemoryUsage:
    """Memory charged to a dyno, in bytes (``rss`` includes tmpfs writes: they are the dyno's memory)."""

    rss: int
    cache: int
    swap: int
    limit: int

    @property
    def total(self) -> int:
        """RSS + swap + cache, the figure Heroku's R14 uses."""
        return self.rss + self.cache + self.swap


ExitReason = Literal["exited", "stopped", "killed", "lost"]


@dataclass(frozen=True, slots=True)
class DynoExit:
    """How a dyno ended.

    ``status`` is what Heroku prints in "Process exited with status N": the command's exit code,
    or 128 + signal number (143 after SIGTERM, 137 after SIGKILL); ``None`` when unknown (``lost``:
    the supervisor died without recording it). ``reason`` is ``stopped`` after :meth:`stop`,
    ``killed`` after :meth:`kill`, else ``exited``. ``grace_expired`` is true when a stop had to
    fall back to SIGKILL (Heroku's R12). ``oom_killed`` is true when the kernel killed a process of
    the dyno for exceeding its memory limit. ``max_memory`` is the peak usage in bytes, if known.
    """

    id: str
    dyno_name: str
    app_id: str
    status: int | None
    reason: ExitReason
    oom_killed: bool
    grace_expired: bool
    exited_at: datetime
    max_memory: int | None = None


DynoState = Literal["running", "exited"]


@dataclass(frozen=True, slots=True)
class DynoStatus:
    """One dyno as :meth:`ContainerRuntime.list` sees it."""

    id: str
    app_id: str
    app_name: str
    dyno_name: str
    release_version: int
    state: DynoState
    started_at: datetime
    address: tuple[str, int] | None
    exit: DynoExit | None = None
    memory: MemoryUsage | None = None
