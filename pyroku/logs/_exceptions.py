"""Errors raised by logplex on purpose; all derive from :class:`LogsError`.

Argument errors also derive from :class:`ValueError` so plain callers can catch them as such; the API
shows them as 422 ``invalid_params`` with the message as is.
"""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class LogsError(PyrokuError):
    """Base class of logplex errors."""


class InvalidLogLine(LogsError, ValueError):
    """A line was published with an app id or source logplex cannot accept."""


class InvalidFilter(LogsError, ValueError):
    """A history query or log session asked for something impossible (e.g. a negative line count)."""


class InvalidDrain(LogsError, ValueError):
    """A drain spec cannot be run."""


class InvalidDrainURL(InvalidDrain):
    """A drain URL has an unsupported scheme or lacks what its scheme needs."""


class TooManyDrains(InvalidDrain):
    """More drains were asked for one app than logplex runs."""


class IngestSocketError(LogsError):
    """The local ingestion socket cannot be created (path too long, or another logplex owns it)."""
