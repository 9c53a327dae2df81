"""Rendezvous: where `pyroku run` meets a one-off dyno's terminal.

The client connects over TCP, sends the dyno's secret and CRLF, reads one greeting line, then the
connection is the terminal, both ways, until the dyno exits. The last line is then
`EXIT_MARKER <status>` CRLF, so the client can exit with the dyno's status. (The Heroku CLI speaks
the same protocol inside TLS; that listener is not offered yet.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pyroku.rendezvous import EXIT_MARKER, GREETING
from pyroku.runtime import Attachment

log = logging.getLogger("pyroku.dynos.rendezvous")

_SECRET_TIMEOUT = 10.0
_PENDING_TTL = 3600.0  # an unclaimed terminal is given up after an hour
CLIENT_ARRIVED = b"\n"  # releases the dyno's command (see DynoManager.run)
_HIGH_WATER = 64  # chunks of terminal output queued for a slow client
_EXIT_GRACE = 5.0  # after the terminal closes, how long the exit may take to be reported


@dataclass
class _Pending:
    attach: Callable[[], Awaitable[Attachment]]
    done: asyncio.Future[int | None]  # the dyno's exit status, when it has exited
    hangup: Callable[[], Awaitable[None]]  # the client left first
    expires: float


class Rendezvous:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._pending: dict[str, _Pending] = {}
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def register(
        self,
        attach: Callable[[], Awaitable[Attachment]],
        done: asyncio.Future[int | None],
        hangup: Callable[[], Awaitable[None]],
    ) -> str:
        """A one-time URL for the terminal `attach()` returns; `done` ends the session, and
        `hangup` is called when the client leaves before the dyno has exited."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
        secret = secrets.token_urlsafe(24)
        self._pending[secret] = _Pending(attach, done, hangup, now + _PENDING_TTL)
        return f"rendezvous://{self.host}:{self.port}/{secret}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await asyncio.wait_for(reader.readline(), _SECRET_TIMEOUT)
            pending = self._pending.pop(line.strip().decode("ascii", "replace"), None)
            if pending is None:
                return
            attachment = await pending.attach()
            try:
                writer.write(GREETING)
                await writer.drain()
                os.write(attachment.fileno(), CLIENT_ARRIVED)
                client_left = await _pipe(reader, writer, attachment, pending.done)
            finally:
                attachment.close()
            if client_left and not pending.done.done():
                await pending.hangup()
            elif pending.done.done() and (status := pending.done.result()) is not None:
                writer.write(EXIT_MARKER + f" {status}\r\n".encode())
                await writer.drain()
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.debug("rendezvous session ended: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, attachment: Attachment,
    done: asyncio.Future[int | None],
) -> bool:
    """Copy socket → terminal and terminal → socket until the dyno exits or the client leaves;
    True when the client left first."""
    loop = asyncio.get_running_loop()
    fd = attachment.fileno()
    output: asyncio.Queue[bytes | None] = asyncio.Queue()
    paused = False

    def readable() -> None:
        nonlocal paused
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the terminal's last process is gone
            data = b""
        if not data:
            loop.remove_reader(fd)
            output.put_nowait(None)
            return
        output.put_nowait(data)
        if output.qsize() >= _HIGH_WATER:  # the client reads slowly: stop reading the terminal
            loop.remove_reader(fd)
            paused = True

    async def send() -> None:
        nonlocal paused
        while (data := await output.get()) is not None:
            writer.write(data)
            await writer.drain()
            if paused and output.qsize() < _HIGH_WATER // 4:
                paused = False
                loop.add_reader(fd, readable)

    async def receive() -> None:
        while data := await reader.read(65536):
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(fd, view):]
                except BlockingIOError:
                    await asyncio.sleep(0.005)

    loop.add_reader(fd, readable)
    sender = asyncio.ensure_future(send())
    receiver = asyncio.ensure_future(receive())
    exited = asyncio.ensure_future(_settled(done))
    try:
        first: set[asyncio.Future[Any]] = {sender, receiver, exited}
        await asyncio.wait(first, return_when=asyncio.FIRST_COMPLETED)
        if not receiver.done() or sender.done():
            # the dyno ended (or its terminal did): flush the last output, let the exit land
            rest: set[asyncio.Future[Any]] = {sender, exited}
            await asyncio.wait(rest, timeout=_EXIT_GRACE, return_when=asyncio.ALL_COMPLETED)
            return False
        return True
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)
        for task in (sender, receiver, exited):
            task.cancel()


async def _settled(future: asyncio.Future[int | None]) -> int | None:
    return await asyncio.shield(future)
