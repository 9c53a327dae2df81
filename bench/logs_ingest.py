"""Logplex ingest benchmark (run by hand: ``.venv/bin/python bench/logs_ingest.py``).

1. Ingest throughput: a producer process blasts frames over the Unix socket into one app; the
   Logplex process, pinned to one core, stores them in history and fans them out to 10 tail
   sessions (served by the real stream app, the HTTP server left out). Reference: the same socket
   and producer with a no-op consumer that only reads the bytes. Also: in-process ``publish()``.
2. Tail latency: a producer process writes 1,000 lines/s through SyslogWriter; a client process
   reads a text/plain tail session over HTTP from uvicorn; latency = receipt - write time.
   Reference: the same writer into a bare socket reader (the socket hop alone).

Targets: ingest >= 50,000 lines/s with 10 tails on one core; tail p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.routing import Mount

from pyroku.logs import LogLine, Logplex, SyslogWriter
from pyroku.logs._syslog import FrameDecoder, encode, parse

TAILS = 10
MESSAGE = 'at=info method=GET path="/api/items?page={i}" host=bench.example.com status=200 bytes=1534 seq={i}'


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {cpu})


# -- in-process tail readers: the stream app's own code path, without HTTP --


class NullReader:
    """Reads one tail session through the ASGI stream app and counts the lines it gets."""

    def __init__(self, app: Any, secret: str, expect: int, done: Callable[[], None]) -> None:
        self.lines = 0
        self.first = float("inf")  # when the first line arrived
        self._expect = expect
        self._done = done
        self._hangup = asyncio.Event()
        self._scope = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": f"/{secret}", "raw_path": f"/{secret}".encode(),
            "root_path": "", "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        self.task = asyncio.ensure_future(app(self._scope, self._receive, self._send))

    async def _receive(self) -> dict[str, Any]:
        await self._hangup.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: dict[str, Any]) -> None:
        body = message.get("body")
        if body:
            if not self.lines:
                self.first = time.perf_counter()
            before = self.lines
            self.lines += body.count(b"\n")
            if before < self._expect <= self.lines:
                self._done()

    def hang_up(self) -> None:
        self._hangup.set()


async def _open_tails(logplex: Logplex, app_id: str, expect: int) -> tuple[list[NullReader], asyncio.Event]:
    finished = asyncio.Event()
    remaining = [TAILS]

    def one_done() -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            finished.set()

    stream_app = logplex.asgi_app()
    readers = [
        NullReader(stream_app, logplex.create_session(app_id, lines=0, tail=True).secret, expect, one_done)
        for _ in range(TAILS)
    ]
    while logplex.stats()["tails"] < TAILS:
        await asyncio.sleep(0.001)
    return readers, finished


async def _close_tails(readers: list[NullReader]) -> None:
    for reader in readers:
        reader.hang_up()
    await asyncio.gather(*(reader.task for reader in readers))


# -- 1. throughput --


def throughput_server(conn: Connection, mode: str, data_dir: str, count: int) -> None:
    """Pinned to CPU 0. mode 'logplex': the real thing; 'raw': read the socket and throw bytes away."""
    pin(0)

    async def main() -> None:
        path = Path(data_dir) / "logplex.sock"
        if mode in ("raw", "parse"):
            done = asyncio.Event()
            total = [0, conn.recv()]  # bytes seen, bytes expected
            first = [0.0]
            decoder = FrameDecoder()

            class Sink(asyncio.Protocol):
                def data_received(self, data: bytes) -> None:
                    if not total[0]:
                        first[0] = time.perf_counter()
                    total[0] += len(data)
                    if mode == "parse":
                        for frame in decoder.feed(data):
                            parse(frame)
                    if total[0] >= total[1]:
                        done.set()

            server = await asyncio.get_running_loop().create_unix_server(Sink, str(path))
            conn.send(str(path))
            await done.wait()
            conn.send({"elapsed": time.perf_counter() - first[0]})
            server.close()
            return
        logplex = Logplex(data_dir, flush_interval=0.5)
        await logplex.start()
        app_id = conn.recv()
        readers, finished = await _open_tails(logplex, app_id, count)
        conn.send(str(logplex.socket_path))
        try:
            await asyncio.wait_for(finished.wait(), 600)
        except TimeoutError:
            print("tails did not receive every line (dropped: see tail_lines)")
        elapsed = time.perf_counter() - min(r.first for r in readers)
        conn.send({"elapsed": elapsed, "tail_lines": [r.lines for r in readers], "stats": logplex.stats()})
        await _close_tails(readers)
        await logplex.close()

    uvloop.run(main())


def throughput_producer(path: str, frames: list[bytes]) -> None:
    pin(1)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        for start in range(0, len(frames), 500):
            sock.sendall(b"".join(frames[start : start + 500]))


def measure_socket(mode: str, count: int) -> tuple[float, Any]:
    app_id = str(uuid.uuid4())
    stamp = datetime.now(UTC)
    frames = [encode(LogLine(stamp, "heroku", "router", MESSAGE.format(i=i)), app_id) for i in range(count)]
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="lp-bench-") as data_dir:
        parent, child = ctx.Pipe()
        server = ctx.Process(target=throughput_server, args=(child, mode, data_dir, count))
        server.start()
        parent.send(sum(len(f) for f in frames) if mode in ("raw", "parse") else app_id)
        path = parent.recv()
        producer = ctx.Process(target=throughput_producer, args=(path, frames))
        producer.start()
        result = parent.recv()
        producer.join()
        server.join()
    return count / result["elapsed"], result


def measure_in_process(count: int) -> float:
    result: list[float] = []

    def run() -> None:
        pin(0)

        async def main() -> None:
            with tempfile.TemporaryDirectory(prefix="lp-bench-") as data_dir:
                logplex = Logplex(data_dir)
                await logplex.start()
                app_id = str(uuid.uuid4())
                readers, finished = await _open_tails(logplex, app_id, count)
                started = time.perf_counter()
                for i in range(count):
                    logplex.publish(app_id, "heroku", "router", MESSAGE.format(i=i))
                    if i % 200 == 199:
                        await asyncio.sleep(0)  # let the tails run, as the socket reader does between reads
                await finished.wait()
                result.append(count / (time.perf_counter() - started))
                await _close_tails(readers)
                await logplex.close()

        uvloop.run(main())

    run()
    return result[0]


# -- 2. latency --


def latency_server(conn: Connection, mode: str, data_dir: str) -> None:
    pin(0)

    async def main() -> None:
        if mode == "raw":
            latencies: list[float] = []
            expect = conn.recv()
            done = asyncio.Event()

            class Reader(asyncio.Protocol):
                def __init__(self) -> None:
                    self.decoder = FrameDecoder()

                def data_received(self, data: bytes) -> None:
                    now = time.monotonic_ns()
                    for frame in self.decoder.feed(data):
                        latencies.append((now - int(parse(frame).message.split()[-1])) / 1e6)
                    if len(latencies) >= expect:
                        done.set()

            path = Path(data_dir) / "raw.sock"
            bare = await asyncio.get_running_loop().create_unix_server(Reader, str(path))
            conn.send((str(path), None))
            await done.wait()
            conn.send(latencies)
            bare.close()
            return
        logplex = Logplex(data_dir)
        await logplex.start()
        app_id = conn.recv()
        session = logplex.create_session(app_id, lines=0, tail=True)
        api = Starlette(routes=[Mount("/log-stream", app=logplex.asgi_app())])
        config = uvicorn.Config(api, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none",
                                http="httptools", timeout_graceful_shutdown=1)
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        conn.send((str(logplex.socket_path), session.url(f"http://127.0.0.1:{port}/log-stream")))
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
        await logplex.close()
        server.should_exit = True
        await serving

    uvloop.run(main())


def latency_client(conn: Connection, url: str, expect: int) -> None:
    pin(1)
    latencies: list[float] = []
    with httpx.Client(timeout=30) as client, client.stream("GET", url) as response:
        conn.send("ready")
        for line in response.iter_lines():
            latencies.append((time.monotonic_ns() - int(line.rsplit(" ", 1)[1])) / 1e6)
            if len(latencies) >= expect:
                break
    conn.send(latencies)


def latency_producer(path: str, app_id: str, rate: int, count: int) -> None:
    pin(1)
    with SyslogWriter(path) as writer:
        interval = 1 / rate
        next_at = time.monotonic()
        for i in range(count):
            writer.write(app_id, "app", "web.1", f"latency probe {i} {time.monotonic_ns()}")
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        if writer.dropped:
            raise SystemExit(f"producer dropped {writer.dropped} lines")


def measure_latency(mode: str, rate: int, seconds: float) -> list[float]:
    count = int(rate * seconds)
    app_id = str(uuid.uuid4())
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="lp-bench-") as data_dir:
        parent, child = ctx.Pipe()
        server = ctx.Process(target=latency_server, args=(child, mode, data_dir))
        server.start()
        parent.send(count if mode == "raw" else app_id)
        path, url = parent.recv()
        client = None
        client_end = None
        if url is not None:
            client_end, client_child = ctx.Pipe()
            client = ctx.Process(target=latency_client, args=(client_child, url, count))
            client.start()
            assert client_end.recv() == "ready"
            time.sleep(0.2)  # let the tail subscribe before the first line
        producer = ctx.Process(target=latency_producer, args=(path, app_id, rate, count))
        producer.start()
        producer.join()
        if client is not None and client_end is not None:
            latencies: list[float] = client_end.recv()
            client.join()
            parent.send("stop")
        else:
            latencies = parent.recv()
        server.join()
    return latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=300_000, help="lines per throughput run")
    parser.add_argument("--rate", type=int, default=1_000, help="lines/s for the latency run")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency run")
    args = parser.parse_args()

    print(f"logplex benchmark: {os.cpu_count()} CPUs, uvloop {version('uvloop')}, {TAILS} tail sessions")
    raw_rate, _ = measure_socket("raw", args.lines)
    parse_rate, _ = measure_socket("parse", args.lines)
    rate, result = measure_socket("logplex", args.lines)
    in_process = measure_in_process(args.lines)
    dropped = args.lines * TAILS - sum(result["tail_lines"])
    print(f"ingest over the socket -> history + {TAILS} tails, logplex on 1 core: {rate:,.0f} lines/s "
          f"(tail lines lost: {max(dropped, 0)}; history lines: {result['stats']['lines_published']:,})")
    print(f"  reference: same socket, no-op consumer: {raw_rate:,.0f} lines/s "
          f"(logplex/raw = {rate / raw_rate:.3f})")
    print(f"  reference: same socket, frames decoded and parsed only: {parse_rate:,.0f} lines/s "
          f"(logplex/parse-only = {rate / parse_rate:.2f})")
    print(f"  in-process publish() -> history + {TAILS} tails, 1 core: {in_process:,.0f} lines/s")

    raw_lat = measure_latency("raw", args.rate, args.seconds)
    lat = measure_latency("logplex", args.rate, args.seconds)
    p50, p99 = statistics.median(lat), percentile(lat, 99)
    r50, r99 = statistics.median(raw_lat), percentile(raw_lat, 99)
    print(f"tail latency, writer -> socket -> logplex -> uvicorn -> httpx client, {args.rate:,} lines/s "
          f"for {args.seconds:g} s ({len(lat):,} lines): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(lat):.2f} ms")
    print(f"  reference: writer -> bare socket reader: p50 {r50:.3f} ms, p99 {r99:.3f} ms "
          f"(logplex/raw p99 = {p99 / r99:.1f}x)")
    ok_rate = "met" if rate >= 50_000 else "MISSED"
    ok_lat = "met" if p99 < 50 else "MISSED"
    print(f"targets: ingest >= 50,000 lines/s {ok_rate}; tail p99 < 50 ms {ok_lat}")


if __name__ == "__main__":
    main()
