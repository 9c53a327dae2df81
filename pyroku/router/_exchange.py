"""One request/response exchange as the client connection tracks it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyroku.router._routes import AppEntry
    from pyroku.router._upstream import UpstreamConnection


class Exchange:
    """A request from its first byte until its log line; plain slots, reset by creating a new one."""

    __slots__ = (
        "body", "body_size", "bytes_out", "cause", "chunked", "close_after", "complete", "connect_ms", "counted",
        "dyno", "early", "encode_chunked", "entry", "error", "expect_continue", "finished", "fwd", "has_body",
        "head", "headers", "host", "hostkey", "http11", "keep_alive", "method", "request_id", "responded",
        "retried", "sent", "service_start", "start", "start_ms", "status", "task", "upgrade", "upstream", "url",
    )

    def __init__(self, start: float, start_ms: int) -> None:
        self.start = start
        self.start_ms = start_ms
        self.method = b""
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.http11 = True
        self.keep_alive = True
        self.upgrade = False
        self.host = b""
        self.hostkey = b""
        self.error = 0  # 400 or 417 when the request head is unacceptable (H26)
        self.cause = ""
        self.chunked = False
        self.has_body = False
        self.expect_continue = False
        self.complete = False  # the whole request was received from the client
        self.sent = False  # the whole request was written to the dyno
        self.head = b""  # the request head for the dyno
        self.request_id = b""
        self.fwd = b""
        self.entry: AppEntry | None = None
        self.counted = False
        self.dyno = b""
        self.connect_ms = -1
        self.service_start = 0.0
        self.status = 0
        self.bytes_out = 0
        self.upstream: UpstreamConnection | None = None
        self.body: list[bytes] | None = None  # request body held while no dyno is attached
        self.body_size = 0
        self.responded = False  # the response head went to the client
        self.encode_chunked = False
        self.close_after = False
        self.finished = False
        self.retried = False
        self.early = b""  # bytes after an Upgrade request head
        self.task: asyncio.Task[None] | None = None
