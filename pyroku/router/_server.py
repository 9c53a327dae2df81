"""One router process: listeners, routing state, table watcher, log sink, metrics, graceful stop.

:class:`Router` is usable in-process (tests run it on their own loop); :func:`run_worker` is the
body of a router process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import resource
import signal
import socket
import ssl
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyroku.router._client import ClientProtocol
from pyroku.router._config import RouterConfig
from pyroku.router._context import RouterContext
from pyroku.router._exceptions import RouterError, RoutingTableError
from pyroku.router._loop import loop_factory
from pyroku.router._metrics import metrics_path, write_snapshot
from pyroku.router._routes import RouteState
from pyroku.router._sink import BufferedLogSink, LogShipper, NullSink, RequestLogSink, StreamShipper, SyslogShipper
from pyroku.router._tls import CertStore, ensure_default_cert
from pyroku.router._watcher import TableWatcher
from pyroku.router.table import RoutingTable, load

logger = logging.getLogger("pyroku.router")

_SWEEP_INTERVAL = 10.0
_BACKLOG = 4096


def _listen(host: str, port: int, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                         flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(_BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise RouterError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


class Router:
    """The serving machinery of one router process."""

    def __init__(self, config: RouterConfig, *, sink: RequestLogSink | None = None, worker: int = 0,
                 reuse_port: bool = False) -> None:
        self.config = config
        self.worker = worker
        self._reuse_port = reuse_port
        self._sink = sink
        self._owned_sink: BufferedLogSink | None = None
        self._shippers: list[LogShipper] = []
        self.routes = RouteState(config.limits)
        self.certs: CertStore | None = None
        self.watcher = TableWatcher(config.table_path, self._apply, config.table_poll_interval)
        self._servers: list[asyncio.Server] = []
        self._timers: list[asyncio.TimerHandle] = []
        self.ctx: RouterContext | None = None
        self.port = 0
        self.https_port = 0

    def _apply(self, table: RoutingTable) -> None:
        self.routes.update(table)
        if self.certs is not None:
            self.certs.update(table)

    def _make_sink(self, loop: asyncio.AbstractEventLoop) -> RequestLogSink:
        if self._sink is not None:
            return self._sink
        shippers = self._shippers
        if self.config.log_socket is not None:
            shippers.append(SyslogShipper(self.config.log_socket))
        if self.config.log_stdout:
            shippers.append(StreamShipper())
        if not shippers:
            return NullSink()
        self._owned_sink = BufferedLogSink(shippers, loop, self.config.log_flush_interval)
        return self._owned_sink

    async def start(self) -> None:
        config = self.config
        loop = asyncio.get_running_loop()
        try:
            self.routes.update(load(config.table_path))
        except RoutingTableError as exc:
            logger.warning("%s; starting with an empty routing table", exc)
        if config.https_port is not None:
            self.certs = CertStore(ensure_default_cert(config.effective_cert_dir))
            self.certs.update(self.routes.table)
        ctx = self.ctx = RouterContext(config, loop, self._make_sink(loop), self.routes)
        self.watcher.start()
        sock = _listen(config.host, config.port, self._reuse_port)
        self.port = sock.getsockname()[1]
        tail = ctx.forwarded_tail("http", self.port)
        self._servers.append(await loop.create_server(lambda: ClientProtocol(ctx, "http", tail), sock=sock,
                                                      backlog=_BACKLOG))
        if config.https_port is not None and self.certs is not None:
            sock = _listen(config.host, config.https_port, self._reuse_port)
            self.https_port = sock.getsockname()[1]
            tls_tail = ctx.forwarded_tail("https", self.https_port)
            self._servers.append(await loop.create_server(
                lambda: ClientProtocol(ctx, "https", tls_tail), sock=sock, backlog=_BACKLOG,
                ssl=self.certs.context, ssl_handshake_timeout=config.timeouts.tls_handshake))
        self._every(_SWEEP_INTERVAL, self._sweep)
        self._every(config.metrics_interval, self.write_metrics)

    def _every(self, interval: float, job: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()

        def tick() -> None:
            try:
                job()
            except Exception:
                logger.exception("periodic router job failed")
            self._timers[index] = loop.call_later(interval, tick)

        index = len(self._timers)
        self._timers.append(loop.call_later(interval, tick))

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self.routes.sweep(loop.time() - self.config.timeouts.pool_idle)

    def write_metrics(self) -> None:
        directory = self.config.effective_metrics_dir
        shipped = dropped = 0
        for shipper in self._shippers:
            if isinstance(shipper, SyslogShipper):
                shipped += shipper.sent
                dropped += shipper.dropped
        extra = {"connections": len(self.ctx.connections) if self.ctx else 0,
                 "log_lines": {"shipped": shipped, "dropped": dropped}}
        try:
            write_snapshot(metrics_path(Path(directory), self.worker),
                           {app_id: state.metrics for app_id, state in self.routes.apps.items()}, self.worker, extra)
        except OSError as exc:
            logger.warning("cannot write router metrics to %s: %s", directory, exc.strerror)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, close idle connections, give requests in flight ``grace`` seconds."""
        grace = self.config.timeouts.shutdown_grace if grace is None else grace
        ctx = self.ctx
        for server in self._servers:
            server.close()
        self.watcher.stop()
        for timer in self._timers:
            timer.cancel()
        if ctx is not None:
            ctx.shutting_down = True
            for conn in list(ctx.connections):
                conn.shutdown()
            if ctx.connections:
                drained = ctx.drained = asyncio.get_running_loop().create_future()
                await asyncio.wait((drained,), timeout=grace)
            for conn in list(ctx.connections):
                if conn.transport is not None:
                    conn.transport.abort()
        for backend in self.routes.backends.values():
            backend.retire()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self.write_metrics()
        if self._owned_sink is not None:
            self._owned_sink.close()


def _quiet_connection_errors(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Clients that reset, time out or speak garbage to the TLS port are routine, not errors."""
    exc = context.get("exception")
    if isinstance(exc, ssl.SSLError | ConnectionError | TimeoutError):
        logger.debug("connection error: %s", context.get("message"), exc_info=exc)
        return
    loop.default_exception_handler(context)


def _raise_open_files_limit() -> None:
    """A proxy holds two descriptors per request in flight and one per idle client: use the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _request_path() -> str:
    """``compiled`` when the mypyc-built modules are in use (``scripts/build_native.py``), else ``interpreted``."""
    module = sys.modules[ClientProtocol.__module__]
    return "compiled" if (module.__file__ or "").endswith(".so") else "interpreted"


def run_worker(config: RouterConfig, worker: int = 0) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully."""
    _raise_open_files_limit()

    async def main() -> None:
        router = Router(config, worker=worker, reuse_port=config.workers > 1)
        await router.start()
        # Everything allocated so far lives as long as the process: keep it out of the collector's
        # sweeps, so that full collections stay short and do not show in tail latency.
        gc.collect()
        gc.freeze()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_quiet_connection_errors)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        logger.info("router worker %d serving on %s:%d (request path %s)", worker, config.host, router.port,
                    _request_path())
        await stop.wait()
        await router.stop()

    with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
        runner.run(main())
