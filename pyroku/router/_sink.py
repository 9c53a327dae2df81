"""Where request log lines go: a :class:`RequestLogSink` takes pre-formatted lines, never ``logging``.

:class:`BufferedLogSink` appends to a list (the only per-request cost) and a loop timer hands the
batch to a shipper every ``flush_interval``. :class:`SyslogShipper` ships batches to logplex's
ingestion socket as octet-counted RFC 5424 frames (``<158>1 TS <app id> heroku router - - LINE``),
one non-blocking ``send`` per batch; while logplex is down or slow, lines are dropped and counted,
so proxying never waits for logging.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Final, Protocol, TextIO

from pyroku._sockets import connect_unix
from pyroku.router._logline import decimal

logger = logging.getLogger("pyroku.router")

Batch = list[tuple[float, str, bytes]]  # (epoch seconds, app id, line)

MAX_PENDING: Final = 4 * 1024 * 1024
"""Bytes of frames kept while the socket is full; beyond this, lines are dropped."""


class RequestLogSink(Protocol):
    """Receives one router log line per request (``at=info method=GET ...``) for an app.

    Lines are bytes: the request's own bytes (path, host) go to logplex as they came, and nothing
    is decoded and encoded again on the way.
    """

    def write(self, app_id: str, line: bytes) -> None: ...


class LogShipper(Protocol):
    def ship(self, batch: Batch) -> None: ...
    def close(self) -> None: ...


class NullSink:
    """Discards lines."""

    def write(self, app_id: str, line: bytes) -> None:
        return None


class ListSink:
    """Keeps ``(app_id, line)`` pairs in memory, lines decoded as logplex would (in-process use and tests)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def write(self, app_id: str, line: bytes) -> None:
        self.lines.append((app_id, line.decode("utf-8", "replace")))


class BufferedLogSink:
    """Batches lines and ships them from a loop timer; ``close()`` ships what is left."""

    def __init__(self, shippers: list[LogShipper], loop: asyncio.AbstractEventLoop,
                 flush_interval: float = 0.1, max_batch: int = 256,
                 clock: Callable[[], float] = time.time) -> None:
        self._shippers = shippers
        self._loop = loop
        self._interval = flush_interval
        self._max_batch = max_batch
        self._clock = clock
        self._batch: Batch = []
        self._timer: asyncio.TimerHandle | None = None

    def write(self, app_id: str, line: bytes) -> None:
        batch = self._batch
        batch.append((self._clock(), app_id, line))
        if self._timer is None:
            self._timer = self._loop.call_later(self._interval, self.flush)
        elif len(batch) >= self._max_batch:
            self.flush()

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch = self._batch
        if not batch:
            return
        self._batch = []
        for shipper in self._shippers:
            try:
                shipper.ship(batch)
            except Exception:  # a shipper bug must not take proxying down
                logger.exception("request log shipper failed")

    def close(self) -> None:
        self.flush()
        for shipper in self._shippers:
            shipper.close()


class _Timestamps:
    """RFC 3339 UTC timestamps to the millisecond (six fraction digits, like logplex's); the part
    that changes once a second is cached, and so is the last millisecond (lines come in bursts)."""

    __slots__ = ("_ms", "_prefix", "_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._ms = -1
        self._text = ""

    def __call__(self, when: float) -> str:
        ms = int(when * 1000)
        if ms == self._ms:
            return self._text
        second = ms // 1000
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        self._ms = ms
        self._text = text = self._prefix + _FRACTIONS[ms - second * 1000]
        return text


_FRACTIONS: Final[tuple[str, ...]] = tuple(f".{ms:03d}000+00:00" for ms in range(1000))


def encode_frames(batch: Batch, stamp: _Timestamps) -> bytes:
    """Octet-counted RFC 5424 frames, as logplex's ingestion socket reads them."""
    out: list[bytes] = []
    last_stamp: str | None = None
    last_app: str | None = None
    prefix = b""
    size = 0
    for when, app_id, line in batch:
        text = stamp(when)
        if text is not last_stamp or app_id is not last_app:  # lines come in bursts: reuse the prefix
            last_stamp, last_app = text, app_id
            prefix = f" <158>1 {text} {app_id} heroku router - - ".encode()
            size = len(prefix) - 1
        out.append(decimal(size + len(line)))
        out.append(prefix)
        out.append(line)
    return b"".join(out)


class SyslogShipper:
    """Ships batches to a Unix stream socket; reconnects at most once per ``reconnect_interval``."""

    def __init__(self, path: str | os.PathLike[str], reconnect_interval: float = 1.0) -> None:
        self._path = os.fspath(path)
        self._reconnect_interval = reconnect_interval
        self._sock: socket.socket | None = None
        self._next_connect = 0.0
        self._pending = b""
        self._stamp = _Timestamps()
        self.sent = 0
        self.dropped = 0

    def ship(self, batch: Batch) -> None:
        if not self._connect():
            self.dropped += len(batch)
            return
        if len(self._pending) > MAX_PENDING:
            self._send()
            if len(self._pending) > MAX_PENDING:
                self.dropped += len(batch)
                return
        self._pending += encode_frames(batch, self._stamp)
        self.sent += len(batch)
        self._send()

    def _connect(self) -> bool:
        if self._sock is not None:
            return True
        now = time.monotonic()
        if now < self._next_connect:
            return False
        self._next_connect = now + self._reconnect_interval
        self._sock = connect_unix(self._path)
        if self._sock is None:
            return False
        self._pending = b""  # a frame half-sent on the old connection is not resumed on a new one
        return True

    def _send(self) -> None:
        sock = self._sock
        if sock is None or not self._pending:
            return
        try:
            sent = sock.send(self._pending, socket.MSG_NOSIGNAL)
        except BlockingIOError:
            return
        except OSError:
            sock.close()
            self._sock = None
            self._pending = b""
            return
        self._pending = self._pending[sent:]

    def close(self) -> None:
        if self._sock is not None:
            if self._pending:
                try:
                    self._sock.setblocking(True)
                    self._sock.settimeout(1.0)
                    self._sock.sendall(self._pending)
                except OSError:
                    pass
            self._sock.close()
            self._sock = None


class StreamShipper:
    """Prints ``<app id> <line>`` per line on a text stream (debugging; may block on a full pipe)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stdout

    def ship(self, batch: Batch) -> None:
        self._stream.write("".join(f"{app_id} {line.decode('utf-8', 'replace')}\n" for _, app_id, line in batch))
        self._stream.flush()

    def close(self) -> None:
        self._stream.flush()
