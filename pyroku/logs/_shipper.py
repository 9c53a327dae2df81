"""The client other processes (router, dyno supervisors) use to ship lines to logplex's socket.

``write()`` never blocks and never raises on transport trouble: the socket is non-blocking, a line
that does not fit in the kernel's send buffer is dropped and counted, and while logplex is down
lines are dropped and counted too, with a reconnect attempt at most once per
``reconnect_interval``. Once lines flow again, one notice per affected app tells readers what was
lost, as Heroku's log-shuttle does: ``app[log-shuttle]: Error L12: N messages dropped since <ts>.``
(socket full) or ``Error L13: N messages lost since <ts>.`` (logplex unreachable).
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from pyroku._sockets import connect_unix
from pyroku.logs import _syslog
from pyroku.logs._lines import check_app_id, check_source, clean_process, format_seconds, split_message
from pyroku.logs.types import LogLine

SEND_BUFFER: Final = 1 << 20
"""Bytes the kernel may hold for a writer while logplex catches up (about 10,000 typical lines)."""

_Drops = dict[str, tuple[int, datetime]]


class SyslogWriter:
    """Ships log lines as octet-counted RFC 5424 frames over logplex's local stream socket.

    Thread-safe; one per process is enough. Lines are stamped with the time of ``write()``.
    A frame the kernel took only part of is finished before any other, on the next ``write()``,
    ``flush()`` or ``close()``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        reconnect_interval: float = 1.0,
        send_buffer: int = SEND_BUFFER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = os.fspath(path)
        self._reconnect_interval = reconnect_interval
        self._send_buffer = send_buffer
        self._clock = clock
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._next_connect = float("-inf")
        self._pending = b""  # the unsent rest of a frame the kernel took only part of
        self._overflow: _Drops = {}  # L12: the socket was full
        self._lost: _Drops = {}  # L13: logplex was unreachable
        self.sent = 0
        self.dropped = 0

    def write(
        self,
        app_id: str,
        source: str,
        process: str,
        message: str | bytes,
        timestamp: datetime | None = None,
    ) -> bool:
        """Ship a message (one line per newline, long lines split); False if any of it was dropped.

        Raises :class:`InvalidLogLine` for an invalid app id or source, never for transport trouble.
        """
        check_app_id(app_id)
        check_source(source)
        stamp = datetime.now(UTC) if timestamp is None else timestamp
        process = clean_process(process)
        frames = [
            _syslog.encode(LogLine(stamp, source, process, text), app_id) for text in split_message(message)
        ]
        with self._lock:
            ok = True
            for frame in frames:
                ok = self._send(app_id, frame) and ok
            return ok

    def flush(self, timeout: float = 1.0) -> bool:
        """Wait up to ``timeout`` s for a partly sent frame to go out; True when nothing is left."""
        deadline = self._clock() + timeout
        with self._lock:
            while self._pending and self._sock is not None:
                if self._send_pending():
                    break
                remaining = deadline - self._clock()
                if remaining <= 0 or self._sock is None:
                    break
                select.select([], [self._sock], [], remaining)
            return not self._pending

    def close(self, timeout: float = 1.0) -> None:
        self.flush(timeout)
        with self._lock:
            self._disconnect()

    def __enter__(self) -> SyslogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals (called with the lock held) --

    def _connect(self) -> bool:
        if self._sock is not None:
            return True
        now = self._clock()
        if now < self._next_connect:
            return False
        self._next_connect = now + self._reconnect_interval
        self._sock = connect_unix(self._path, send_buffer=self._send_buffer)
        return self._sock is not None

    def _disconnect(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._pending = b""

    def _send_pending(self) -> bool:
        """Push the rest of a partly sent frame; True when it is all out."""
        assert self._sock is not None
        try:
            sent = self._sock.send(self._pending, socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return False
        except OSError:
            self._disconnect()
            return False
        self._pending = self._pending[sent:]
        return not self._pending

    def _send_raw(self, frame: bytes) -> str:
        """``"sent"``, ``"full"`` or ``"down"``; a partly sent frame counts as sent."""
        if not self._connect():
            return "down"
        assert self._sock is not None
        if self._pending and not self._send_pending():
            return "down" if self._sock is None else "full"
        try:
            sent = self._sock.send(frame, socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return "full"
        except OSError:
            self._disconnect()
            return "down"
        if sent < len(frame):
            self._pending = frame[sent:]
        return "sent"

    def _send(self, app_id: str, frame: bytes) -> bool:
        if (self._overflow or self._lost) and not self._send_notices():
            self._count(self._lost if self._sock is None else self._overflow, app_id)
            return False
        outcome = self._send_raw(frame)
        if outcome == "sent":
            self.sent += 1
            return True
        self._count(self._lost if outcome == "down" else self._overflow, app_id)
        return False

    def _count(self, drops: _Drops, app_id: str) -> None:
        self.dropped += 1
        previous = drops.get(app_id)
        drops[app_id] = (1, datetime.now(UTC)) if previous is None else (previous[0] + 1, previous[1])

    def _send_notices(self) -> bool:
        """Tell each app what it lost; True once every notice is out."""
        for drops, text in ((self._overflow, "Error L12: {} messages dropped since {}."),
                            (self._lost, "Error L13: {} messages lost since {}.")):
            for app_id, (count, since) in list(drops.items()):
                line = LogLine(datetime.now(UTC), "app", "log-shuttle", text.format(count, format_seconds(since)))
                if self._send_raw(_syslog.encode(line, app_id)) != "sent":
                    return False
                del drops[app_id]
        return True
