"""CPU cost of the router's request path, without sockets: per proxied keep-alive request.

Feeds a request to a ClientProtocol and the dyno's answer to its UpstreamConnection through fake
transports, so only the router's own work is measured (parsing, routing, headers, log line and its
syslog frame, metrics). The reference, measured in the same run, is the same code interpreted (the
mypyc-built modules ignored). Run by hand:

    .venv/bin/python bench/router/hotpath.py               # CPU µs per request (noisy on a shared VM)
    .venv/bin/python bench/router/hotpath.py --callgrind   # instructions per request (repeatable)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
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


async def measure(n: int, repeat: int) -> float:
    """Best CPU seconds per request over ``repeat`` runs of ``n`` requests."""
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
    return best / n


def _child(argv: list[str], interpreted: bool, wrapper: list[str] | None = None) -> str:
    env = dict(os.environ, PYROKU_ROUTER_INTERPRETED="1" if interpreted else "")
    result = subprocess.run([*(wrapper or []), sys.executable, __file__, *argv], env=env, capture_output=True,
                            text=True, check=True)
    return result.stdout + result.stderr


def _instructions(interpreted: bool) -> float:
    """Instructions per request: the difference between runs of 10,000 and 30,000 requests."""
    counts = []
    for n in (10_000, 30_000):
        valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        out = _child(["--child", str(n), "1"], interpreted, valgrind)
        counts.append(int(re.search(r"Collected : (\d+)", out).group(1)))  # type: ignore[union-attr]
    return (counts[1] - counts[0]) / 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callgrind", action="store_true", help="count instructions (needs valgrind)")
    parser.add_argument("--child", nargs=2, type=int, metavar=("N", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import uvloop

        print(uvloop.run(measure(*args.child)))
        return
    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is missing: apt-get install valgrind")
        compiled, interpreted = _instructions(False), _instructions(True)
        unit, scale = "instructions", 1.0
    else:
        compiled, interpreted = (float(_child(["--child", "50000", "9"], flag).split()[-1]) for flag in (False, True))
        unit, scale = "µs CPU", 1e6
    print(f"request path, compiled:    {compiled * scale:9.2f} {unit} per request")
    print(f"request path, interpreted: {interpreted * scale:9.2f} {unit} per request (reference, same run)")
    print(f"ratio: {compiled / interpreted:.2f}x")


if __name__ == "__main__":
    main()
