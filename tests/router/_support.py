"""Real sockets for router tests: small backends, a raw HTTP client, the router in-process or as a process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httptools

from pyroku.router import (
    AppRoute,
    DynoRoute,
    Limits,
    ListSink,
    Router,
    RouterConfig,
    RoutingTable,
    Timeouts,
    save_table,
)
from pyroku.router._loop import loop_factory

LOOPS = ["uvloop", "asyncio"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def run(coro_fn: Callable[[], Awaitable[None]], loop: str = "uvloop", timeout: float = 30.0) -> None:
    """Run one async scenario on a fresh loop of the given kind, bounded in time."""

    async def bounded() -> None:
        await asyncio.wait_for(coro_fn(), timeout)

    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:  # type: ignore[arg-type]
        runner.run(bounded())


# -- the routing table --------------------------------------------------------------------------


def app(name: str, *ports: int, hostnames: tuple[str, ...] | None = None, state: str = "up",
        **fields: Any) -> AppRoute:
    """An app with one ``up`` web dyno per port on 127.0.0.1."""
    dynos = tuple(DynoRoute(f"web.{i + 1}", "127.0.0.1", port, state) for i, port in enumerate(ports))  # type: ignore[arg-type]
    fields.setdefault("web_quantity", max(1, len(ports)))
    return AppRoute(name=name, hostnames=hostnames or (f"{name}.localhost",), dynos=dynos, **fields)


def table(*apps: AppRoute, version: int = 1) -> RoutingTable:
    return RoutingTable(version=version, apps={f"id-{a.name}": a for a in apps})


# -- a raw HTTP client --------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def json(self) -> Any:
        return json.loads(self.body)


class RawClient:
    """Speaks bytes to the router and parses what comes back (no Host magic, no retries)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, **kwargs: Any) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 22, **kwargs)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def request(self, method: str = "GET", path: str = "/", host: str = "myapp.localhost",
                      headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> Response:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
        for name, value in headers or []:
            lines.append(f"{name}: {value}")
        if body and not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers or []):
            lines.append(f"Content-Length: {len(body)}")
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await self.response(head_request=method == "HEAD")

    async def response(self, head_request: bool = False) -> Response:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].decode("latin-1").split("\r\n")
        _, status, *reason = lines[0].split(" ", 2)
        headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        response = Response(int(status), reason[0] if reason else "", headers, b"", head)
        if head_request or response.status in (101, 204, 304) or 100 <= response.status < 200:
            return response
        length = response.header("content-length")
        if response.header("transfer-encoding") == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            response.body = b"".join(chunks)
        elif length is not None:
            response.body = await self.reader.readexactly(int(length))
        else:
            response.body = await self.reader.read()
        return response

    async def closed(self, timeout: float = 5.0) -> bool:
        """True when the router closes the connection (EOF or reset) within ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                if not await asyncio.wait_for(self.reader.read(65536), max(remaining, 0.001)):
                    return True
        except ConnectionError:
            return True
        except TimeoutError:
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


# -- backends -----------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    version: str = "1.1"

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None


class _RequestParser:
    def __init__(self) -> None:
        self.done: list[Request] = []
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self.upgrade_rest: bytes | None = None

    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.upgrade_rest = data[exc.args[0]:]

    def on_message_begin(self) -> None:
        self._url, self._headers, self._body = b"", [], []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        method = self._parser.get_method().decode()
        self.done.append(Request(method, self._url.decode("latin-1"), self._headers, b"".join(self._body),
                                 self._parser.get_http_version()))


Handler = Callable[[Request, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[bool | None]]
"""Writes a response; returns False to close the connection."""


def http_response(status: int = 200, body: bytes = b"", headers: list[tuple[str, str]] | None = None,
                  reason: str = "OK") -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers or []]
    if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers or []):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def echo(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Answers JSON describing the request it received."""
    body = json.dumps({
        "method": request.method, "path": request.path, "headers": request.headers,
        "body_length": len(request.body), "body": request.body[:1000].decode("latin-1"),
        "version": request.version,
    }).encode()
    writer.write(http_response(200, body, [("Content-Type", "application/json")]))
    return True


@dataclass
class Backend:
    """An HTTP/1.1 backend on a free port, on the current loop; counts connections and requests."""

    handler: Handler = echo
    port: int = 0
    connections: int = 0
    requests: list[Request] = field(default_factory=list)
    server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> Backend:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        parser = _RequestParser()
        try:
            while True:
                while not parser.done:
                    data = await reader.read(65536)
                    if not data:
                        return
                    parser.feed(data)
                request = parser.done.pop(0)
                self.requests.append(request)
                keep = await self.handler(request, reader, writer)
                await writer.drain()
                if keep is False:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._tasks.discard(task)
            writer.close()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def backend(handler: Handler = echo) -> AsyncIterator[Backend]:
    server = await Backend(handler).start()
    try:
        yield server
    finally:
        await server.stop()


# -- the router in-process ----------------------------------------------------------------------


FAST = Timeouts(connect=0.5, quarantine=0.5, first_byte=0.5, idle=0.5, boot=1.0, keepalive=5.0, shutdown_grace=1.0)


