"""Drains against real receivers: rsyslogd, an HTTPS server (uvicorn), a TLS syslog server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import re
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.types import Message, Receive, Scope, Send

from pyroku.logs import (
    DrainSettings,
    DrainSpec,
    InvalidDrain,
    InvalidDrainURL,
    Logplex,
    TooManyDrains,
    new_drain_token,
    validate_drain_url,
)
from pyroku.logs._syslog import FrameDecoder
from tests.logs.conftest import (
    Certificates,
    LoopThread,
    Rsyslog,
    UvicornServer,
    free_port,
    new_app_id,
    wait_until,
)

FAST = DrainSettings(backoff_initial=0.02, backoff_max=0.1, connect_timeout=2, http_connect_timeout=2)
RFC3339_US = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00"
HTTP_FRAME = re.compile(rf"<(\d+)>1 ({RFC3339_US}) host (app|heroku) (\S+) - (.*)", re.S)
SYSLOG_FRAME = re.compile(rf"<(\d+)>1 ({RFC3339_US}) (\S+) (app|heroku) (\S+) - - (.*)", re.S)
L10 = re.compile(r"Error L10 \(output buffer overflow\): (\d+) messages dropped since \S+\+00:00\.")


# -- receivers --


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


class HttpReceiver:
    """An ASGI app recording each POST; answers with the queued statuses, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[Received] = []
        self.statuses = list(statuses or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Received(headers, body, status))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def delivered_frames(self) -> list[tuple[str, ...]]:
        """(pri, timestamp, source, process, message) of every frame in every 2xx request."""
        frames = []
        for request in self.requests:
            if 200 <= request.status < 300:
                decoder = FrameDecoder()
                for frame in decoder.feed(request.body):
                    match = HTTP_FRAME.fullmatch(frame.decode())
                    assert match, frame
                    frames.append(match.groups())
                assert decoder.error is None
        return frames


class SyslogReceiver:
    """A TCP (optionally TLS) syslog server collecting octet-counted frames."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.frames: list[tuple[str, ...]] = []
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        self._writers.add(writer)
        try:
            while data := await reader.read(65536):
                for frame in decoder.feed(data):
                    match = SYSLOG_FRAME.fullmatch(frame.decode())
                    assert match, frame
                    self.frames.append(match.groups())
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._writers):  # Python 3.11 leaves accepted connections open
            writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.wait_closed()

    def messages(self) -> list[str]:
        return [frame[-1] for frame in self.frames]


@pytest.fixture
def make_logplex(tmp_path: Path, loop_thread: LoopThread) -> Iterator[Callable[..., Logplex]]:
    started: list[Logplex] = []

    def make(**options: object) -> Logplex:
        logplex = Logplex(tmp_path / f"data{len(started)}", drain_settings=FAST, **options)  # type: ignore[arg-type]
        loop_thread.run(logplex.start())
        started.append(logplex)
        return logplex

    yield make
    for logplex in started:
        loop_thread.run(logplex.close())


def publish_many(loop_thread: LoopThread, logplex: Logplex, app: str, count: int, prefix: str = "line") -> None:
    """Publish ``count`` lines in one go on the Logplex's loop (drains only see them afterwards)."""

    async def publish() -> None:
        for i in range(count):
            logplex.publish(app, "app", "web.1", f"{prefix} {i}")

    loop_thread.run(publish())


# -- validation --


@pytest.mark.parametrize(
    "url",
    ["syslog://logs.example.com:514", "syslog+tls://logs.example.com:6514", "https://user:pass@example.com/drain?x=1#f",
     "http://127.0.0.1:8080/", "HTTPS://[::1]/logs", "syslog://10.0.0.1:1"],
)
def test_valid_drain_urls(url: str) -> None:
    assert validate_drain_url(url) == url


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://example.com/", "scheme 'ftp' is not supported"),
        ("example.com:514", "not supported"),
        ("", "required"),
        ("syslog://logs.example.com", "needs a port"),
        ("syslog://logs.example.com:99999", "invalid port"),
        ("syslog://logs.example.com:0", "invalid port"),
        ("https:///path", "no host"),
        ("https://exa mple.com/", "spaces"),
        ("https://bad_host!.com/", "not a valid host name"),
        ("https://example.com/" + "a" * 3000, "longer than"),
    ],
)
def test_invalid_drain_urls_say_why(url: str, complaint: str) -> None:
    with pytest.raises(InvalidDrainURL, match=re.escape(complaint)):
        validate_drain_url(url)


