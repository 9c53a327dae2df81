"""Every router error code, with Heroku's timeouts shortened through ``Timeouts`` (no timing asserts)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from pyroku.router import Limits
from tests.router._support import (
    FAST,
    LOOPS,
    Request,
    app,
    backend,
    fields,
    free_port,
    http_response,
    replace_app,
    router,
    run,
    table,
)

pytestmark = pytest.mark.parametrize("loop", LOOPS)

NO_DYNO = "dyno= connect= service= status={status} bytes= protocol=http"


def test_h10_all_web_dynos_crashed(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        routing = table(app("myapp", free_port(), free_port(), state="crashed"))
        async with router(tmp_path, routing) as r:
            response = await r.get()
            assert response.status == 503
            assert b"Application Error" in response.body
            line = await r.line()
            assert line.startswith('at=error code=H10 desc="App crashed" method=GET path="/" host=myapp.localhost ')
            assert line.endswith(NO_DYNO.format(status=503))

    run(scenario, loop)


def test_h11_backlog_too_deep(tmp_path: Path, loop: str) -> None:
    release = asyncio.Event()

    async def slow(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(http_response(200, b"slow"))
        return True

    async def scenario() -> None:
        async with backend(slow) as dyno, router(tmp_path, table(app("myapp", dyno.port)),
                                                 limits=Limits(requests_per_dyno=2)) as r:
            first = asyncio.ensure_future(r.get())
            second = asyncio.ensure_future(r.get())
            while len(dyno.requests) < 2:
                await asyncio.sleep(0.01)
            third = await r.get()
            assert third.status == 503
            assert "code=H11" in await r.line()
            release.set()
            assert (await first).status == 200
            assert (await second).status == 200
            assert (await r.get()).status == 200  # the counter went back down

    run(scenario, loop)


def test_h12_request_timeout(tmp_path: Path, loop: str) -> None:
    async def silent(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(3)
        return False

    async def scenario() -> None:
        async with backend(silent) as dyno, router(tmp_path, table(app("myapp", dyno.port)), FAST) as r:
            client = await r.client()
            response = await client.request()
            assert response.status == 503
            line = await r.line()
            assert line.startswith('at=error code=H12 desc="Request timeout" method=GET ')
            f = fields(line)
            assert (f["dyno"], f["status"]) == ("web.1", "503")
            assert f["connect"].endswith("ms") and f["service"].endswith("ms")
            assert response.header("connection") is None  # the client connection is still good
            await client.close()

    run(scenario, loop)


def test_h13_connection_closed_without_response(tmp_path: Path, loop: str) -> None:
    async def rude(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        return False

    async def scenario() -> None:
        async with backend(rude) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            assert (await r.get()).status == 503
            assert 'code=H13 desc="Connection closed without response"' in await r.line()

    run(scenario, loop)


def test_h14_no_web_dynos(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with router(tmp_path, table(app("myapp", web_quantity=0))) as r:
            assert (await r.get()).status == 503
            line = await r.line()
            assert line.startswith('at=error code=H14 desc="No web processes running" method=GET path="/"')
            assert line.endswith(NO_DYNO.format(status=503))

    run(scenario, loop)


def test_h15_idle_connection(tmp_path: Path, loop: str) -> None:
    async def stall(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(3)
        return False

    async def scenario() -> None:
        async with backend(stall) as dyno, router(tmp_path, table(app("myapp", dyno.port)), FAST) as r:
            client = await r.client()
            await client.send(b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
            head = await client.reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK")
            assert await client.closed()  # cut mid-body
            await client.close()
            line = await r.line()
            assert line.startswith('at=error code=H15 desc="Idle connection" ')
            assert fields(line)["status"] == "503"

    run(scenario, loop)


def test_h15_before_the_body_sends_a_page(tmp_path: Path, loop: str) -> None:
    async def stall(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(3)
        return False

    async def scenario() -> None:
        async with backend(stall) as dyno, router(tmp_path, table(app("myapp", dyno.port)), FAST) as r:
            assert (await r.get()).status == 503
            assert "code=H15" in await r.line()

    run(scenario, loop)


def test_h17_status_line_without_reason_phrase(tmp_path: Path, loop: str) -> None:
    async def terse(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok")
        return True

    async def scenario() -> None:
        async with backend(terse) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            assert (await r.get()).status == 503
            assert 'code=H17 desc="Poorly formatted HTTP response"' in await r.line()

    run(scenario, loop)


def test_h18_closed_mid_response(tmp_path: Path, loop: str) -> None:
    async def quitter(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")
        await writer.drain()
        await asyncio.sleep(0.05)
        return False

    async def scenario() -> None:
        async with backend(quitter) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
            await client.reader.readuntil(b"\r\n\r\n")
            assert await client.closed()
            await client.close()
            line = await r.line()
            assert line.startswith('sock=backend at=error code=H18 desc="Server Request Interrupted" method=GET ')
            assert fields(line)["status"] == "503"

    run(scenario, loop)


def test_h19_connect_timeout(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        # A listener that never accepts, with its accept queue full: further SYNs are dropped.
        jammed = socket.socket()
        jammed.bind(("127.0.0.1", 0))
        jammed.listen(0)
        fillers = []
        port = jammed.getsockname()[1]
        for _ in range(2):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.1)
        try:
            async with router(tmp_path, table(app("myapp", port)), FAST) as r:
                assert (await r.get()).status == 503
                line = await r.line()
                assert 'code=H19 desc="Backend connection timeout"' in line
                assert fields(line)["dyno"] == "web.1"
        finally:
            for sock in [*fillers, jammed]:
                sock.close()

    run(scenario, loop)


def test_h20_boot_timeout_and_wake_when_a_dyno_comes_up(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno:
            routing = table(app("myapp", dyno.port, state="starting"))
            async with router(tmp_path, routing, FAST) as r:
                assert (await r.get()).status == 503
                line = await r.line()
                assert line.startswith('at=error code=H20 desc="App boot timeout" ')
                assert line.endswith(NO_DYNO.format(status=503))
                waiting = asyncio.ensure_future(r.get())
                await asyncio.sleep(0.2)
                assert not waiting.done()
                up = replace_app(routing, "myapp", 2, dynos=(routing.apps["id-myapp"].dynos[0].__class__(
                    "web.1", "127.0.0.1", dyno.port, "up"),))
                await r.publish(up)
                response = await waiting
                assert response.status == 200
                assert fields(await r.line())["status"] == "200"

    run(scenario, loop)


def test_h21_connection_refused_and_failover(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        dead = free_port()
        async with router(tmp_path, table(app("myapp", dead))) as r:
            assert (await r.get()).status == 503
            assert 'code=H21 desc="Backend connection refused"' in await r.line()
        async with backend() as dyno, router(tmp_path, table(app("myapp", dead, dyno.port))) as r:
            for _ in range(10):
                assert (await r.get()).status == 200  # the refusing dyno is skipped (quarantined)
            assert not [line for line in r.lines if "code=" in line]

    run(scenario, loop)


def test_h25_oversized_response_headers(tmp_path: Path, loop: str) -> None:
    async def big(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if request.path == "/cookie":
            writer.write(http_response(200, b"x", [("Set-Cookie", "a=" + "c" * 9000)]))
        else:
            writer.write(http_response(200, b"x", [("X-Huge", "h" * (600 * 1024))]))
        return True

    async def scenario() -> None:
        async with backend(big) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            for path in ("/", "/cookie"):
                response = await r.get(path)
                assert response.status == 502
                line = await r.line()
                assert 'code=H25 desc="HTTP Restriction"' in line
                assert fields(line)["status"] == "502"

    run(scenario, loop)


def test_h26_bad_chunk_is_logged(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"3\r\nabc\r\nZZ\r\n")
            assert (await client.response()).status == 400
            await client.close()
            line = await r.line()
            assert 'code=H26 desc="Request Error" cause="bad chunk"' in line
            assert fields(line)["status"] == "400"

    run(scenario, loop)


def test_h27_client_gone(tmp_path: Path, loop: str) -> None:
    async def slow(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.5)
        writer.write(http_response(200, b"late"))
        return True

    async def scenario() -> None:
        async with backend(slow) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
            while not dyno.requests:
                await asyncio.sleep(0.01)
            await client.close()
            line = await r.line()
            assert line.startswith('sock=client at=warning code=H27 desc="Client Request Interrupted" method=GET ')
            assert fields(line)["status"] == "499"

    run(scenario, loop)


def test_h28_client_idle_while_sending(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port)), FAST) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 10\r\n\r\nabc")
            assert await client.closed()
            await client.close()
            line = await r.line()
            assert line.startswith('sock=client at=warning code=H28 desc="Client Connection Idle" method=POST ')
            assert fields(line)["status"] == "499"

    run(scenario, loop)


def test_h80_maintenance_and_custom_pages(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno:
            routing = table(app("myapp", dyno.port, maintenance=True),
                            app("custom", dyno.port, maintenance=True,
                                maintenance_page_url="https://pages.example.com/maint.html"),
                            app("broken", free_port(), state="crashed",
                                error_page_url="https://pages.example.com/error.html?a=1&b=2"))
            async with router(tmp_path, routing) as r:
                response = await r.get()
                assert response.status == 503
                assert b"Offline for Maintenance" in response.body
                line = await r.line()
                assert line.startswith('at=info code=H80 desc="Maintenance mode" method=GET path="/" ')
                assert line.endswith(NO_DYNO.format(status=503))
                response = await r.get(host="custom.localhost")
                assert b'<iframe src="https://pages.example.com/maint.html"' in response.body
                response = await r.get(host="broken.localhost")
                assert response.status == 503
                assert b'<iframe src="https://pages.example.com/error.html?a=1&amp;b=2"' in response.body
                assert dyno.requests == []

    run(scenario, loop)


def test_h81_nothing_deployed(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with router(tmp_path, table(app("myapp", released=False, web_quantity=0))) as r:
            response = await r.get()
            assert response.status == 502
            line = await r.line()
            assert line.startswith('at=info code=H81 desc="Blank app" method=GET path="/" ')
            assert line.endswith(NO_DYNO.format(status=502))

    run(scenario, loop)


def test_keepalive_idle_client_is_closed_silently(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        timeouts = FAST.__class__(keepalive=0.3)
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port)), timeouts) as r:
            client = await r.client()
            assert (await client.request()).status == 200
            assert await client.closed()
            await client.close()
            assert len(r.lines) == 1

    run(scenario, loop)
