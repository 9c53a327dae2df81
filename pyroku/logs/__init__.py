"""Logplex: the per-app log router.

The API server holds one :class:`Logplex`, starts it on its event loop, mounts :meth:`Logplex.asgi_app`
at ``/log-stream`` and calls :meth:`~Logplex.publish`, :meth:`~Logplex.history`,
:meth:`~Logplex.create_session`, :meth:`~Logplex.set_drains` and :meth:`~Logplex.forget`. Other
processes ship lines over the local socket with :class:`SyslogWriter`.
"""

from pyroku.logs._drain_url import new_drain_token, validate_drain_url
from pyroku.logs._drains import DrainSettings
from pyroku.logs._exceptions import (
    IngestSocketError,
    InvalidDrain,
    InvalidDrainURL,
    InvalidFilter,
    InvalidLogLine,
    LogsError,
    TooManyDrains,
)
from pyroku.logs._lines import format_line, split_message
from pyroku.logs._logplex import Logplex
from pyroku.logs._shipper import SyslogWriter
from pyroku.logs.types import (
    DEFAULT_LINES,
    HISTORY_LINES,
    MAX_DRAINS_PER_APP,
    MAX_LINE_BYTES,
    DrainSpec,
    LogLine,
    LogSession,
    Source,
)

__all__ = [
    "DEFAULT_LINES",
    "HISTORY_LINES",
    "MAX_DRAINS_PER_APP",
    "MAX_LINE_BYTES",
    "DrainSettings",
    "DrainSpec",
    "IngestSocketError",
    "InvalidDrain",
    "InvalidDrainURL",
    "InvalidFilter",
    "InvalidLogLine",
    "LogLine",
    "LogSession",
    "Logplex",
    "LogsError",
    "Source",
    "SyslogWriter",
    "TooManyDrains",
    "format_line",
    "new_drain_token",
    "split_message",
    "validate_drain_url",
]