def test_set_drains_validates_everything_first(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    good = DrainSpec("d1", "syslog://127.0.0.1:514", new_drain_token())
    logplex.set_drains(app, [good])
    with pytest.raises(TooManyDrains):
        logplex.set_drains(app, [DrainSpec(f"d{i}", good.url, good.token) for i in range(6)])
    with pytest.raises(InvalidDrain, match="unique"):
        logplex.set_drains(app, [good, good])
    with pytest.raises(InvalidDrain, match="token"):
        logplex.set_drains(app, [DrainSpec("d2", good.url, "has spaces")])
    with pytest.raises(InvalidDrainURL):
        logplex.set_drains(app, [good, DrainSpec("d3", "gopher://x", good.token)])
    assert logplex.stats()["drains"] == 1  # nothing changed
    assert re.fullmatch(r"d\.[0-9a-f-]{36}", new_drain_token())


# -- syslog drains --


def test_syslog_drain_delivers_to_rsyslog(
    make_logplex: Callable[..., Logplex], rsyslog_factory: Callable[[int | None], Rsyslog]
) -> None:
    rsyslog = rsyslog_factory(None)
    logplex = make_logplex()
    app = new_app_id()
    token = new_drain_token()
    logplex.set_drains(app, [DrainSpec("d1", f"syslog://127.0.0.1:{rsyslog.port}", token)])
    logplex.publish(app, "app", "web.1", "Hello from the app ✓")
    logplex.publish(app, "heroku", "router", 'at=info method=GET path="/" status=200')
    logplex.publish(app, "app", "", "no process")
    wait_until(lambda: len(rsyslog.lines()) >= 3, what="rsyslog")
    received = rsyslog.lines()
    fields = [line.split("|", 6) for line in received]
    assert [(pri, host, source, proc) for pri, host, source, proc, *_ in fields] == [
        ("190", token, "app", "web.1"),
        ("158", token, "heroku", "router"),
        ("190", token, "app", "-"),
    ]
    assert [f[6] for f in fields] == ["Hello from the app ✓", 'at=info method=GET path="/" status=200', "no process"]
    assert all(re.fullmatch(RFC3339_US, f[5]) for f in fields)


def test_syslog_drain_whose_receiver_is_down_reports_l10(
    make_logplex: Callable[..., Logplex],
    rsyslog_factory: Callable[[int | None], Rsyslog],
    loop_thread: LoopThread,
) -> None:
    port = free_port()  # nothing listens here yet
    logplex = make_logplex()
    app = new_app_id()
    logplex.set_drains(app, [DrainSpec("d1", f"syslog://127.0.0.1:{port}", new_drain_token())])
    publish_many(loop_thread, logplex, app, 1_500)  # returns although the drain is stuck
    assert len(logplex.history(app, lines=1500)) == 1_500
    wait_until(lambda: logplex.stats()["drain_lines_dropped"] > 0, what="the drain buffer to overflow")

    rsyslog = rsyslog_factory(port)
    wait_until(lambda: len(rsyslog.lines()) >= 1_025, what="rsyslog to catch up")
    received = rsyslog.lines()
    messages = [line.split("|", 6)[6] for line in received]
    notices = [m for m in messages if m.startswith("Error L10")]
    assert len(notices) == 1
    match = L10.fullmatch(notices[0])
    assert match, notices[0]
    delivered = [m for m in messages if m.startswith("line ")]
    assert int(match.group(1)) + len(delivered) == 1_500
    assert delivered[-1024:] == [f"line {i}" for i in range(476, 1_500)]  # the newest are kept
    notice_line = next(line for line in received if "Error L10" in line).split("|")
    assert notice_line[2:4] == ["heroku", "logplex"]


def test_syslog_tls_drain_validates_certificates(
    make_logplex: Callable[..., Logplex], certificates: Certificates, loop_thread: LoopThread
) -> None:
    receiver = SyslogReceiver(certificates.server_context())
    loop_thread.run(receiver.start())
    token = new_drain_token()
    url = f"syslog+tls://127.0.0.1:{receiver.port}"
    try:
        trusting = make_logplex(ssl_context=certificates.client_context())
        app = new_app_id()
        trusting.set_drains(app, [DrainSpec("d1", url, token)])
        trusting.publish(app, "app", "worker.3", "over TLS")
        wait_until(lambda: receiver.frames, what="the TLS frame")
        (pri, _, hostname, source, process, message), = receiver.frames
        assert (pri, hostname, source, process, message) == ("190", token, "app", "worker.3", "over TLS")

        # With only the system's CAs, the test CA is unknown: nothing is sent, the app hears L14.
        suspicious = make_logplex()
        other = new_app_id()
        suspicious.set_drains(other, [DrainSpec("d1", url, token)])
        suspicious.publish(other, "app", "web.1", "must not leak")
        wait_until(lambda: any("L14" in line.message for line in suspicious.history(other)), what="the L14 notice")
        notice = next(line for line in suspicious.history(other) if "L14" in line.message)
        assert (notice.source, notice.process) == ("heroku", "logplex")
        assert re.fullmatch(rf'Error L14 \(certificate validation\): error="[^"]+" uri="{re.escape(url)}"',
                            notice.message)
        assert "must not leak" not in receiver.messages()
    finally:
        loop_thread.run(receiver.stop())


def test_set_drains_reconciles_running_drains(
    make_logplex: Callable[..., Logplex], loop_thread: LoopThread
) -> None:
    first, second = SyslogReceiver(), SyslogReceiver()
    loop_thread.run(first.start())
    loop_thread.run(second.start())
    logplex = make_logplex()
    app = new_app_id()
    token = new_drain_token()
    try:
        logplex.set_drains(app, [DrainSpec("d1", f"syslog://127.0.0.1:{first.port}", token)])
        logplex.publish(app, "app", "web.1", "to first")
        wait_until(lambda: first.messages() == ["to first"], what="the first receiver")

        logplex.set_drains(app, [DrainSpec("d1", f"syslog://127.0.0.1:{second.port}", token)])  # URL changed
        logplex.publish(app, "app", "web.1", "to second")
        wait_until(lambda: second.messages() == ["to second"], what="the second receiver")
        assert first.messages() == ["to first"]
        assert logplex.stats()["drains"] == 1

        both = [DrainSpec("d1", f"syslog://127.0.0.1:{second.port}", token),
                DrainSpec("d2", f"syslog://127.0.0.1:{first.port}", token)]
        logplex.set_drains(app, both)
        logplex.publish(app, "app", "web.1", "to both")
        wait_until(lambda: "to both" in first.messages() and "to both" in second.messages(), what="both")
        assert second.messages() == ["to second", "to both"]  # d1 kept running: nothing replayed

        logplex.set_drains(app, [])
        assert logplex.stats()["drains"] == 0
        logplex.set_drains(app, both)
        logplex.forget(app)
        assert logplex.stats()["drains"] == 0
    finally:
        loop_thread.run(first.stop())
        loop_thread.run(second.stop())


def test_close_flushes_buffered_lines(tmp_path: Path, loop_thread: LoopThread) -> None:
    receiver = SyslogReceiver()
    loop_thread.run(receiver.start())
    logplex = Logplex(tmp_path, drain_settings=FAST)
    app = new_app_id()
    logplex.set_drains(app, [DrainSpec("d1", f"syslog://127.0.0.1:{receiver.port}", new_drain_token())])
    for i in range(100):
        logplex.publish(app, "app", "web.1", f"before start {i}")  # buffered until the loop runs
    loop_thread.run(logplex.start())
    loop_thread.run(logplex.close())
    wait_until(lambda: len(receiver.frames) == 100, what="all lines")
    assert receiver.messages() == [f"before start {i}" for i in range(100)]
    loop_thread.run(receiver.stop())


# -- HTTPS drains --


@pytest.fixture
def https_receiver(loop_thread: LoopThread, certificates: Certificates) -> Iterator[tuple[HttpReceiver, int]]:
    receiver = HttpReceiver()
    server = UvicornServer(receiver, ssl_certfile=str(certificates.cert), ssl_keyfile=str(certificates.key))
    loop_thread.run(server.start())
    yield receiver, server.port
    loop_thread.run(server.stop())


def test_https_drain_posts_logplex_frames(
    make_logplex: Callable[..., Logplex], certificates: Certificates, https_receiver: tuple[HttpReceiver, int]
) -> None:
    receiver, port = https_receiver
    logplex = make_logplex(ssl_context=certificates.client_context())
    app = new_app_id()
    token = new_drain_token()
    url = f"https://drain%40user:p%40ss@127.0.0.1:{port}/logs?app=x"
    logplex.set_drains(app, [DrainSpec("d1", url, token)])
    logplex.publish(app, "app", "web.1", "first\nsecond")
    logplex.publish(app, "heroku", "router", "at=info status=200")
    wait_until(lambda: len(receiver.delivered_frames()) == 3, what="three frames")

    frames = receiver.delivered_frames()
    assert [(f[0], f[2], f[3], f[4]) for f in frames] == [
        ("190", "app", "web.1", "first"),
        ("190", "app", "web.1", "second"),
        ("158", "heroku", "router", "at=info status=200"),
    ]
    for request in receiver.requests:
        headers = request.headers
        assert headers["content-type"] == "application/logplex-1"
        assert headers["logplex-drain-token"] == token
        assert re.fullmatch(r"[0-9A-F]{32}", headers["logplex-frame-id"])
        assert headers["logplex-frame-id"] == hashlib.md5(request.body, usedforsecurity=False).hexdigest().upper()
        assert headers["user-agent"].startswith("Logplex/")
        assert headers["authorization"] == "Basic " + base64.b64encode(b"drain@user:p@ss").decode()
        assert int(headers["logplex-msg-count"]) == len(FrameDecoder().feed(request.body))


def test_http_drain_retries_5xx_with_the_same_frame_id_and_drops_4xx(
    make_logplex: Callable[..., Logplex], certificates: Certificates, https_receiver: tuple[HttpReceiver, int],
    loop_thread: LoopThread,
) -> None:
    receiver, port = https_receiver
    receiver.statuses = [503, 429, 200]
    logplex = make_logplex(ssl_context=certificates.client_context())
    app = new_app_id()
    logplex.set_drains(app, [DrainSpec("d1", f"https://127.0.0.1:{port}/", new_drain_token())])
    publish_many(loop_thread, logplex, app, 5, prefix="retried")
    wait_until(lambda: receiver.delivered_frames(), what="the retried batch")
    assert [r.status for r in receiver.requests] == [503, 429, 200]
    assert len({r.headers["logplex-frame-id"] for r in receiver.requests}) == 1
    assert [f[4] for f in receiver.delivered_frames()] == [f"retried {i}" for i in range(5)]

    receiver.statuses = [400]  # refused for good: not retried, the next batch goes on
    publish_many(loop_thread, logplex, app, 1, prefix="refused")
    wait_until(lambda: len(receiver.requests) == 4, what="the refused batch")
    publish_many(loop_thread, logplex, app, 1, prefix="accepted")
    wait_until(lambda: len(receiver.requests) == 5, what="the next batch")
    assert [r.status for r in receiver.requests[3:]] == [400, 200]
    assert [f[4] for f in receiver.delivered_frames()][-1] == "accepted 0"
    assert logplex.stats()["drain_lines_dropped"] == 0


def test_http_drain_whose_receiver_is_down_reports_l10(
    make_logplex: Callable[..., Logplex], loop_thread: LoopThread
) -> None:
    port = free_port()
    logplex = make_logplex()
    app = new_app_id()
    logplex.set_drains(app, [DrainSpec("d1", f"http://127.0.0.1:{port}/", new_drain_token())])
    publish_many(loop_thread, logplex, app, 3_000)
    wait_until(lambda: logplex.stats()["drain_lines_dropped"] > 1_500, what="lines to be dropped")

    receiver = HttpReceiver()
    server = UvicornServer(receiver, port=port)
    loop_thread.run(server.start())
    def accounted() -> int:
        """Lines delivered plus lines the L10 notices say were dropped."""
        messages = [frame[4] for frame in receiver.delivered_frames()]
        reported = sum(int(m.group(1)) for m in map(L10.fullmatch, messages) if m)
        return reported + sum(message.startswith("line ") for message in messages)

    try:
        wait_until(lambda: accounted() == 3_000, what="every line delivered or reported dropped")
        frames = receiver.delivered_frames()
        notices = [f for f in frames if f[4].startswith("Error L10")]
        assert notices
        assert all((n[0], n[2], n[3]) == ("158", "heroku", "logplex") for n in notices)
        lines = [int(f[4].split()[1]) for f in frames if f[4].startswith("line ")]
        assert lines == sorted(set(lines))  # in order, never twice
        assert logplex.stats()["drain_lines_dropped"] == 3_000 - len(lines)
    finally:
        loop_thread.run(server.stop())
