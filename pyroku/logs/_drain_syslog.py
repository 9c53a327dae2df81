"""Syslog drains: ``syslog://`` (TCP) and ``syslog+tls://`` (TLS, certificates validated).

Frames are RFC 6587 octet-counted: ``<len> <PRI>1 <ts> <drain-token> <source> <process> - - <msg>``.
One connection per drain, reopened when the receiver closes it or a write fails.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import cast

from pyroku.logs import _syslog
from pyroku.logs._drain_url import DrainTarget
from pyroku.logs._drains import DrainSettings, DrainUnavailable
from pyroku.logs.types import LogLine


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self._paused = False
        self._drain_waiter: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same interface.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        pass  # receivers have nothing to say; ignore whatever they send

    def eof_received(self) -> bool:
        return False  # the receiver is done with us: close, and reconnect on the next batch

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._wake()

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        self._wake()

    def _wake(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        while self._paused and not self.lost:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None


class SyslogDrain:
    retries: int | None = None  # a batch waits in the drain until it is delivered

    def __init__(
        self, target: DrainTarget, token: str, settings: DrainSettings, ssl_context: ssl.SSLContext
    ) -> None:
        self.batch_bytes = settings.syslog_batch_bytes
        self._target = target
        self._token = token
        self._settings = settings
        self._ssl = ssl_context if target.tls else None
        self._connection: _Connection | None = None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        target = self._target
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    _Connection,
                    target.host,
                    target.port,
                    ssl=self._ssl,
                    server_hostname=target.host if self._ssl is not None else None,
                ),
                self._settings.connect_timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            reason = exc.verify_message or str(exc)
            raise DrainUnavailable(f"certificate validation failed: {reason}", certificate_error=reason) from exc
        except (OSError, TimeoutError) as exc:
            raise DrainUnavailable(f"cannot connect: {exc!r}") from exc
        return connection

    async def send(self, lines: Sequence[LogLine]) -> None:
        data = b"".join([_syslog.encode(line, self._token) for line in lines])
        connection = self._connection
        if connection is None or connection.lost:
            connection = self._connection = await self._connect()
        assert connection.transport is not None
        connection.transport.write(data)
        try:
            await asyncio.wait_for(connection.drain(), self._settings.send_timeout)
        except TimeoutError:
            connection.transport.abort()
            self._connection = None
            raise DrainUnavailable("send timed out") from None
        if connection.lost:
            self._connection = None
            raise DrainUnavailable("connection closed by the receiver")

    async def aclose(self) -> None:
        if self._connection is not None and self._connection.transport is not None:
            self._connection.transport.close()
        self._connection = None
