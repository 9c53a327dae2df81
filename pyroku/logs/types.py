"""Wire types of logplex: log lines, log sessions, drain specs, and the limits Heroku documents."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

Source = Literal["app", "heroku"]
"""Who produced a line: ``app`` (dyno output, API events, add-ons) or ``heroku`` (router, dyno manager)."""

SOURCES: Final = frozenset({"app", "heroku"})

MAX_LINE_BYTES: Final = 10_000
"""Longer messages are split into chunks of at most this many UTF-8 bytes, each its own line."""

HISTORY_LINES: Final = 1_500
"""Lines kept per app (the ring ``heroku logs`` reads)."""

DEFAULT_LINES: Final = 100
"""Lines a log session replays when the caller does not say."""

MAX_DRAINS_PER_APP: Final = 5


@dataclass(frozen=True, slots=True)
class LogLine:
    """One log line of one app.

    ``timestamp`` is timezone-aware UTC with microseconds; ``process`` is e.g. ``web.1``, ``router``,
    ``api`` or empty; ``message`` is one line of safe text (no newlines or terminal control
    characters). ``seq`` numbers the app's lines from 1, increases by one per line, survives
    restarts, and is the ``id`` of server-sent events; it is 0 for lines injected into one
    stream only (L10, L11).
    """

    timestamp: datetime
    source: str
    process: str
    message: str
    seq: int = 0


@dataclass(frozen=True, slots=True)
class LogSession:
    """A short-lived, unguessable capability to read one app's log stream.

    ``lines`` history lines matching ``source``/``dyno`` are replayed, then live lines follow when
    ``tail`` is set. The session expires when unused for the Logplex's session TTL (~360 s).
    """

    id: str
    secret: str
    app_id: str
    lines: int
    tail: bool
    source: str | None
    dyno: str | None
    created_at: datetime

    def url(self, base: str) -> str:
        """The ``logplex_url`` to hand out: ``base`` is where the stream app is mounted.

        ``tail=true`` in the query tells the Heroku CLI to keep reading; the stream ignores the query.
        """
        url = f"{base.rstrip('/')}/{self.secret}"
        return url + "?tail=true" if self.tail else url


@dataclass(frozen=True, slots=True)
class DrainSpec:
    """A drain as the API stores it: ``id`` (any stable string), ``url``, ``token`` (``d.<uuid>``)."""

    id: str
    url: str
    token: str
