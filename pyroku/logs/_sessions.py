"""Log sessions (unguessable, expiring read capabilities) and the live tails reading through them."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from typing import Final

from pyroku.logs._lines import format_line, format_seconds
from pyroku.logs.types import LogLine, LogSession

SESSION_TTL: Final = 360.0
TAIL_BUFFER: Final = 1_000
_SWEEP_INTERVAL: Final = 60.0

Item = tuple[LogLine, str]
"""What a stream sends: a line and its rendering (``seq`` 0 marks lines injected into one stream)."""


def line_filter(source: str | None, dyno: str | None) -> Callable[[LogLine], bool] | None:
    """Heroku's filters: source matches exactly; dyno matches exactly or as the part before a dot."""
    if source is None and dyno is None:
        return None
    prefix = None if dyno is None else dyno + "."

    def matches(line: LogLine) -> bool:
        if source is not None and line.source != source:
            return False
        if dyno is not None and prefix is not None:
            process = line.process
            return process == dyno or process.startswith(prefix)
        return True

    return matches


class LiveBuffer:
    """The newest lines of one app, rendered once and shared by all its tails.

    Publishing appends here (cost independent of the number of tails) and wakes the tails that
    wait; each tail keeps a cursor. A tail that falls more than ``limit`` lines behind loses the
    oldest of them (it is told so with L11), so a slow reader never holds up a publisher.
    """

    __slots__ = ("_waiters", "items", "newest", "tails")

    def __init__(self, limit: int, newest: int) -> None:
        self.items: deque[Item] = deque(maxlen=limit)
        self.newest = newest  # seq of the newest line published
        self.tails: list[Tail] = []
        self._waiters: list[asyncio.Future[None]] = []

    def append(self, line: LogLine) -> None:
        self.items.append((line, format_line(line)))
        self.newest = line.seq

    def wake(self) -> None:
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters = []

    def wait(self, waiter: asyncio.Future[None]) -> None:
        self._waiters.append(waiter)


class Tail:
    """One live reader of an app's :class:`LiveBuffer`."""

    __slots__ = ("_dropped", "_dropped_since", "_waiter", "closed", "cursor", "live", "matches")

    def __init__(self, live: LiveBuffer, matches: Callable[[LogLine], bool] | None) -> None:
        self.live = live
        self.matches = matches
        self.cursor = live.newest  # lines up to here came from history
        self.closed = False
        self._dropped = 0
        self._dropped_since: datetime | None = None
        self._waiter: asyncio.Future[None] | None = None
        live.tails.append(self)

    def close(self) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _overflow_notice(self) -> Item:
        since = self._dropped_since or datetime.now(UTC)
        line = LogLine(
            datetime.now(UTC),
            "heroku",
            "logplex",
            f"Error L11 (Tail buffer overflow) -> This tail session dropped {self._dropped} messages "
            f"since {format_seconds(since)}",
        )
        self._dropped = 0
        self._dropped_since = None
        return (line, format_line(line))

    def _take(self) -> list[Item]:
        live = self.live
        lag = live.newest - self.cursor
        self.cursor = live.newest
        items = live.items
        if lag > len(items):
            if not self._dropped:
                self._dropped_since = items[0][0].timestamp if items else datetime.now(UTC)
            self._dropped += lag - len(items)
            lag = len(items)
        if lag == len(items):
            batch = list(items)
        else:
            batch = list(islice(reversed(items), lag))
            batch.reverse()
        matches = self.matches
        return batch if matches is None else [item for item in batch if matches(item[0])]

    async def next_batch(self, keepalive: float | None = None) -> list[Item] | None:
        """The lines published since the last call, waiting for at least one; ``[]`` after
        ``keepalive`` seconds of silence; ``None`` once the tail is closed. Once a reader that lost
        lines has caught up, the batch is the L11 notice.
        """
        while not self.closed:
            if self.live.newest != self.cursor:
                batch = self._take()
                if batch:
                    return batch
                continue
            if self._dropped:
                return [self._overflow_notice()]
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            self.live.wait(waiter)
            timer = None if keepalive is None else loop.call_later(keepalive, _wake, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
            if not self.closed and self.live.newest == self.cursor:
                return []  # the keepalive timer fired
        return None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class SessionEntry:
    __slots__ = ("active", "last_used", "session", "tails")

    def __init__(self, session: LogSession, now: float) -> None:
        self.session = session
        self.last_used = now
        self.active = 0  # streams being served: an entry in use never expires
        self.tails: set[Tail] = set()


class SessionRegistry:
    """Sessions by secret, expiring ``ttl`` seconds after their last use (by an injected clock)."""

    def __init__(self, clock: Callable[[], float], ttl: float = SESSION_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[str, SessionEntry] = {}
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._entries)

    def create(
        self, app_id: str, lines: int, tail: bool, source: str | None, dyno: str | None
    ) -> LogSession:
        now = self._clock()
        if now - self._last_sweep >= _SWEEP_INTERVAL:
            self.sweep()
        session = LogSession(
            id=str(uuid.uuid4()),
            secret=secrets.token_urlsafe(32),
            app_id=app_id,
            lines=lines,
            tail=tail,
            source=source,
            dyno=dyno,
            created_at=datetime.now(UTC),
        )
        self._entries[session.secret] = SessionEntry(session, now)
        return session

    def get(self, secret: str) -> SessionEntry | None:
        entry = self._entries.get(secret)
        if entry is not None and self._expired(entry, self._clock()):
            self._remove(secret)
            return None
        return entry

    def delete(self, secret: str) -> bool:
        return self._remove(secret)

    def delete_app(self, app_id: str) -> None:
        for secret in [s for s, e in self._entries.items() if e.session.app_id == app_id]:
            self._remove(secret)

    def clear(self) -> None:
        for secret in list(self._entries):
            self._remove(secret)

    def sweep(self) -> None:
        now = self._last_sweep = self._clock()
        for secret in [s for s, e in self._entries.items() if self._expired(e, now)]:
            self._remove(secret)

    def _expired(self, entry: SessionEntry, now: float) -> bool:
        return entry.active == 0 and now - entry.last_used > self._ttl

    def _remove(self, secret: str) -> bool:
        entry = self._entries.pop(secret, None)
        if entry is None:
            return False
        for tail in entry.tails:
            tail.close()
        return True

    def touch(self, entry: SessionEntry) -> None:
        entry.last_used = self._clock()
