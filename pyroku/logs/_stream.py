"""The ASGI app serving log sessions: ``GET /<secret>`` streams history, then live lines if tailing.

Plain clients get ``text/plain`` (one rendered line per ``\\n``); clients sending ``Accept:
text/event-stream`` (the Heroku CLI) get one server-sent event per line, ``id:`` = the line's seq,
and may resume with ``Last-Event-ID``. Unknown or expired secrets get 404.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Final, Protocol

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from pyroku.logs._sessions import Item, SessionEntry, Tail

SSE_KEEPALIVE: Final = 15.0
_BACKLOG_CHUNK: Final = 500


@dataclass(slots=True)
class OpenStream:
    entry: SessionEntry
    backlog: list[Item]
    tail: Tail | None


class StreamSource(Protocol):
    """What the stream app needs from the Logplex (kept narrow so the two can be tested apart)."""

    def open_stream(self, secret: str, after: int | None) -> OpenStream | None: ...

    def close_stream(self, stream: OpenStream) -> None: ...


def _encode_plain(items: list[Item]) -> bytes:
    return ("\n".join([text for _, text in items]) + "\n").encode()


def _encode_sse(items: list[Item]) -> bytes:
    return "".join(
        [f"id: {line.seq}\ndata: {text}\n\n" if line.seq else f"data: {text}\n\n" for line, text in items]
    ).encode()


async def _close_on_disconnect(receive: Receive, tail: Tail) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            tail.close()
            return


class _StreamEndpoint:
    def __init__(self, source: StreamSource, keepalive: float) -> None:
        self._source = source
        self._keepalive = keepalive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        sse = "text/event-stream" in headers.get("accept", "")
        last_id = headers.get("last-event-id", "").strip() if sse else ""
        after = int(last_id) if last_id.isdigit() else None
        stream = self._source.open_stream(scope["path_params"]["secret"], after)
        if stream is None:
            response = PlainTextResponse("Log session not found or expired.\n", status_code=404)
            await response(scope, receive, send)
            return
        watcher: asyncio.Task[None] | None = None
        try:
            content_type = b"text/event-stream" if sse else b"text/plain; charset=utf-8"
            await send({
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                ],
            })
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            encode = _encode_sse if sse else _encode_plain
            tail = stream.tail
            if tail is not None:
                watcher = asyncio.ensure_future(_close_on_disconnect(receive, tail))
            backlog = stream.backlog
            for start in range(0, len(backlog), _BACKLOG_CHUNK):
                chunk = encode(backlog[start : start + _BACKLOG_CHUNK])
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if tail is not None:
                keepalive = self._keepalive if sse else None
                while (items := await tail.next_batch(keepalive)) is not None:
                    body = encode(items) if items else b": keepalive\n\n"
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            self._source.close_stream(stream)


def build_stream_app(source: StreamSource, *, keepalive: float = SSE_KEEPALIVE) -> Starlette:
    """A Starlette app to mount (e.g. at ``/log-stream``); it must run on the Logplex's event loop."""
    return Starlette(routes=[Route("/{secret}", _StreamEndpoint(source, keepalive), methods=["GET"])])
