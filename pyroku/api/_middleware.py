"""HTTP conventions every API response follows: `Accept` version check, `Request-Id`,
`RateLimit-Remaining`, and `ETag` / `If-None-Match` on GETs."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pyroku.api._context import ApiContext

# Paths outside the versioned API: health checks, the schema, streams with their own auth.
UNVERSIONED = ("/health", "/openapi.json", "/docs", "/log-stream/", "/slug-blobs/")
_VERSION_RE = re.compile(r"application/vnd\.heroku\+json\s*;\s*version=3(\b|[.;,\s]|$)")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class ApiConventions:
    def __init__(self, app: ASGIApp, ctx: ApiContext) -> None:
        self.app = app
        self.ctx = ctx

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        request_id = str(uuid.uuid4())
        state: dict[str, Any] = scope.setdefault("state", {})
        if not path.startswith(UNVERSIONED) and path != "/":
            accept = _header(scope, b"accept") or ""
            if not _VERSION_RE.search(accept):
                await self._send_json(send, request_id, state, 406, {
                    "id": "not_acceptable",
                    "message": "Please specify a version along with the API MIME type. For example, "
                               "`Accept: application/vnd.heroku+json; version=3`.",
                })
                return
        if scope["method"] not in ("GET", "HEAD") or path.startswith("/log-stream/"):
            await self.app(scope, receive, self._with_headers(send, request_id, state))
            return
        await self._buffered_get(scope, receive, send, request_id, state)

    def _extra_headers(self, request_id: str, state: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        headers = [(b"request-id", request_id.encode())]
        remaining = state.get("rate_remaining")
        if remaining is None:
            remaining = self.ctx.limiter.capacity
        headers.append((b"ratelimit-remaining", str(remaining).encode()))
        return headers

    def _with_headers(self, send: Send, request_id: str, state: dict[str, Any]) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self._extra_headers(request_id, state)
            await send(message)

        return wrapped

    async def _buffered_get(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, state: dict[str, Any]
    ) -> None:
        """Hold the (small, JSON) response to compute its ETag and honour If-None-Match."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        if start is None:
            return
        body = b"".join(chunks)
        status: int = start["status"]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        if 200 <= status < 300:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers.append((b"etag", etag.encode()))
            wanted = _header(scope, b"if-none-match")
            if wanted and etag in [t.strip().removeprefix("W/") for t in wanted.split(",")]:
                status, body = 304, b""
                headers = [(k, v) for k, v in headers if k.lower() != b"content-type"]
        headers += self._extra_headers(request_id, state)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    async def _send_json(
        self, send: Send, request_id: str, state: dict[str, Any], status: int, payload: dict[str, Any]
    ) -> None:
        body = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + self._extra_headers(request_id, state)})
        await send({"type": "http.response.body", "body": body})
