"""Proxying through the router in-process: routing, headers, keep-alive, pooling, bodies, limits."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest

from tests.router._support import (
    LOOPS,
    Request,
    app,
    backend,
    fields,
    http_response,
    router,
    run,
    table,
)

pytestmark = pytest.mark.parametrize("loop", LOOPS)


def test_routes_by_host_and_adds_heroku_headers(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            before = int(time.time() * 1000)
            response = await r.get("/hello?x=1", host="MyApp.LocalHost:8080")
            assert response.status == 200
            seen = response.json()
            assert seen["path"] == "/hello?x=1"
            headers = {k.lower(): v for k, v in seen["headers"]}
            assert headers["host"] == "MyApp.LocalHost:8080"
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                                headers["x-request-id"])
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-forwarded-proto"] == "http"
            assert headers["x-forwarded-port"] == str(r.port)
            assert before <= int(headers["x-request-start"]) <= int(time.time() * 1000)
            assert headers["via"] == "1.1 pyroku"
            assert response.header("via") == "1.1 pyroku"

    run(scenario, loop)


def test_unknown_host_gets_no_such_app_page(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            response = await r.get(host="other.localhost")
            assert response.status == 404
            assert response.header("content-type") == "text/html; charset=utf-8"
            assert b"No such app" in response.body
            assert dyno.requests == []
            assert r.lines == []  # no app to log for

    run(scenario, loop)


def test_custom_domains_and_wildcards(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as one, backend() as two:
            routing = table(app("one", one.port, hostnames=("one.localhost", "www.example.com")),
                            app("two", two.port, hostnames=("*.example.org",)))
            async with router(tmp_path, routing) as r:
                assert (await r.get(host="WWW.EXAMPLE.COM.")).status == 200
                assert (await r.get(host="shop.example.org")).status == 200
                assert (await r.get(host="example.org")).status == 404
                assert (await r.get(host="a.b.example.org")).status == 404
                assert len(one.requests) == 1
                assert len(two.requests) == 1

    run(scenario, loop)


def test_request_id_kept_when_valid_else_replaced(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            good = "abcDEF0123456789+/=-xyz"
            seen = (await r.get(headers=[("X-Request-Id", good)])).json()
            assert dict(seen["headers"])["X-Request-Id"] == good
            assert fields(await r.line())["request_id"] == good
            for bad in ("short-id", "x" * 201, "bad id with spaces and more chars", "ünïcode-ünïcode-ünïcode"):
                seen = (await r.get(headers=[("X-Request-Id", bad)])).json()
                ids = [v for k, v in seen["headers"] if k.lower() == "x-request-id"]
                assert len(ids) == 1 and ids[0] != bad and len(ids[0]) == 36

    run(scenario, loop)


def test_forwarded_for_and_via_are_appended(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            seen = (await r.get(headers=[("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2"),
                                         ("Via", "1.0 cdn"), ("X-Forwarded-Proto", "https"),
                                         ("X-Forwarded-Port", "443"), ("X-Request-Start", "1")])).json()
            headers = [(k.lower(), v) for k, v in seen["headers"]]
            assert [v for k, v in headers if k == "x-forwarded-for"] == ["10.0.0.1, 10.0.0.2, 127.0.0.1"]
            assert [v for k, v in headers if k == "via"] == ["1.0 cdn, 1.1 pyroku"]
            assert [v for k, v in headers if k == "x-forwarded-proto"] == ["http"]
            assert [v for k, v in headers if k == "x-forwarded-port"] == [str(r.port)]
            assert [v for k, v in headers if k == "x-request-start"] != ["1"]
            assert fields(await r.line())["fwd"] == "10.0.0.1, 10.0.0.2, 127.0.0.1"

    run(scenario, loop)


def test_hop_by_hop_headers_are_stripped_both_ways(tmp_path: Path, loop: str) -> None:
    async def handler(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(http_response(200, b"ok", [("Keep-Alive", "timeout=5"), ("X-Private", "secret"),
                                                ("Connection", "keep-alive, X-Private"), ("Trailer", "X"),
                                                ("X-Kept", "1"), ("Via", "1.1 app")]))
        return True

    async def scenario() -> None:
        async with backend() as dyno, backend(handler) as plain:
            routing = table(app("myapp", dyno.port), app("plain", plain.port))
            async with router(tmp_path, routing) as r:
                seen = (await r.get(headers=[("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"),
                                             ("Keep-Alive", "300"), ("TE", "trailers"), ("Proxy-Connection", "x"),
                                             ("X-Forwarded-Host", "orig.example.com")])).json()
                names = {k.lower() for k, _ in seen["headers"]}
                assert not names & {"connection", "x-secret", "keep-alive", "te", "proxy-connection"}
                assert "x-forwarded-host" in names
                response = await r.get(host="plain.localhost")
                names = {k.lower() for k, _ in response.headers}
                assert "keep-alive" not in names and "trailer" not in names
                assert response.header("x-kept") == "1"
                assert response.header("via") == "1.1 app, 1.1 pyroku"

    run(scenario, loop)


def test_keep_alive_many_requests_one_connection_and_pooled_upstream(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            for i in range(20):
                response = await client.request(path=f"/{i}")
                assert response.status == 200 and response.json()["path"] == f"/{i}"
                assert response.header("connection") is None
            await client.close()
            second = await r.client()
            assert (await second.request()).status == 200
            await second.close()
            assert len(dyno.requests) == 21
            assert dyno.connections == 1  # every request reused one pooled connection

    run(scenario, loop)


def test_pooled_connection_closed_by_dyno_is_retried(tmp_path: Path, loop: str) -> None:
    async def closing(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(http_response(200, b"once"))  # keep-alive promised, then the dyno closes silently
        await writer.drain()
        return False

    async def scenario() -> None:
        async with backend(closing) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            for _ in range(3):
                await asyncio.sleep(0.05)
                response = await client.request()
                assert response.status == 200 and response.body == b"once"
            await client.close()
            assert not [line for line in r.lines if "code=" in line]

    run(scenario, loop)


def test_pipelined_requests_are_answered_in_order(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"".join(
                f"GET /{i} HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n".encode() for i in range(5)
            ) + b"POST /p HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 3\r\n\r\nabc")
            paths = [(await client.response()).json()["path"] for _ in range(5)]
            last = (await client.response()).json()
            assert paths == [f"/{i}" for i in range(5)]
            assert (last["path"], last["body"]) == ("/p", "abc")
            await client.close()

    run(scenario, loop)


def test_http10_client_gets_close_delimited_answers(tmp_path: Path, loop: str) -> None:
    async def chunked(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        return True

    async def scenario() -> None:
        async with backend(chunked) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"GET / HTTP/1.0\r\nHost: myapp.localhost\r\n\r\n")
            response = await client.response()
            assert response.raw_head.startswith(b"HTTP/1.1 200 OK")
            assert response.body == b"hello"
            assert response.header("transfer-encoding") is None
            assert dyno.requests[0].version == "1.1"
            await client.close()

    run(scenario, loop)


def test_http10_keep_alive(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            for _ in range(2):
                await client.send(b"GET / HTTP/1.0\r\nHost: myapp.localhost\r\nConnection: keep-alive\r\n\r\n")
                response = await client.response()
                assert response.status == 200
                assert response.header("connection") == "keep-alive"
            await client.close()

    run(scenario, loop)


def test_chunked_bodies_both_ways(tmp_path: Path, loop: str) -> None:
    async def chunky(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in (request.body[:4], request.body[4:]):
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        return True

    async def scenario() -> None:
        async with backend(chunky) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                              b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
            response = await client.response()
            assert response.body == b"abcdefg"
            assert response.header("transfer-encoding") == "chunked"
            assert dyno.requests[0].header("transfer-encoding") == "chunked"
            assert dyno.requests[0].header("content-length") is None
            assert (await client.request()).status == 200  # still usable
            await client.close()

    run(scenario, loop)


def test_content_length_rules(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 3\r\n"
                              b"Content-Length: 3\r\n\r\nabc")
            seen = (await client.response()).json()
            assert seen["body"] == "abc"
            assert [k for k, _ in seen["headers"] if k.lower() == "content-length"] == ["Content-Length"]
            await client.close()
            for head in (b"Content-Length: 3\r\nContent-Length: 4\r\n", b"Content-Length: 3, 3\r\n"):
                client = await r.client()
                await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\n" + head + b"\r\nabcd")
                assert (await client.response()).status == 400
                await client.close()
            client = await r.client()  # chunked wins over Content-Length
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 100\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            seen = (await client.response()).json()
            assert seen["body"] == "abc"
            await client.close()

    run(scenario, loop)


def test_expect_100_continue_answered_by_router(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 5\r\n"
                              b"Expect: 100-continue\r\n\r\n")
            interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            await client.send(b"hello")
            seen = (await client.response()).json()
            assert seen["body"] == "hello"
            assert "expect" not in {k.lower() for k, _ in seen["headers"]}
            await client.close()

    run(scenario, loop)


def test_head_requests_and_bodiless_statuses(tmp_path: Path, loop: str) -> None:
    async def handler(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        if request.path == "/204":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif request.path == "/304":
            writer.write(b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n")
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")  # HEAD: no body follows
        return True

    async def scenario() -> None:
        async with backend(handler) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            response = await client.request("HEAD")
            assert response.status == 200 and response.header("content-length") == "1000"
            assert (await client.request(path="/204")).status == 204
            assert (await client.request(path="/304")).status == 304
            assert (await client.request("HEAD")).status == 200
            await client.close()
            assert dyno.connections == 1

    run(scenario, loop)


def test_interim_responses_are_not_relayed(tmp_path: Path, loop: str) -> None:
    async def handler(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" + http_response(200, b"done"))
        return True

    async def scenario() -> None:
        async with backend(handler) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            response = await r.get()
            assert (response.status, response.body) == (200, b"done")

    run(scenario, loop)


def test_close_delimited_response_is_rechunked_for_http11(tmp_path: Path, loop: str) -> None:
    async def handler(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        return False

    async def scenario() -> None:
        async with backend(handler) as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            for _ in range(2):
                response = await client.request()
                assert response.body == b"until the end"
                assert response.header("transfer-encoding") == "chunked"
            await client.close()
            assert dyno.connections == 2

    run(scenario, loop)


def test_request_limits(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            cases = [
                b"GET /" + b"a" * 8200 + b" HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nX-Big: " + b"b" * 8200 + b"\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(1001))
                + b"\r\n",
                b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\n" + b"N" * 1001 + b": 1\r\n\r\n",
                b"GET  / HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n",
                b"GET / HTTP/1.1\nHost: myapp.localhost\n\n",
                b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nBad Header: 1\r\n\r\n",
                b"GET / HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost:\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: myapp.localhost\r\nHost: myapp.localhost\r\n\r\n",
                b"GET http://myapp.localhost/ HTTP/1.0\r\n\r\n",
                b"CONNECT myapp.localhost:443 HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n",
                b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            ]
            for raw in cases:
                client = await r.client()
                await client.send(raw)
                response = await client.response()
                assert response.status == 400, raw[:60]
                assert response.header("connection") == "close"
                assert await client.closed()
                await client.close()
            # a header of exactly the limit passes
            response = await r.get(headers=[("X-Fit", "c" * (8192 - len("X-Fit: ")))])
            assert response.status == 200
            assert dyno.requests and len(dyno.requests) == 1

    run(scenario, loop)


def test_bad_expect_is_417_and_logged_as_h26(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            response = await r.get(headers=[("Expect", "something-else")])
            assert response.status == 417
            line = await r.line()
            assert 'code=H26 desc="Request Error" cause="unsupported expect header value"' in line
            assert fields(line)["status"] == "417"
            response = await r.get(headers=[("X-A", "1")], host="myapp.localhost\r\nHost: myapp.localhost")
            assert response.status == 400
            assert 'cause="duplicate host header"' in await r.line()
            assert dyno.requests == []

    run(scenario, loop)


def test_early_response_while_uploading_closes_after(tmp_path: Path, loop: str) -> None:
    async def early(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(http_response(413, b"too big", reason="Payload Too Large"))
        await writer.drain()
        while await reader.read(65536):  # until the router gives up on this connection
            pass
        writer.close()

    async def scenario() -> None:
        server = await asyncio.start_server(early, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with router(tmp_path, table(app("myapp", port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 1000000\r\n\r\nabc")
            response = await client.response()
            assert response.status == 413
            assert response.header("connection") == "close"
            assert await client.closed()
            await client.close()
        server.close()
        await server.wait_closed()

    run(scenario, loop)


def test_large_body_streams_both_ways(tmp_path: Path, loop: str) -> None:
    size = 8 * 1024 * 1024

    async def streamer(request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"z" * 65536
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()
        return True

    async def scenario() -> None:
        async with backend() as up, backend(streamer) as down, \
                router(tmp_path, table(app("up", up.port), app("down", down.port))) as r:
            client = await r.client()
            await client.send(b"POST / HTTP/1.1\r\nHost: up.localhost\r\nContent-Length: %d\r\n\r\n" % size)
            block = b"u" * 65536
            for _ in range(size // len(block)):
                await client.send(block)
            assert (await client.response()).json()["body_length"] == size
            response = await client.request(host="down.localhost")
            assert len(response.body) == size
            await client.close()

    run(scenario, loop)
