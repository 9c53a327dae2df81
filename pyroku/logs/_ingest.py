"""The local ingestion socket: a Unix stream socket carrying octet-counted RFC 5424 frames.

Why a stream and not a datagram socket: a Unix datagram receiver queues at most
``net.unix.max_dgram_qlen`` datagrams (10 on stock kernels), so any hiccup of the controller would
drop lines from bursty writers; a stream socket buffers up to the writer's ``SO_SNDBUF`` (1 MiB by
default here, about 10,000 lines), lets the reader take many frames per ``recv``, and uses the same
framing (RFC 6587 octet counting) as syslog drains. A writer finds out at once when logplex is gone
(``EPIPE``) and reconnects later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Final, cast

from pyroku.logs._exceptions import IngestSocketError
from pyroku.logs._syslog import FrameDecoder

logger = logging.getLogger("pyroku.logs")

_MAX_UNIX_PATH: Final = 107  # sun_path is 108 bytes including the terminating NUL


class IngestProtocol(asyncio.Protocol):
    """One writer's connection: frames are handed to ``on_frame`` as they complete.

    One read can hold thousands of frames; they are published ``BATCH_FRAMES`` per loop iteration,
    with reading paused meanwhile, so tails and drains get to run between batches instead of
    overflowing behind one long callback.
    """

    BATCH_FRAMES: Final = 200

    def __init__(self, on_frame: Callable[[bytes], None], connections: set[IngestProtocol]) -> None:
        self._on_frame = on_frame
        self._connections = connections
        self._decoder = FrameDecoder()
        self._backlog: deque[bytes] = deque()
        self._paused = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same interface.
        self.transport = cast(asyncio.Transport, transport)
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        decoder = self._decoder
        self._backlog.extend(decoder.feed(data))
        if decoder.error is not None:
            logger.warning("closing a log writer's connection: %s", decoder.error)
            assert self.transport is not None
            self.transport.abort()
        if not self._paused:
            self._publish_batch()

    def _publish_batch(self) -> None:
        backlog = self._backlog
        on_frame = self._on_frame
        for _ in range(min(len(backlog), self.BATCH_FRAMES)):
            on_frame(backlog.popleft())
        transport = self.transport
        assert transport is not None
        if backlog:
            if not self._paused:
                self._paused = True
                if not transport.is_closing():
                    transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._publish_batch)
        elif self._paused:
            self._paused = False
            if not transport.is_closing():
                transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)


def _check_path(path: Path) -> None:
    if len(os.fsencode(path)) > _MAX_UNIX_PATH:
        raise IngestSocketError(
            f"the log socket path {str(path)!r} is longer than {_MAX_UNIX_PATH} bytes; "
            "use a shorter data dir or pass socket_path"
        )
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise IngestSocketError(f"{str(path)!r} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(os.fspath(path))
    except OSError:
        path.unlink()  # left over from a logplex that did not close: nobody listens
    else:
        raise IngestSocketError(f"another logplex is already listening on {str(path)!r}")
    finally:
        probe.close()


class IngestServer:
    def __init__(self, path: Path, on_frame: Callable[[bytes], None]) -> None:
        self.path = path
        self._on_frame = on_frame
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[IngestProtocol] = set()

    async def start(self) -> None:
        _check_path(self.path)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            lambda: IngestProtocol(self._on_frame, self._connections), os.fspath(self.path), backlog=128
        )
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
        await self._server.wait_closed()
        self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
