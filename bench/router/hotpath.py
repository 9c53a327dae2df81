"""CPU cost of the router's Python hot path, without sockets: µs per proxied keep-alive request.

Feeds a request to a ClientProtocol and the dyno's answer to its UpstreamConnection through fake
transports, so only the router's own work is measured (parsing, routing, headers, log line,
metrics). Run by hand: ``.venv/bin/python bench/router/hotpath.py``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from pyroku.router import AppRoute, DynoRoute, RouterConfig, RoutingTable
from pyroku.router._client import ClientProtocol
from pyroku.router._context import RouterContext
from pyroku.router._routes import RouteState
from pyroku.router._sink import Batch, BufferedLogSink, _Timestamps, encode_frames
from pyroku.router._upstream import UpstreamConnection

REQUEST = b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nhello, world\n"


class FakeTransport:
    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)

    def writelines(self, data: Any) -> None:
        for item in data:
            self.sent += len(item)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 40000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def is_reading(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


class EncodingShipper:
    """Encodes the syslog frames like the real shipper, without the socket."""

    def __init__(self) -> None:
        self.stamp = _Timestamps()

    def ship(self, batch: Batch) -> None:
        encode_frames(batch, self.stamp)

    def close(self) -> None:
        pass


async def main(n: int = 50_000, repeat: int = 9) -> None:
    loop = asyncio.get_running_loop()
    routes = RouteState(RouterConfig(table_path=Path("/nonexistent")).limits)
    routes.update(RoutingTable(1, {"app": AppRoute("myapp", ("myapp.localhost",), web_quantity=1,
                                                    dynos=(DynoRoute("web.1", "127.0.0.1", 1),))}))
    config = RouterConfig(table_path=Path("/nonexistent"))
    ctx = RouterContext(config, loop, BufferedLogSink([EncodingShipper()], loop), routes)
    client = ClientProtocol(ctx, "http", ctx.forwarded_tail("http", 80))
    client.connection_made(FakeTransport())  # type: ignore[arg-type]
    backend = routes.routes.by_id["app"].up[0].backend
    conn = UpstreamConnection(backend, config.limits)
    conn.connection_made(FakeTransport())  # type: ignore[arg-type]
    backend.idle.append(conn)
    for _ in range(1000):
        client.data_received(REQUEST)
        conn.data_received(RESPONSE)
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        for _ in range(n):
            client.data_received(REQUEST)
            conn.data_received(RESPONSE)
        best = min(best, time.process_time() - began)
    print(f"{best / n * 1e6:.2f} µs per request (Python hot path, no syscalls; best of {repeat} x {n})")


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
