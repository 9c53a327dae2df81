"""Errors of the container runtime; runc, ip, nft and subprocess failures are translated here."""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class ContainerRuntimeError(PyrokuError):
    """Root of the runtime's errors."""


class RuntimeUnavailable(ContainerRuntimeError):
    """The host cannot run dynos: runc/crun, tini or nft missing, not root, unusable cgroups."""


class DynoNotFound(ContainerRuntimeError, KeyError):
    """No dyno with that id is known to this runtime."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "dyno not found"


class InvalidDynoSpec(ContainerRuntimeError, ValueError):
    """A dyno spec the runtime refuses (bad name, env var, command, port)."""


class DynoStartError(ContainerRuntimeError):
    """The dyno could not be started (slug, network, container creation)."""


class NetworkExhausted(DynoStartError):
    """Every address of the dyno subnet is leased."""


class RuntimeTimeout(ContainerRuntimeError, TimeoutError):
    """A runtime operation did not finish in time."""


class StackError(ContainerRuntimeError):
    """The stack image could not be built or is unusable."""
