"""What every connection of one router process shares: settings, routes, log sink, request ids."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from pyroku.router._config import RouterConfig
from pyroku.router._headers import RequestIds
from pyroku.router._logline import decimal, format_line
from pyroku.router._routes import RouteState
from pyroku.router._sink import RequestLogSink

_QUOTE: Final = ord('"')
_SPACE: Final = ord(" ")

if TYPE_CHECKING:
    from pyroku.router._client import ClientProtocol
    from pyroku.router._exchange import Exchange


class RouterContext:
    __slots__ = ("config", "connections", "drained", "ids", "limits", "loop", "routes", "shutting_down",
                 "sink", "timeouts")

    def __init__(self, config: RouterConfig, loop: asyncio.AbstractEventLoop, sink: RequestLogSink,
                 routes: RouteState) -> None:
        self.config = config
        self.timeouts = config.timeouts
        self.limits = config.limits
        self.loop = loop
        self.sink = sink
        self.routes = routes
        self.connections: set[ClientProtocol] = set()
        self.ids = RequestIds()
        self.shutting_down = False
        self.drained: asyncio.Future[None] | None = None  # set while a graceful stop waits for connections

    def forget(self, conn: ClientProtocol) -> None:
        self.connections.discard(conn)
        drained = self.drained
        if drained is not None and not self.connections and not drained.done():
            drained.set_result(None)

    def forwarded_tail(self, scheme: str, port: int) -> bytes:
        """The per-listener header lines: ``X-Forwarded-Proto`` and ``X-Forwarded-Port``."""
        public = self.config.public_https_port if scheme == "https" else self.config.public_http_port
        return f"X-Forwarded-Proto: {scheme}\r\nX-Forwarded-Port: {public or port}".encode()

    def record(self, ex: Exchange, code: str | None, cause: str | None, status: int, protocol: bytes,
               now: float) -> None:
        """The log line and metrics of a finished exchange (nothing for unknown hosts)."""
        entry = ex.entry
        if entry is None:
            return
        url, host, fwd = ex.url, ex.host, ex.fwd
        # (`int in bytes` is a plain memchr; `bytes in bytes` first builds and discards a TypeError)
        if _QUOTE in url:
            url = url.replace(b'"', b"%22")
        if _QUOTE in fwd:  # client-supplied X-Forwarded-For must not break the line's quoting
            fwd = fwd.replace(b'"', b"%22")
        if _SPACE in host or _QUOTE in host:
            host = host.replace(b" ", b"%20").replace(b'"', b"%22")
        if ex.connect_ms >= 0 and ex.service_start:
            service_ms = int((now - ex.service_start) * 1000)
            if code is None:
                # The at=info line (the grammar of format_line), joined from bytes: the common case.
                self.sink.write(entry.app_id, b"".join((
                    b"at=info method=", ex.method, b' path="', url, b'" host=', host, b" request_id=", ex.request_id,
                    b' fwd="', fwd, b'" dyno=', ex.dyno, b" connect=", decimal(ex.connect_ms), b"ms service=",
                    decimal(service_ms), b"ms status=", decimal(status), b" bytes=", decimal(ex.bytes_out),
                    b" protocol=", protocol)))
                entry.state.metrics.record(status, None, service_ms)
                return
            sent = ex.bytes_out
        else:
            service_ms = -1
            sent = -1
        line = format_line(
            ex.method.decode("latin-1"), url.decode("latin-1"), host.decode("latin-1"),
            ex.request_id.decode("latin-1"), fwd.decode("latin-1"), ex.dyno.decode("latin-1"), ex.connect_ms,
            service_ms, status, sent, protocol.decode(), code, cause,
        )
        self.sink.write(entry.app_id, line.encode("latin-1"))  # the request's bytes, as they came
        entry.state.metrics.record(status, code, service_ms)