@contextlib.asynccontextmanager
async def router(tmp_path: Path, routing: RoutingTable, timeouts: Timeouts | None = None,
                 limits: Limits | None = None, https: bool = False, own_sink: bool = False,
                 **config: Any) -> AsyncIterator[InProcess]:
    """The router on the running loop; log lines go to a ListSink unless ``own_sink`` (then per config)."""
    table_path = tmp_path / "routes.json"
    save_table(table_path, routing)
    sink = ListSink()
    cfg = RouterConfig(table_path=table_path, port=0, https_port=0 if https else None,
                       timeouts=timeouts or Timeouts(), limits=limits or Limits(), table_poll_interval=0.05,
                       metrics_interval=3600, **config)
    instance = Router(cfg, sink=None if own_sink else sink)
    await instance.start()
    try:
        yield InProcess(instance, sink, table_path)
    finally:
        await instance.stop(grace=0.5)


@dataclass
class InProcess:
    router: Router
    sink: ListSink
    table_path: Path

    @property
    def port(self) -> int:
        return self.router.port

    @property
    def lines(self) -> list[str]:
        return [line for _, line in self.sink.lines]

    async def client(self) -> RawClient:
        return await RawClient.connect(self.port)

    async def get(self, path: str = "/", host: str = "myapp.localhost", **kwargs: Any) -> Response:
        client = await self.client()
        try:
            return await client.request(path=path, host=host, **kwargs)
        finally:
            await client.close()

    async def publish(self, routing: RoutingTable) -> None:
        """Save a new table and wait until the router applied it."""
        save_table(self.table_path, routing)
        deadline = asyncio.get_running_loop().time() + 5
        while self.router.routes.table.version != routing.version:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the router did not pick up the table")
            await asyncio.sleep(0.02)

    async def line(self, index: int = -1, timeout: float = 5.0) -> str:
        """A log line, waiting for it to be written (lines come after the response)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sink.lines) < (index + 1 if index >= 0 else -index):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no log line #{index}: {self.lines}")
            await asyncio.sleep(0.01)
        return self.sink.lines[index][1]


def fields(line: str) -> dict[str, str]:
    """``key=value`` pairs of a router log line (quotes removed)."""
    return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S*)', line)}


# -- the router as a process --------------------------------------------------------------------


@dataclass
class RouterProcess:
    table_path: Path
    port: int
    https_port: int | None
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def rss_peak_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def listeners(self) -> int:
        """How many sockets listen on the HTTP port (one per worker)."""
        count = 0
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == self.port:
                count += 1
        return count

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def router_process(tmp_path: Path, routing: RoutingTable | None, *extra: str, https: bool = False,
                   write_table: bool = True) -> Iterator[RouterProcess]:
    table_path = tmp_path / "routes.json"
    if routing is not None and write_table:
        save_table(table_path, routing)
    port = free_port()
    https_port = free_port() if https else None
    argv = [sys.executable, "-m", "pyroku.router", "--table", str(table_path), "--port", str(port), *extra]
    if https_port:
        argv += ["--https-port", str(https_port)]
    log_path = tmp_path / f"router-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    handle = RouterProcess(table_path, port, https_port, process, log_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError(f"router exited:\n{handle.output()}")
            try:
                socket.create_connection(("127.0.0.1", https_port or port), timeout=1).close()
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"router did not listen:\n{handle.output()}") from None
                time.sleep(0.05)
        yield handle
    finally:
        handle.stop()


# -- a backend in a thread, for tests that drive a router process synchronously -----------------


class ThreadedBackend:
    """A :class:`Backend` on its own loop in a daemon thread."""

    def __init__(self, handler: Handler = echo) -> None:
        self._handler = handler
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self.backend: Backend | None = None

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self.backend = self._loop.run_until_complete(Backend(self._handler).start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.backend.stop())
        self._loop.close()

    def __enter__(self) -> ThreadedBackend:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def port(self) -> int:
        assert self.backend is not None
        return self.backend.port


def replace_app(routing: RoutingTable, name: str, version: int, **changes: Any) -> RoutingTable:
    apps = dict(routing.apps)
    apps[f"id-{name}"] = replace(apps[f"id-{name}"], **changes)
    return RoutingTable(version=version, apps=apps, default_cert=routing.default_cert)


class ThreadedServer:
    """A raw asyncio stream server (``callback(reader, writer)``) on its own loop in a daemon thread."""

    def __init__(self, callback: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]) -> None:
        self._callback = callback
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._callback, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for task in asyncio.all_tasks(self._loop):
            task.cancel()
        self._loop.run_until_complete(asyncio.sleep(0.05))
        self._loop.close()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def http_get(port: int, path: str = "/", host: str = "myapp.localhost", timeout: float = 10.0,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A blocking one-shot GET over a plain socket: (status, lowercase headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra}\r\n".encode())
        received = bytearray()
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if parsed.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if not size:
                break
            out, rest = out + rest[:size], rest[size + 2 :]
        body = out
    return int(lines[0].split(" ")[1]), parsed, body
