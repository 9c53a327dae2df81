"""Runs dynos: OCI containers under runc or crun on this host (Kubernetes later), behind one protocol.

The dyno manager talks to a :class:`ContainerRuntime` in dyno specs and handles only; no host
path, PID or network namespace crosses this interface. :mod:`pyroku.runtime.stack` builds the
stack root filesystem the containers run on. Builds run in build containers from the same stack
through a :class:`BuildRunner` (:class:`RuncBuildRunner` here): one command to completion, output
streamed line by line, host directories mounted, on a network of their own.
"""

from pyroku.runtime._build import (
    BuildContainerExit,
    BuildContainerSpec,
    BuildMount,
    BuildRunner,
    BuildRuntimeConfig,
    RuncBuildRunner,
)
from pyroku.runtime._config import NetworkConfig, RuntimeConfig
from pyroku.runtime._exceptions import (
    ContainerRuntimeError,
    DynoNotFound,
    DynoStartError,
    InvalidDynoSpec,
    NetworkExhausted,
    RuntimeTimeout,
    RuntimeUnavailable,
    StackError,
)
from pyroku.runtime._network import remove_firewall
from pyroku.runtime._protocol import Attachment, ContainerRuntime
from pyroku.runtime._runc import RuncRuntime
from pyroku.runtime.stack import STACK_NAME, StackInfo, ensure_stack
from pyroku.runtime.types import (
    DynoExit,
    DynoHandle,
    DynoSpec,
    DynoState,
    DynoStatus,
    FileLogTarget,
    LogTarget,
    MemoryUsage,
    SyslogLogTarget,
)

__all__ = [
    "STACK_NAME",
    "Attachment",
    "BuildContainerExit",
    "BuildContainerSpec",
    "BuildMount",
    "BuildRunner",
    "BuildRuntimeConfig",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "DynoExit",
    "DynoHandle",
    "DynoNotFound",
    "DynoSpec",
    "DynoStartError",
    "DynoState",
    "DynoStatus",
    "FileLogTarget",
    "InvalidDynoSpec",
    "LogTarget",
    "MemoryUsage",
    "NetworkConfig",
    "NetworkExhausted",
    "RuncBuildRunner",
    "RuncRuntime",
    "RuntimeConfig",
    "RuntimeTimeout",
    "RuntimeUnavailable",
    "StackError",
    "StackInfo",
    "SyslogLogTarget",
    "ensure_stack",
    "remove_firewall",
]
