"""The client side of the router: one :class:`ClientProtocol` per accepted connection.

Requests are parsed with httptools; when a request head is complete the app is found by Host, a
random ``up`` web dyno is picked, a pooled (or new) :class:`UpstreamConnection` is lent to the
exchange, and bodies stream both ways under flow control: a side whose write buffer is above its
high-water mark pauses reading on the other side. Pipelined requests wait their turn.

Timers: one loop timer per connection at most, checked lazily. A phase sets its kind and base time;
when the timer fires it recomputes the deadline of the current phase and re-arms if it has not
passed, so steady keep-alive traffic costs no timer operations per request.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from typing import Final, cast

import httptools

from pyroku.router import _pages as pages
from pyroku.router._context import RouterContext
from pyroku.router._exchange import Exchange
from pyroku.router._headers import merge_content_lengths, prepare
from pyroku.router._logline import CODES
from pyroku.router._response import BODY_CHUNKED, BODY_EOF, ResponseHead
from pyroku.router._routes import ROUTE, WAIT, AppEntry
from pyroku.router._upstream import Backend, UpstreamConnection

logger = logging.getLogger("pyroku.router")

# Timer phases.
_NONE: Final = 0  # waiting for a dyno: the dispatch task keeps its own deadlines
_KEEPALIVE: Final = 1  # between requests (or before the first): silent close
_UPLOAD: Final = 2  # the client is sending the body to an attached dyno: rolling idle → H28
_FIRST_BYTE: Final = 3  # request written, no response byte yet → H12
_RESPONSE: Final = 4  # response under way: rolling idle → H15 (dyno) or H28 (client not reading)
_RAW: Final = 5  # upgraded connection: rolling idle → close both

# Why client reads are paused (bitmask).
_P_BACKPRESSURE: Final = 1  # the dyno is not taking the request body fast enough
_P_BUFFER: Final = 2  # request body held while no dyno is attached
_P_PIPELINE: Final = 4  # a pipelined request waits for the current one

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_LAST_CHUNK: Final = b"0\r\n\r\n"
_SMALL: Final = 16 * 1024  # below this, head and body are joined into one write
_TAIL: Final = b"\r\nVia: 1.1 pyroku\r\n\r\n"
_TAIL_CLOSE: Final = b"\r\nVia: 1.1 pyroku\r\nConnection: close\r\n\r\n"
_TAIL_KEEPALIVE: Final = b"\r\nVia: 1.1 pyroku\r\nConnection: keep-alive\r\n\r\n"


class _BadRequest(Exception):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class ClientProtocol(asyncio.Protocol):
    """One client connection (HTTP or HTTPS)."""

    def __init__(self, ctx: RouterContext, scheme: str, tail: bytes) -> None:
        self.ctx = ctx
        self._loop = ctx.loop
        self._limits = ctx.limits
        self._protocol = scheme
        self._protocol_b = scheme.encode()
        self._tail = tail
        timeouts = ctx.timeouts
        self._delays = (0.0, timeouts.keepalive, timeouts.idle, timeouts.first_byte, timeouts.idle, timeouts.idle)
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
        self._peer = b""
        self._parsing: Exchange | None = None  # the request being parsed
        self._active: Exchange | None = None  # the request being served
        self._queue: collections.deque[Exchange] | None = None
        self._upgrading: Exchange | None = None  # an Upgrade request: stop parsing, hold further bytes
        self._raw = False
        self._closing = False
        self._head_done = True
        self._http11_line = False  # the request line just seen said HTTP/1.1 (see data_received)
        self._head_size = 0
        self._line_carry = 0
        self._head_lines = 0
        self._begun = 0
        self._paused = 0
        self._write_paused = False
        self._out_head = b""  # a response head waiting to be joined with the first body bytes
        self._timer: asyncio.TimerHandle | None = None
        self._timer_kind = _NONE
        self._timer_due = 0.0
        self._timer_base = 0.0
        self._last_io = 0.0

    # -- asyncio callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]).encode() if peer else b""
        transport.set_write_buffer_limits(high=self._limits.response_buffer)
        self.ctx.connections.add(self)
        if self.ctx.shutting_down:
            self._closing = True
            transport.close()
            return
        self._phase(_KEEPALIVE, self._loop.time())

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.ctx.forget(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ex = self._active
        if ex is None:
            return
        conn = ex.upstream
        if self._raw or ex.finished:
            if conn is not None:
                ex.upstream = None
                conn.close()
            return
        if ex.task is not None:
            ex.task.cancel()
        self._finish(ex, "H27")

    def eof_received(self) -> bool | None:
        return False  # a client that closes its side is gone (H27 if a response was due), like vegur

    def pause_writing(self) -> None:
        self._write_paused = True
        ex = self._active
        if ex is not None and ex.upstream is not None:
            ex.upstream.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        ex = self._active
        if ex is not None and ex.upstream is not None:
            ex.upstream.resume_reading()

    def data_received(self, data: bytes) -> None:
        if self._raw:
            ex = self._active
            if ex is not None and ex.upstream is not None:
                self._last_io = self._loop.time()
                ex.upstream.write(data)
            return
        if self._closing:
            return
        upgrading = self._upgrading
        if upgrading is not None:  # bytes after an Upgrade request: held until the dyno answers
            upgrading.early += data
            if len(upgrading.early) > self._limits.request_buffer:
                self._pause(_P_BUFFER)
            return
        at_boundary = self._parsing is None
        if at_boundary:
            if len(data) <= self._limits.header_line and data.endswith(b"\r\n\r\n"):
                eol = data.find(b"\r\n")  # a small, whole head: only the request line needs a look
                if eol > 0 and data.count(b" ", 0, eol) != 2:
                    self._bad_request("bad request line")
                    return
                # A request line llhttp accepts ends with its version: spares get_http_version() (a
                # str.format) for the first request of this chunk.
                self._http11_line = eol > 3 and data[eol - 3] == 49 and data[eol - 2] == 46 and data[eol - 1] == 49
            elif not self._scan_head(data, True):
                return
        elif not self._head_done and not self._scan_head(data, False):
            return
        begun = self._begun
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            ex = self._upgrading
            if ex is not None:
                ex.early = data[exc.args[0]:]
        except httptools.HttpParserCallbackError as exc:
            context = exc.__context__
            if isinstance(context, _BadRequest):
                self._bad_request(context.cause)
            else:
                logger.error("request handling failed", exc_info=context or exc)
                self._bad_request("internal error")
        except httptools.HttpParserError as exc:
            if str(exc) == "Duplicate Content-Length" and at_boundary and self._begun == begun + 1:
                fixed = merge_content_lengths(data)
                if fixed is not None:
                    self._parsing = None
                    self.parser = httptools.HttpRequestParser(self)
                    self.parser.set_dangerous_leniencies(lenient_chunked_length=True)
                    self.data_received(fixed)
                    return
            self._bad_request("bad chunk" if self._head_done else "bad header")

    # -- request parsing (httptools callbacks) -------------------------------------------------

    def on_message_begin(self) -> None:
        self._begun += 1
        self._parsing = Exchange(self._loop.time(), int(time.time() * 1000))
        self._head_done = False
        self._head_size = 0
        self._line_carry = 0
        self._head_lines = 0

    def on_url(self, url: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        ex.url = ex.url + url if ex.url else url
        if len(ex.url) > self._limits.request_line:
            raise _BadRequest("request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self._parsing
        assert ex is not None
        headers = ex.headers
        headers.append((name, value))  # line lengths are checked on the raw bytes (_scan_head)
        if len(name) > self._limits.header_name:
            raise _BadRequest("header name too long")
        if len(headers) > self._limits.headers:
            raise _BadRequest("too many headers")

    def on_headers_complete(self) -> None:
        ex = self._parsing
        assert ex is not None
        self._head_done = True
        parser = self.parser
        ex.method = parser.get_method()
        if self._http11_line:
            self._http11_line = False
            version = "1.1"
        else:
            version = parser.get_http_version()
        ex.http11 = version == "1.1"
        ex.keep_alive = parser.should_keep_alive()
        ex.upgrade = parser.should_upgrade()
        prepare(ex, self._peer, self._tail, self.ctx.ids)
        if version != "1.1" and version != "1.0":
            ex.error, ex.cause = 400, "unsupported HTTP version"
        elif ex.method == b"CONNECT":
            ex.error, ex.cause = 400, "CONNECT is not supported"
        if ex.upgrade:
            self._upgrading = ex
        if self._active is None:
            self._start(ex)
        else:
            if self._queue is None:
                self._queue = collections.deque()
            self._queue.append(ex)

    def on_body(self, body: bytes) -> None:
        ex = self._parsing
        if ex is None or ex.finished or ex.error:
            return
        conn = ex.upstream
        if conn is not None and ex.body is None:
            self._last_io = self._loop.time()
            if ex.chunked:
                conn.writelines((b"%x\r\n" % len(body), body, b"\r\n"))
            else:
                conn.write(body)
            return
        if ex.body is None:
            ex.body = []
        if ex.chunked:
            ex.body.append(b"%x\r\n" % len(body) + body + b"\r\n")
        else:
            ex.body.append(body)
        ex.body_size += len(body)
        if ex.body_size > self._limits.request_buffer:
            self._pause(_P_BUFFER)

    def on_message_complete(self) -> None:
        ex = self._parsing
        assert ex is not None
        self._parsing = None
        ex.complete = True
        if ex.finished:
            return
        conn = ex.upstream
        if conn is not None and ex.body is None:
            if ex.chunked:
                conn.write(_LAST_CHUNK)
            ex.sent = True
            if not conn.got_bytes:
                self._phase(_FIRST_BYTE, self._loop.time() if ex.has_body else ex.service_start)
        elif ex is not self._active:
            self._pause(_P_PIPELINE)

    def _scan_head(self, data: bytes, at_boundary: bool) -> bool:
        """Enforce line-length and header-count limits before httptools buffers a huge head."""
        limits = self._limits
        end = data.find(b"\r\n\r\n")
        size = len(data) if end < 0 else end + 2
        if at_boundary:
            eol = data.find(b"\r\n", 0, size)
            if eol > 0 and data.count(b" ", 0, eol) != 2:
                self._bad_request("bad request line")
                return False
        total = self._head_size + size
        if total > limits.header_line:
            lines = data[:size].split(b"\n")
            longest = max(self._line_carry + len(lines[0]), *(len(line) for line in lines[1:]))
            self._head_lines += len(lines) - 1
            if longest > max(limits.header_line, limits.request_line) + 1:
                self._bad_request("header too long")
                return False
            if self._head_lines > limits.headers + 2:
                self._bad_request("too many headers")
                return False
            self._line_carry = len(lines[-1])
        else:
            newline = data.rfind(b"\n", 0, size)
            self._line_carry = size - newline - 1 if newline >= 0 else self._line_carry + size
        self._head_size = total
        return True

    def _bad_request(self, cause: str) -> None:
        """A request the router cannot parse: 400 (H26 when its app is known), then close."""
        self._closing = True
        ex = self._parsing or self._upgrading
        active = self._active
        if active is not None and active is not ex:
            active.close_after = True  # answer the request in flight, then close
            self._pause(_P_PIPELINE)
            return
        if ex is None:
            ex = Exchange(self._loop.time(), int(time.time() * 1000))
        self._active = ex
        if ex.task is not None:
            ex.task.cancel()
            ex.task = None
        if ex.responded:
            self._abort(ex, "H26", cause)
            return
        if ex.hostkey and ex.entry is None:
            ex.entry = self.ctx.routes.routes.lookup(ex.hostkey)
        ex.close_after = True
        self._answer(ex, 400, "H26" if ex.entry is not None else None, cause)

    # -- dispatch ------------------------------------------------------------------------------

    def _start(self, ex: Exchange) -> None:
        self._active = ex
        ctx = self.ctx
        routes = ctx.routes.routes
        entry = routes.by_host.get(ex.hostkey) or (routes.lookup(ex.hostkey) if ex.hostkey else None)
        ex.entry = entry
        if ex.error:
            if not ex.complete:
                ex.close_after = True
            self._answer(ex, ex.error, "H26" if entry is not None else None, ex.cause)
            return
        if entry is None:
            self._answer(ex, 404, None, None)
            return
        decision = entry.decision
        if decision is not ROUTE and decision is not WAIT:
            self._answer(ex, CODES[decision].status, decision, None)
            return
        state = entry.state
        if state.inflight >= entry.cap:
            self._answer(ex, 503, "H11", None)
            return
        state.inflight += 1
        ex.counted = True
        if ex.expect_continue and not ex.complete:
            self._send(ex, _CONTINUE)
        if decision is ROUTE:
            dyno = entry.pick(self._loop.time())
            if dyno is not None:
                conn = dyno.backend.take()
                if conn is not None:
                    self._attach(ex, dyno.name, conn, 0)
                    return
        self._phase(_NONE, 0.0)
        ex.task = self._loop.create_task(self._dispatch(ex, entry))

    async def _dispatch(self, ex: Exchange, entry: AppEntry) -> None:
        """The slow path: wait for a dyno to come up, connect (with retries and quarantine)."""
        loop = self._loop
        ctx = self.ctx
        timeouts = ctx.timeouts
        deadline = ex.start + timeouts.boot
        tried: set[Backend] = set()
        attempts = 0
        failure = "H21"
        try:
            while True:
                current = ctx.routes.routes.by_id.get(entry.app_id)
                if current is None:
                    self._answer(ex, 404, None, None)
                    return
                entry = ex.entry = current
                decision = entry.decision
                if decision is WAIT:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        self._answer(ex, 503, "H20", None)
                        return
                    await asyncio.wait((ctx.routes.changed(),), timeout=remaining)
                    continue
                if decision is not ROUTE:
                    self._answer(ex, CODES[decision].status, decision, None)
                    return
                dyno = entry.pick(loop.time(), tried)
                if dyno is None or attempts >= ctx.limits.connect_attempts:
                    self._answer(ex, 503, failure, None)
                    return
                backend = dyno.backend
                tried.add(backend)
                if not ex.retried:
                    pooled = backend.take()
                    if pooled is not None:
                        self._attach(ex, dyno.name, pooled, 0)
                        return
                attempts += 1
                ex.dyno = dyno.name
                began = loop.time()
                try:
                    _, conn = await asyncio.wait_for(
                        loop.create_connection(_factory(backend, ctx), backend.host, backend.port),
                        timeouts.connect,
                    )
                except TimeoutError:
                    failure = "H19"
                except OSError:
                    failure = "H21"
                else:
                    if self._closing or ex.finished:
                        conn.close()
                        return
                    self._attach(ex, dyno.name, conn, int((loop.time() - began) * 1000))
                    return
                ex.connect_ms = int((loop.time() - began) * 1000)
                backend.quarantined_until = loop.time() + timeouts.quarantine
        finally:
            ex.task = None

    def _attach(self, ex: Exchange, dyno: bytes, conn: UpstreamConnection, connect_ms: int) -> None:
        ex.upstream = conn
        ex.dyno = dyno
        ex.connect_ms = connect_ms
        conn.begin(self, ex.method == b"HEAD")
        if self._write_paused:
            conn.pause_reading()
        now = self._loop.time()
        ex.service_start = now
        body = ex.body
        if body is None:
            conn.transport.write(ex.head)  # type: ignore[union-attr]
        else:
            ex.body = None
            conn.writelines([ex.head, *body])
            self._resume(_P_BUFFER)
        if ex.complete:
            self._request_sent(ex)
        elif ex.has_body:  # (a bodiless request completes right after its head: no upload phase)
            self._last_io = now
            self._phase(_UPLOAD, now)

    def _request_sent(self, ex: Exchange) -> None:
        conn = ex.upstream
        assert conn is not None
        if ex.chunked:
            conn.write(_LAST_CHUNK)
        ex.sent = True
        if not conn.got_bytes:
            self._phase(_FIRST_BYTE, self._loop.time() if ex.has_body else ex.service_start)

    # -- response (UpstreamPeer callbacks) -----------------------------------------------------

    def response_started(self) -> None:
        now = self._loop.time()
        self._last_io = now
        self._phase(_RESPONSE, now)

    def _client_head(self, ex: Exchange, head: ResponseHead) -> bytes:
        """The response head for the client: the dyno's, minus hop-by-hop lines, plus ours."""
        status = ex.status = head.status
        body = head.body
        close = ex.close_after or not ex.keep_alive or not ex.complete or self.ctx.shutting_down
        chunked = False
        if body in (BODY_CHUNKED, BODY_EOF):
            if ex.http11:
                chunked = ex.encode_chunked = True
            else:
                close = True
        upgraded = status == 101
        if ex.upgrade and not upgraded:
            close = True  # the client's parser is past an Upgrade request: nothing more can follow
        ex.close_after = close
        ex.responded = True
        if head.clean and not chunked and not upgraded:
            if close:
                return head.raw + _TAIL_CLOSE
            return head.raw + (_TAIL if ex.http11 else _TAIL_KEEPALIVE)
        parts = head.lines
        if chunked:
            parts.append(b"Transfer-Encoding: chunked")
        parts.append(b"Via: " + head.via + b", 1.1 pyroku" if head.via else b"Via: 1.1 pyroku")
        if upgraded:
            parts.append(b"Connection: Upgrade")
            if head.upgrade:
                parts.append(b"Upgrade: " + head.upgrade)
        elif close:
            parts.append(b"Connection: close")
        elif not ex.http11:
            parts.append(b"Connection: keep-alive")
        return b"\r\n".join(parts) + b"\r\n\r\n"

    def response_complete(self, head: ResponseHead, body: bytes, reusable: bool) -> None:
        """The whole response arrived at once (head and body): one write, then finish."""
        ex = self._active
        assert ex is not None and self.transport is not None
        data = self._client_head(ex, head)
        if body:
            data += body
        self.transport.write(data)
        ex.bytes_out += len(data)
        self._finish(ex, None, None, reusable)

    def response_head(self, head: ResponseHead) -> None:
        ex = self._active
        assert ex is not None
        data = self._client_head(ex, head)
        if head.status == 101:
            self._send(ex, data)
            self._go_raw(ex)
        else:
            self._out_head = data

    def response_body(self, data: bytes) -> None:
        transport = self.transport
        assert transport is not None
        self._last_io = self._loop.time()
        if self._raw:
            transport.write(data)
            return
        ex = self._active
        assert ex is not None
        head = self._out_head
        if ex.encode_chunked:
            if not data:
                return
            frame = b"%x\r\n" % len(data)
            if head:
                self._out_head = b""
                transport.writelines((head, frame, data, b"\r\n"))
                ex.bytes_out += len(head) + len(frame) + len(data) + 2
            else:
                transport.writelines((frame, data, b"\r\n"))
                ex.bytes_out += len(frame) + len(data) + 2
            return
        if head:
            self._out_head = b""
            if len(data) < _SMALL:
                data = head + data
            else:
                transport.write(head)
                ex.bytes_out += len(head)
        transport.write(data)
        ex.bytes_out += len(data)

    def response_end(self, reusable: bool) -> None:
        ex = self._active
        if ex is None or self._raw:
            return
        head = self._out_head
        if ex.encode_chunked:
            self._out_head = b""
            self._send(ex, head + _LAST_CHUNK)
        elif head:
            self._out_head = b""
            self._send(ex, head)
        self._finish(ex, None, reusable=reusable)

    def response_failed(self, code: str, cause: str) -> None:
        ex = self._active
        if ex is None or self._raw:
            self._close()
            return
        ex.upstream = None
        self._abort(ex, code, cause)

    def upstream_lost(self, got_bytes: bool) -> None:
        ex = self._active
        if ex is None or ex.finished:
            self._close()
            return
        conn = ex.upstream
        ex.upstream = None
        if self._raw:
            self._close()
            return
        if (not got_bytes and conn is not None and conn.uses > 1 and not ex.retried and not ex.has_body
                and not ex.responded and not ex.upgrade):
            # A pooled connection the dyno had closed: try once more on a fresh one.
            ex.retried = True
            self._phase(_NONE, 0.0)
            entry = ex.entry
            assert entry is not None
            ex.task = self._loop.create_task(self._dispatch(ex, entry))
            return
        self._abort(ex, "H18" if got_bytes else "H13", None)

    def upstream_paused(self) -> None:
        self._pause(_P_BACKPRESSURE)

    def upstream_resumed(self) -> None:
        self._resume(_P_BACKPRESSURE)

    # -- endings -------------------------------------------------------------------------------

    def _go_raw(self, ex: Exchange) -> None:
        """101 Switching Protocols: from now on bytes flow untouched both ways."""
        self._raw = True
        self._upgrading = None
        ex.finished = True
        now = self._loop.time()
        if ex.counted:
            ex.counted = False
            assert ex.entry is not None
            ex.entry.state.inflight -= 1
        self.ctx.record(ex, None, None, 101, self._protocol_b, now)
        conn = ex.upstream
        assert conn is not None
        conn.start_raw()
        if ex.early:
            conn.write(ex.early)
            ex.early = b""
        self._resume(_P_BUFFER | _P_PIPELINE)
        self._last_io = now
        self._phase(_RAW, now)

    def _send(self, ex: Exchange, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
        ex.bytes_out += len(data)

    def _answer(self, ex: Exchange, status: int, code: str | None, cause: str | None) -> None:
        """Answer with one of the router's own pages, then finish the exchange."""
        entry = ex.entry
        url = None
        if entry is not None:
            url = entry.route.maintenance_page_url if code == "H80" else entry.route.error_page_url
            if status < 500:
                url = None
        if ex.has_body and not ex.complete:
            ex.close_after = True
        close = ex.close_after or not ex.keep_alive or ex.upgrade or self.ctx.shutting_down
        ex.close_after = close
        ex.status = status
        ex.responded = True
        self._send(ex, pages.page_response(status, pages.page_for(code, status), url, close, ex.method == b"HEAD"))
        self._finish(ex, code, cause)

    def _abort(self, ex: Exchange, code: str, cause: str | None) -> None:
        """An exchange fails after a dyno was involved: a page when nothing was sent yet, else cut."""
        conn = ex.upstream
        if conn is not None:
            ex.upstream = None
            conn.abort()
        if ex.responded and self._out_head:  # the head never left: the client can still get a page
            ex.responded = False
            self._out_head = b""
        info = CODES[code]
        if ex.responded or info.sock == "client":
            ex.close_after = True
            self._finish(ex, code, cause)
            if info.sock == "client" and self.transport is not None:
                self.transport.abort()
            return
        self._answer(ex, info.status, code, cause)

    def _finish(self, ex: Exchange, code: str | None, cause: str | None = None, reusable: bool = False) -> None:
        if ex.finished:
            return
        ex.finished = True
        now = self._loop.time()
        conn = ex.upstream
        if conn is not None:
            ex.upstream = None
            if reusable and ex.sent:
                conn.release(now)
            else:
                conn.close()
        entry = ex.entry
        if ex.counted:
            ex.counted = False
            assert entry is not None
            entry.state.inflight -= 1
        if entry is not None:
            status = CODES[code].status if code is not None and code != "H26" else ex.status
            self.ctx.record(ex, code, cause, status, self._protocol_b, now)
        self._active = None
        self._upgrading = None
        if ex.close_after or self._closing or self.ctx.shutting_down:
            self._close()
            return
        queue = self._queue
        if queue:
            nxt = queue.popleft()
            if not queue:
                self._resume(_P_PIPELINE)
            self._start(nxt)
            return
        self._resume(_P_PIPELINE)
        self._phase(_KEEPALIVE, now)

    def _close(self) -> None:
        self._closing = True
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    def shutdown(self) -> None:
        """Graceful stop: close now when idle, else after the response in flight."""
        if self._active is None or self._raw:
            self._close()
        else:
            self._active.close_after = True

    # -- flow control and timers ---------------------------------------------------------------

    def _pause(self, reason: int) -> None:
        if not self._paused and self.transport is not None:
            self.transport.pause_reading()
        self._paused |= reason

    def _resume(self, reasons: int) -> None:
        if self._paused & reasons:
            self._paused &= ~reasons
            if not self._paused and self.transport is not None and not self._closing:
                self.transport.resume_reading()

    def _phase(self, kind: int, base: float) -> None:
        self._timer_kind = kind
        self._timer_base = base
        if kind == _NONE:
            return
        due = base + self._delays[kind]
        timer = self._timer
        if timer is None or self._timer_due > due:
            if timer is not None:
                timer.cancel()
            self._timer_due = due
            self._timer = self._loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        kind = self._timer_kind
        if kind == _NONE or self._closing:
            return
        base = self._last_io if kind in (_UPLOAD, _RESPONSE, _RAW) else self._timer_base
        due = base + self._delays[kind]
        if self._loop.time() < due:
            self._timer_due = due
            self._timer = self._loop.call_at(due, self._on_timer)
            return
        self._timeout(kind)

    def _timeout(self, kind: int) -> None:
        ex = self._active
        if kind in (_KEEPALIVE, _RAW) or ex is None or ex.finished:
            self._close()
            if self._raw and ex is not None and ex.upstream is not None:
                ex.upstream.close()
            return
        if kind == _FIRST_BYTE:
            self._abort(ex, "H12", None)
        elif kind == _UPLOAD:
            self._abort(ex, "H15" if self._paused & _P_BACKPRESSURE else "H28", None)
        else:
            self._abort(ex, "H28" if self._write_paused else "H15", None)


def _factory(backend: Backend, ctx: RouterContext) -> Callable[[], UpstreamConnection]:
    limits = ctx.limits
    return lambda: UpstreamConnection(backend, limits)
