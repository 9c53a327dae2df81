"""Log sessions: expiry (with an injected clock), the stream app, and L11 for slow tails.

The stream app is driven directly through ASGI here (a client that can stall on purpose); the
tests in test_ingest.py drive it through a real uvicorn server.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message

from pyroku.logs import Logplex
from tests.logs.conftest import async_wait_until, new_app_id

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)(\[[^\]]+\])?: .*$")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class AsgiClient:
    """One GET through the ASGI app; ``gate`` stalls the client's reading, ``disconnect()`` hangs up."""

    def __init__(self, app: ASGIApp, path: str, headers: dict[str, str] | None = None, method: str = "GET"):
        self.app = app
        self.scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        }
        self.messages: list[Message] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self._disconnected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        await self._disconnected.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        await self.gate.wait()
        self.messages.append(message)

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.app(self.scope, self._receive, self._send))

    async def run(self) -> None:
        self.start()
        assert self.task is not None
        await asyncio.wait_for(self.task, 20)

    def disconnect(self) -> None:
        self._disconnected.set()

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.messages[0]["headers"]}

    @property
    def body(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages[1:]).decode()

    @property
    def finished(self) -> bool:
        return bool(self.messages) and self.messages[-1]["type"] == "http.response.body" and not self.messages[
            -1
        ].get("more_body", False)


def test_session_is_unguessable_and_carries_its_options(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    session = logplex.create_session(app, lines=20, tail=True, source="app", dyno="web")
    assert len(session.secret) >= 43
    assert session.secret != logplex.create_session(app).secret
    assert (session.app_id, session.lines, session.tail, session.source, session.dyno) == (app, 20, True, "app", "web")
    assert session.url("https://api.example.com/log-stream/") == (
        f"https://api.example.com/log-stream/{session.secret}?tail=true"
    )
    assert logplex.get_session(session.secret) == session
    assert logplex.create_session(app, lines=9_999).lines == 1_500


def test_unused_session_expires_after_360_s(tmp_path: Path) -> None:
    clock = FakeClock()
    logplex = Logplex(tmp_path, clock=clock)
    session = logplex.create_session(new_app_id())
    clock.now += 359
    assert logplex.get_session(session.secret) is not None
    clock.now += 2
    assert logplex.get_session(session.secret) is None

    async def request() -> AsgiClient:
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        await client.run()
        return client

    client = asyncio.run(request())
    assert client.status == 404


def test_using_a_session_restarts_its_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    logplex = Logplex(tmp_path, clock=clock)
    app = new_app_id()
    logplex.publish(app, "app", "web.1", "hello")
    session = logplex.create_session(app)

    async def read() -> AsgiClient:
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        await client.run()
        return client

    clock.now += 300
    first = asyncio.run(read())
    assert first.status == 200
    assert first.headers["content-type"] == "text/plain; charset=utf-8"
    assert first.body.endswith("app[web.1]: hello\n")
    clock.now += 300  # 600 s after creation, 300 s after last use
    assert asyncio.run(read()).body == first.body
    clock.now += 361
    assert asyncio.run(read()).status == 404


def test_expired_sessions_are_swept(tmp_path: Path) -> None:
    clock = FakeClock()
    logplex = Logplex(tmp_path, clock=clock)
    for _ in range(3):
        logplex.create_session(new_app_id())
    clock.now += 400
    logplex.create_session(new_app_id())  # creating sweeps when a minute has passed
    assert logplex.stats()["sessions"] == 1


def test_history_stream_with_filters(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    logplex.publish(app, "app", "web.1", "one")
    logplex.publish(app, "heroku", "router", "at=info")
    logplex.publish(app, "app", "worker.1", "two")
    logplex.publish(app, "app", "web.2", "three")
    session = logplex.create_session(app, lines=10, source="app", dyno="web")

    async def main() -> tuple[AsgiClient, AsgiClient]:
        plain = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        await plain.run()
        sse = AsgiClient(logplex.asgi_app(), f"/{session.secret}", {"Accept": "text/event-stream"})
        await sse.run()
        return plain, sse

    plain, sse = asyncio.run(main())
    rendered = plain.body.splitlines()
    assert [line.split(" ", 1)[1] for line in rendered] == ["app[web.1]: one", "app[web.2]: three"]
    assert all(LINE.match(line) for line in rendered)
    assert sse.headers["content-type"] == "text/event-stream"
    assert sse.body == f"id: 1\ndata: {rendered[0]}\n\nid: 4\ndata: {rendered[1]}\n\n"


def test_head_request_sends_headers_only(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    logplex.publish(app, "app", "web.1", "x")
    session = logplex.create_session(app, tail=True)

    async def main() -> AsgiClient:
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}", method="HEAD")
        await client.run()
        return client

    client = asyncio.run(main())
    assert client.status == 200
    assert client.body == ""


def test_slow_tail_drops_then_reports_l11(tmp_path: Path) -> None:
    async def main() -> None:
        logplex = Logplex(tmp_path)  # tail buffer: 1,000 lines
        await logplex.start()
        app = new_app_id()
        session = logplex.create_session(app, lines=0, tail=True)
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        client.gate.clear()  # the client stops reading
        client.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 1, what="the tail to open")
        for i in range(1_500):
            logplex.publish(app, "app", "web.1", f"line {i}")  # never blocks on the stalled reader
        client.gate.set()
        await async_wait_until(lambda: "Error L11" in client.body, what="the L11 notice")
        logplex.publish(app, "app", "web.1", "after catching up")
        await async_wait_until(lambda: "after catching up" in client.body, what="the next line")
        client.disconnect()
        assert client.task is not None
        await asyncio.wait_for(client.task, 20)
        assert logplex.stats()["tails"] == 0
        await logplex.close()

        lines = client.body.splitlines()
        # The tail kept the newest 1,000 lines and lost the 500 oldest, as drains do.
        assert [line.rsplit(": ", 1)[1] for line in lines[:1_000]] == [f"line {i}" for i in range(500, 1_500)]
        assert re.fullmatch(
            r"\S+ heroku\[logplex\]: Error L11 \(Tail buffer overflow\) -> This tail session dropped 500 "
            r"messages since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00",
            lines[1_000],
        )
        assert lines[1_001].endswith("app[web.1]: after catching up")
        assert len(lines) == 1_002

    asyncio.run(main())


def test_deleting_the_session_ends_its_tail(tmp_path: Path) -> None:
    async def main() -> None:
        clock = FakeClock()
        logplex = Logplex(tmp_path, clock=clock)
        await logplex.start()
        app = new_app_id()
        session = logplex.create_session(app, tail=True)
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        client.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 1, what="the tail to open")
        clock.now += 10_000  # a session being read does not expire
        assert logplex.get_session(session.secret) is not None
        logplex.publish(app, "app", "web.1", "live")
        await async_wait_until(lambda: "live" in client.body, what="the live line")
        assert logplex.delete_session(session.secret)
        assert client.task is not None
        await asyncio.wait_for(client.task, 20)
        assert client.finished
        assert logplex.get_session(session.secret) is None
        await logplex.close()

    asyncio.run(main())


