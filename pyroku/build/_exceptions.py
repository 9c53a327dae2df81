"""Errors of the slug compiler. ``BuildFailed`` and its subclasses are the user's to fix (their
message is shown as it is); anything else is the platform's."""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class BuildError(PyrokuError):
    """Root of the build's errors."""


class BuildFailed(BuildError):
    """The build ran and failed for a reason the app's owner can act on."""


class ProcfileError(BuildFailed):
    """The Procfile cannot be parsed; the message names the line."""


class NoProcessTypes(BuildFailed):
    """Neither a Procfile nor the buildpacks define any process type."""


class SlugTooLarge(BuildFailed):
    """The compressed slug is over the hard limit."""


class CompileFailed(BuildFailed):
    """A buildpack script failed (detect, compile or release) or a buildpack could not be fetched."""


class InvalidBuildpack(BuildFailed):
    """A buildpack URL or name the platform cannot use."""


class SourceError(BuildFailed):
    """The source could not be fetched or unpacked."""


class BuildTimeout(BuildFailed, TimeoutError):
    """The compile ran over the time limit and was stopped."""


class BuildBusy(BuildError):
    """Another build of the app is running and the caller chose not to wait."""


class BuildsUnavailable(BuildError):
    """This server cannot run builds (no container runtime)."""
