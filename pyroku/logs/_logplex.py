"""The Logplex: per-app history, log sessions and tails, drains, and the local ingestion socket."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TypeVar

import httpx
from starlette.types import ASGIApp

from pyroku.logs import _syslog
from pyroku.logs._drain_http import HttpDrain, new_http_client
from pyroku.logs._drain_syslog import SyslogDrain
from pyroku.logs._drain_url import DrainTarget, check_spec
from pyroku.logs._drains import DrainSettings, DrainWorker, LogDrain
from pyroku.logs._exceptions import InvalidDrain, InvalidFilter, InvalidLogLine, TooManyDrains
from pyroku.logs._history import AppHistory, HistoryStore
from pyroku.logs._ingest import IngestServer
from pyroku.logs._lines import (
    check_app_id,
    check_source,
    clean_process,
    format_line,
    split_message,
    to_utc,
)
from pyroku.logs._sessions import SESSION_TTL, TAIL_BUFFER, LiveBuffer, SessionRegistry, Tail, line_filter
from pyroku.logs._stream import OpenStream, build_stream_app
from pyroku.logs.types import (
    DEFAULT_LINES,
    HISTORY_LINES,
    MAX_DRAINS_PER_APP,
    SOURCES,
    DrainSpec,
    LogLine,
    LogSession,
)

logger = logging.getLogger("pyroku.logs")

FLUSH_INTERVAL: Final = 0.5
_SWEEP_INTERVAL: Final = 60.0
_T = TypeVar("_T")


class _Streams:
    """The Logplex as the stream app sees it."""

    def __init__(self, logplex: Logplex) -> None:
        self._logplex = logplex

    def open_stream(self, secret: str, after: int | None) -> OpenStream | None:
        return self._logplex._open_stream(secret, after)

    def close_stream(self, stream: OpenStream) -> None:
        self._logplex._close_stream(stream)


class Logplex:
    """Per-app log router: history ring (persisted under ``data_dir``), log sessions, drains.

    Usable synchronously before :meth:`start` (history and publishing only). After ``await
    start()`` it belongs to that event loop: drains, tails and the ingestion socket run there, and
    every method may still be called from other threads (the call is handed to the loop).
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        socket_path: str | os.PathLike[str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        drain_settings: DrainSettings | None = None,
        session_ttl: float = SESSION_TTL,
        tail_buffer: int = TAIL_BUFFER,
        flush_interval: float = FLUSH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``socket_path``: the ingestion socket (default ``<data_dir>/logplex.sock``);
        ``ssl_context``: validates TLS drains (default: the system's CAs); ``drain_settings``:
        buffer, timeouts and backoff of drains; ``session_ttl``: seconds an unused log session
        lives; ``tail_buffer``: lines a tail may fall behind before it loses the oldest (L11);
        ``flush_interval``: seconds published lines may wait in memory before their history file
        is appended; ``clock``: monotonic seconds, for session expiry."""
        data = Path(data_dir)
        self._store = HistoryStore(data / "history")
        self._ingest = IngestServer(Path(socket_path) if socket_path else data / "logplex.sock", self._on_frame)
        self._ssl = ssl_context
        self._drain_settings = drain_settings or DrainSettings()
        self._tail_buffer = tail_buffer
        self._flush_interval = flush_interval
        self._sessions = SessionRegistry(clock, session_ttl)
        self._apps: dict[str, AppHistory] = {}
        self._live: dict[str, LiveBuffer] = {}  # apps being tailed
        self._drains: dict[str, dict[str, DrainWorker]] = {}
        self._retired: set[asyncio.Task[None]] = set()
        self._dirty: set[str] = set()
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._flush_timer: asyncio.TimerHandle | None = None
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._published = 0
        self._frames = 0
        self._rejected = 0

    @property
    def socket_path(self) -> Path:
        """Where :class:`SyslogWriter` connects (``<data_dir>/logplex.sock`` unless given)."""
        return self._ingest.path

    # -- lifecycle --

    async def start(self) -> None:
        """Bind the ingestion socket and start drains on the running loop."""
        if self._loop is not None or self._closed:
            raise RuntimeError("Logplex.start() may be called once")
        await self._ingest.start()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        for workers in self._drains.values():
            for worker in workers.values():
                worker.start()
        if self._dirty:
            self._schedule_flush()
        self._sweep_timer = self._loop.call_later(_SWEEP_INTERVAL, self._sweep)

    async def close(self) -> None:
        """Stop ingesting, end tail streams, give drains ``close_grace`` to flush, persist history."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None:
            await self._ingest.close()
        self._sessions.clear()
        self._end_streams()
        workers = [w for ws in self._drains.values() for w in ws.values()]
        grace = self._drain_settings.close_grace
        if workers:
            await asyncio.gather(*(worker.close(grace) for worker in workers))
        if self._retired:
            await asyncio.wait(self._retired, timeout=grace)
        if self._http is not None:
            await self._http.aclose()
        for timer in (self._flush_timer, self._sweep_timer):
            if timer is not None:
                timer.cancel()
        self._flush_dirty()
        self._loop = None

    def end_streams(self) -> None:
        """End every tail stream now (sessions stay valid; clients may reconnect and resume).

        A server shutting down calls this first: uvicorn waits for open responses before it runs
        shutdown code, and a tail never ends by itself. From a signal handler, schedule it with
        ``loop.call_soon_threadsafe(logplex.end_streams)``.
        """
        self._call(self._end_streams)

    def _end_streams(self) -> None:
        for live in self._live.values():
            for tail in live.tails:
                tail.close()

    # -- ingestion --

    def publish(
        self,
        app_id: str,
        source: str,
        process: str,
        message: str | bytes,
        timestamp: datetime | None = None,
    ) -> None:
        """Record a message for an app: never blocks, never raises on bad bytes.

        One line per newline; lines over 10,000 bytes are split; invalid UTF-8 and control
        characters are escaped. ``timestamp`` defaults to now (naive means UTC). Raises
        :class:`InvalidLogLine` only for an invalid ``app_id`` or ``source``. Ignored once closed.
        """
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            check_app_id(app_id)
            check_source(source)
            stamp = datetime.now(UTC) if timestamp is None else timestamp  # when it happened, not when handled
            loop.call_soon_threadsafe(self._publish, app_id, source, process, message, stamp)
            return
        self._publish(app_id, source, process, message, timestamp)

    def _publish(
        self, app_id: str, source: str, process: str, message: str | bytes, timestamp: datetime | None
    ) -> None:
        if self._closed:
            return
        history = self._apps.get(app_id)
        if history is None:
            history = self._load(check_app_id(app_id))
        if source not in SOURCES:
            check_source(source)
        stamp = datetime.now(UTC) if timestamp is None else to_utc(timestamp)
        process = clean_process(process)
        live = self._live.get(app_id)
        drains = self._drains.get(app_id)
        ring = history.lines
        texts = split_message(message)
        for text in texts:
            line = LogLine(stamp, source, process, text, history.next_seq)
            history.next_seq += 1
            ring.append(line)
            if live is not None:
                live.append(line)
            if drains:
                for worker in drains.values():
                    worker.offer(line)
        if live is not None:
            live.wake()
        history.unsaved += len(texts)
        self._published += len(texts)
        if app_id not in self._dirty:
            self._dirty.add(app_id)
            self._schedule_flush()

    def _on_frame(self, data: bytes) -> None:
        self._frames += 1
        try:
            frame = _syslog.parse(data)
            self._publish(frame.hostname, frame.app_name, frame.procid, frame.message, frame.timestamp)
        except (_syslog.FrameError, InvalidLogLine) as exc:
            self._rejected += 1
            logger.debug("rejected a log frame: %s", exc)

    # -- history --

    def _load(self, app_id: str) -> AppHistory:
        history = self._apps[app_id] = self._store.load(app_id)
        return history

    def history(
        self, app_id: str, lines: int = DEFAULT_LINES, source: str | None = None, dyno: str | None = None
    ) -> list[LogLine]:
        """The last ``lines`` (at most 1,500) lines matching the filters, oldest first.

        ``source`` matches exactly; ``dyno`` matches a process exactly or as the part before a dot
        (``web`` matches ``web.1``; ``web.1`` only ``web.1``).
        """
        check_app_id(app_id)
        count = _check_lines(lines)
        return self._call(self._history, app_id, count, source, dyno, None)

    def _history(
        self, app_id: str, count: int, source: str | None, dyno: str | None, after: int | None
    ) -> list[LogLine]:
        history = self._apps.get(app_id) or self._load(app_id)
        ring = history.lines
        matches = line_filter(source, dyno)
        if count <= 0:
            return []
        if matches is None and after is None:
            return list(ring)[-count:]
        out: list[LogLine] = []
        for line in reversed(ring):
            if after is not None and line.seq <= after:
                break
            if matches is None or matches(line):
                out.append(line)
                if len(out) >= count:
                    break
        out.reverse()
        return out

    def forget(self, app_id: str) -> None:
        """Drop everything about an app (history, file, sessions, tails, drains): it was destroyed."""
        check_app_id(app_id)
        self._call(self._forget, app_id)

    def _forget(self, app_id: str) -> None:
        self._apps.pop(app_id, None)
        self._dirty.discard(app_id)
        self._store.remove(app_id)
        self._sessions.delete_app(app_id)
        live = self._live.pop(app_id, None)
        for tail in live.tails if live is not None else []:
            tail.close()
        self._apply_drains(app_id, [])

    def flush(self) -> None:
        """Write lines still held in memory to the history files now."""
        self._call(self._flush_dirty)

    def _schedule_flush(self) -> None:
        if self._loop is not None and self._flush_timer is None:
            self._flush_timer = self._loop.call_later(self._flush_interval, self._flush_dirty)

    def _flush_dirty(self) -> None:
        self._flush_timer = None
        dirty, self._dirty = self._dirty, set()
        for app_id in dirty:
            history = self._apps.get(app_id)
            if history is not None:
                self._store.save(app_id, history)

    # -- sessions --

    def create_session(
        self,
        app_id: str,
        *,
        lines: int = DEFAULT_LINES,
        tail: bool = False,
        source: str | None = None,
        dyno: str | None = None,
    ) -> LogSession:
        """A new log session; serve it with :meth:`asgi_app` at ``session.url(base)``."""
        check_app_id(app_id)
        count = _check_lines(lines)
        for name, value in (("source", source), ("dyno", dyno)):
            if value is not None and (not isinstance(value, str) or not value or not value.isprintable()):
                raise InvalidFilter(f"invalid {name} filter {value!r}")
        return self._call(self._sessions.create, app_id, count, bool(tail), source, dyno)

    def get_session(self, secret: str) -> LogSession | None:
        """The session for ``secret`` unless unknown or expired."""
        entry = self._call(self._sessions.get, secret)
        return None if entry is None else entry.session

    def delete_session(self, secret: str) -> bool:
        """End a session and its streams; False if there was none."""
        return self._call(self._sessions.delete, secret)

    def _open_stream(self, secret: str, after: int | None) -> OpenStream | None:
        entry = self._sessions.get(secret)
        if entry is None or self._closed:
            return None
        session = entry.session
        app_id = session.app_id
        history = self._apps.get(app_id) or self._load(app_id)
        tail = None
        if session.tail:
            live = self._live.get(app_id)
            if live is None:
                live = self._live[app_id] = LiveBuffer(self._tail_buffer, history.next_seq - 1)
            tail = Tail(live, line_filter(session.source, session.dyno))
            entry.tails.add(tail)
        count = session.lines if after is None else HISTORY_LINES
        backlog = self._history(app_id, count, session.source, session.dyno, after)
        entry.active += 1
        return OpenStream(entry, [(line, format_line(line)) for line in backlog], tail)

    def _close_stream(self, stream: OpenStream) -> None:
        tail = stream.tail
        if tail is not None:
            tail.close()
            stream.entry.tails.discard(tail)
            live = tail.live
            if tail in live.tails:
                live.tails.remove(tail)
            app_id = stream.entry.session.app_id
            if not live.tails and self._live.get(app_id) is live:
                del self._live[app_id]  # nobody tails the app: stop rendering its lines
        stream.entry.active -= 1
        self._sessions.touch(stream.entry)

    def _sweep(self) -> None:
        self._sessions.sweep()
        if self._loop is not None and not self._closed:
            self._sweep_timer = self._loop.call_later(_SWEEP_INTERVAL, self._sweep)

    def asgi_app(self) -> ASGIApp:
        """The log-stream app to mount (e.g. at ``/log-stream``) on the server running this Logplex."""
        return build_stream_app(_Streams(self))

    # -- drains --

    def set_drains(self, app_id: str, drains: Iterable[DrainSpec]) -> None:
        """Make the app's running drains exactly ``drains`` (desired state; call on start and on change).

        Raises :class:`InvalidDrain` (bad URL, token, duplicate id) or :class:`TooManyDrains`,
        changing nothing.
        """
        check_app_id(app_id)
        specs = list(drains)
        if len(specs) > MAX_DRAINS_PER_APP:
            raise TooManyDrains(f"an app can have at most {MAX_DRAINS_PER_APP} log drains")
        if len({spec.id for spec in specs}) != len(specs):
            raise InvalidDrain("drain ids must be unique")
        targets = [(spec, check_spec(spec)) for spec in specs]
        self._call(self._apply_drains, app_id, targets)

    def _apply_drains(self, app_id: str, targets: list[tuple[DrainSpec, DrainTarget]]) -> None:
        current = self._drains.pop(app_id, {})
        desired = {spec.id: (spec, target) for spec, target in targets}
        kept: dict[str, DrainWorker] = {}
        for drain_id, worker in current.items():
            wanted = desired.get(drain_id)
            if wanted is not None and wanted[0] == worker.spec:
                kept[drain_id] = worker
                continue
            task = worker.cancel()
            if task is not None:
                self._retired.add(task)
                task.add_done_callback(self._retired.discard)
        for drain_id, (spec, target) in desired.items():
            if drain_id in kept:
                continue
            worker = DrainWorker(
                app_id, spec, target, self._new_drain(target, spec.token), self._drain_settings,
                self._certificate_error,
            )
            kept[drain_id] = worker
            if self._loop is not None and not self._closed:
                worker.start()
        if kept:
            self._drains[app_id] = kept

    def _new_drain(self, target: DrainTarget, token: str) -> LogDrain:
        if target.scheme.startswith("syslog"):
            return SyslogDrain(target, token, self._drain_settings, self._ssl_context())
        return HttpDrain(target, token, self._drain_settings, self._http_client)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = new_http_client(self._drain_settings, self._ssl_context())
        return self._http

    def _certificate_error(self, app_id: str, target: DrainTarget, reason: str) -> None:
        reason = reason.replace('"', "'")
        self._publish(
            app_id, "heroku", "logplex",
            f'Error L14 (certificate validation): error="{reason}" uri="{target.redacted}"', None,
        )

    # -- plumbing --

    def stats(self) -> dict[str, int]:
        """Counters for diagnostics and tests."""
        def collect() -> dict[str, int]:
            workers = [w for ws in self._drains.values() for w in ws.values()]
            return {
                "lines_published": self._published,
                "frames_received": self._frames,
                "frames_rejected": self._rejected,
                "sessions": len(self._sessions),
                "tails": sum(len(live.tails) for live in self._live.values()),
                "drains": len(workers),
                "drain_lines_delivered": sum(w.delivered for w in workers),
                "drain_lines_dropped": sum(w.dropped_total for w in workers),
            }
        return self._call(collect)

    def _call(self, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn`` on the Logplex's loop: directly from the loop thread (or before start),
        otherwise handed over and waited for."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            return fn(*args)
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as exc:
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result()


def _check_lines(lines: int) -> int:
    if isinstance(lines, bool) or not isinstance(lines, int) or lines < 0:
        raise InvalidFilter(f"lines must be a whole number from 0 to {HISTORY_LINES}, not {lines!r}")
    return min(lines, HISTORY_LINES)

