"""Connections to dynos: the response side of an exchange, and the keep-alive pool per dyno address.

An :class:`UpstreamConnection` carries one request at a time for the client connection it is lent
to (its ``peer``), parses the response head (``_response``) and streams the body back through the
peer's callbacks; when the response ends cleanly it goes back to its :class:`Backend`'s idle pool.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol, cast

import httptools

from pyroku.router._config import Limits
from pyroku.router._response import (
    BODY_CHUNKED,
    BODY_LENGTH,
    BODY_NONE,
    ResponseError,
    ResponseHead,
    parse_response_head,
)

# States of an upstream connection.
IDLE: Final = 0
HEAD: Final = 1
LENGTH: Final = 2
CHUNKED: Final = 3
EOF: Final = 4
RAW: Final = 5
DONE: Final = 6

_CHUNKED_PREAMBLE: Final = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class UpstreamPeer(Protocol):
    """What an upstream connection calls on the client connection it serves."""

    def response_started(self) -> None: ...
    def response_head(self, head: ResponseHead) -> None: ...
    def response_complete(self, head: ResponseHead, body: bytes, reusable: bool) -> None: ...
    def response_body(self, data: bytes) -> None: ...
    def response_end(self, reusable: bool) -> None: ...
    def response_failed(self, code: str, cause: str) -> None: ...
    def upstream_lost(self, got_bytes: bool) -> None: ...
    def upstream_paused(self) -> None: ...
    def upstream_resumed(self) -> None: ...


class Backend:
    """One dyno address: its idle keep-alive connections and its quarantine deadline."""

    __slots__ = ("host", "idle", "max_idle", "port", "quarantined_until", "retired")

    def __init__(self, host: str, port: int, max_idle: int) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self.idle: list[UpstreamConnection] = []
        self.quarantined_until = 0.0
        self.retired = False

    def take(self) -> UpstreamConnection | None:
        idle = self.idle
        while idle:
            conn = idle.pop()
            if not conn.closed:
                return conn
        return None

    def sweep(self, older_than: float) -> None:
        """Close idle connections unused since ``older_than`` (loop time)."""
        keep = []
        for conn in self.idle:
            if conn.idle_since < older_than or conn.closed:
                conn.close()
            else:
                keep.append(conn)
        self.idle = keep

    def retire(self) -> None:
        self.retired = True
        for conn in self.idle:
            conn.close()
        self.idle = []


class UpstreamConnection(asyncio.Protocol):
    """One TCP connection to a dyno."""

    __slots__ = (
        "_buf", "_chunk_done", "_chunks", "_head_request", "_limits", "backend", "closed", "got_bytes",
        "idle_since", "paused", "peer", "remaining", "reusable", "state", "transport", "uses",
    )

    def __init__(self, backend: Backend, limits: Limits) -> None:
        self.backend = backend
        self._limits = limits
        self.transport: asyncio.Transport | None = None
        self.peer: UpstreamPeer | None = None
        self.state = IDLE
        self.closed = False
        self.got_bytes = False
        self.reusable = True
        self.remaining = 0
        self.idle_since = 0.0
        self.uses = 0
        self.paused = False
        self._head_request = False
        self._buf = b""
        self._chunks: httptools.HttpResponseParser | None = None
        self._chunk_done = False

    # -- called by the client side --

    def begin(self, peer: UpstreamPeer, head_request: bool) -> None:
        """Lend this connection to ``peer`` for one request."""
        self.peer = peer
        self.state = HEAD
        self.got_bytes = False
        self.reusable = True
        self.uses += 1
        self._head_request = head_request
        self._buf = b""

    def release(self, now: float) -> None:
        """The exchange is over: back to the pool when the response ended cleanly, else closed."""
        self.peer = None
        if self.state == DONE and self.reusable and not self.closed:
            self.state = IDLE
            if self.paused:
                self.resume_reading()
            backend = self.backend
            if not backend.retired and len(backend.idle) < backend.max_idle:
                self.idle_since = now
                backend.idle.append(self)
                return
        self.close()

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def writelines(self, data: list[bytes] | tuple[bytes, ...]) -> None:
        assert self.transport is not None
        self.transport.writelines(data)

    def pause_reading(self) -> None:
        if self.transport is not None and not self.closed and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.closed and self.paused:
            self.paused = False
            self.transport.resume_reading()

    def start_raw(self) -> None:
        self.state = RAW
        self.reusable = False

    def close(self) -> None:
        self.peer = None
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        self.peer = None
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()

    # -- asyncio callbacks --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        transport.set_write_buffer_limits(high=self._limits.request_buffer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        peer = self.peer
        if peer is None:
            return
        if self.state == EOF:
            self.state = DONE
            self.reusable = False
            peer.response_end(False)
        elif self.state != DONE:
            self.peer = None
            peer.upstream_lost(self.got_bytes)

    def eof_received(self) -> bool | None:
        if self.peer is None:
            self.closed = True  # an idle pooled connection the dyno closed: never lend it again
        return False

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.upstream_paused()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.upstream_resumed()

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:  # a pooled connection must stay silent
            self.close()
            return
        state = self.state
        if state == HEAD:
            self._head_data(peer, data)
        elif state == LENGTH:
            remaining = self.remaining
            size = len(data)
            if size < remaining:
                self.remaining = remaining - size
                peer.response_body(data)
                return
            if size > remaining:
                data = data[:remaining]
                self.reusable = False
            self.remaining = 0
            self.state = DONE
            peer.response_body(data)
            if self.peer is peer:
                peer.response_end(self.reusable)
        elif state in (RAW, EOF):
            peer.response_body(data)
        elif state == CHUNKED:
            self._chunk_data(peer, data)
        else:  # DONE: bytes after the response
            self.reusable = False

    # -- internals --

    def _head_data(self, peer: UpstreamPeer, data: bytes) -> None:
        if self._buf:
            start = max(0, len(self._buf) - 3)
            data = self._buf + data
            end = data.find(b"\r\n\r\n", start)
        else:
            end = data.find(b"\r\n\r\n")
        if end < 0:
            if not self.got_bytes:
                self.got_bytes = True
                peer.response_started()
                if self.peer is not peer:
                    return
            if len(data) > self._limits.response_head:
                self._fail(peer, "H25", "oversized header")
            else:
                self._buf = data
            return
        self._buf = b""
        try:
            head = parse_response_head(data[:end], self._limits, self._head_request)
        except ResponseError as exc:
            self.got_bytes = True
            self._fail(peer, exc.code, exc.cause)
            return
        rest = end + 4
        status = head.status
        if status < 200 and status != 101:  # interim responses (100, 103) are not relayed
            self.got_bytes = True
            if rest < len(data):
                self._head_data(peer, data[rest:])
            return
        if head.close:
            self.reusable = False
        body = head.body
        if status != 101 and (body == BODY_NONE or (body == BODY_LENGTH and len(data) - rest == head.content_length)):
            # The whole response is here: the common case, in one call.
            self.got_bytes = True
            self.state = DONE
            if body == BODY_NONE and rest < len(data):
                self.reusable = False
            peer.response_complete(head, data[rest:] if body == BODY_LENGTH else b"", self.reusable)
            return
        if not self.got_bytes:
            self.got_bytes = True
            peer.response_started()
            if self.peer is not peer:
                return
        if status == 101:
            self.state = RAW
            self.reusable = False
        elif body == BODY_LENGTH:
            self.state = LENGTH
            self.remaining = head.content_length
        elif body == BODY_CHUNKED:
            self.state = CHUNKED
            self._chunk_done = False
            parser = self._chunks = httptools.HttpResponseParser(self)
            parser.feed_data(_CHUNKED_PREAMBLE)
        else:
            self.state = EOF
        peer.response_head(head)
        if self.peer is peer and rest < len(data):
            self.data_received(data[rest:])

    def _chunk_data(self, peer: UpstreamPeer, data: bytes) -> None:
        parser = self._chunks
        assert parser is not None
        try:
            parser.feed_data(data)
        except httptools.HttpParserError:
            if not self._chunk_done:
                self._fail(peer, "H18", "bad chunk")
                return
            self.reusable = False  # bytes after the last chunk
        if self._chunk_done and self.peer is peer and self.state == CHUNKED:
            self.state = DONE
            self._chunks = None
            peer.response_end(self.reusable)

    def _fail(self, peer: UpstreamPeer, code: str, cause: str) -> None:
        self.reusable = False
        self.state = DONE
        self.peer = None
        self.close()
        peer.response_failed(code, cause)

    # httptools callbacks for chunked bodies
    def on_body(self, body: bytes) -> None:
        peer = self.peer
        if peer is not None and not self._chunk_done:
            peer.response_body(body)

    def on_message_complete(self) -> None:
        if self._chunk_done:
            raise ValueError("a second response")
        self._chunk_done = True