def test_forgetting_the_app_ends_its_tails_and_sessions(tmp_path: Path) -> None:
    async def main() -> None:
        logplex = Logplex(tmp_path)
        await logplex.start()
        app = new_app_id()
        session = logplex.create_session(app, tail=True)
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}", {"Accept": "text/event-stream"})
        client.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 1, what="the tail to open")
        logplex.forget(app)
        assert client.task is not None
        await asyncio.wait_for(client.task, 20)
        assert client.finished
        assert logplex.get_session(session.secret) is None
        assert logplex.stats()["tails"] == 0
        await logplex.close()

    asyncio.run(main())


def test_closing_the_logplex_ends_tails(tmp_path: Path) -> None:
    async def main() -> None:
        logplex = Logplex(tmp_path)
        await logplex.start()
        session = logplex.create_session(new_app_id(), tail=True)
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        client.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 1, what="the tail to open")
        await logplex.close()
        assert client.task is not None
        await asyncio.wait_for(client.task, 20)
        assert client.finished

    asyncio.run(main())


def test_live_lines_are_filtered_like_history(tmp_path: Path) -> None:
    async def main() -> None:
        logplex = Logplex(tmp_path)
        await logplex.start()
        app = new_app_id()
        session = logplex.create_session(app, lines=0, tail=True, source="app", dyno="web")
        everything = logplex.create_session(app, lines=0, tail=True)
        filtered = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        unfiltered = AsgiClient(logplex.asgi_app(), f"/{everything.secret}")
        filtered.start()
        unfiltered.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 2, what="the tails to open")
        for source, process in [("app", "web.1"), ("heroku", "router"), ("app", "worker.1"), ("heroku", "web.1"),
                                ("app", "web.2"), ("app", "webhook.1")]:
            logplex.publish(app, source, process, f"{source} {process}")
        await async_wait_until(lambda: "webhook.1" in unfiltered.body, what="every line")
        await logplex.close()
        assert [line.split(": ", 1)[1] for line in filtered.body.splitlines()] == ["app web.1", "app web.2"]
        assert len(unfiltered.body.splitlines()) == 6

    asyncio.run(main())


def test_end_streams_ends_tails_but_keeps_sessions(tmp_path: Path) -> None:
    async def main() -> None:
        logplex = Logplex(tmp_path)
        await logplex.start()
        session = logplex.create_session(new_app_id(), tail=True)
        client = AsgiClient(logplex.asgi_app(), f"/{session.secret}")
        client.start()
        await async_wait_until(lambda: logplex.stats()["tails"] == 1, what="the tail to open")
        asyncio.get_running_loop().call_soon_threadsafe(logplex.end_streams)
        assert client.task is not None
        await asyncio.wait_for(client.task, 20)
        assert client.finished
        assert logplex.get_session(session.secret) is not None
        await logplex.close()

    asyncio.run(main())
