"""The router as a real process: hot reload, last good table, log shipping, streaming, workers, stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pyroku.router import save_table
from tests.router._support import (
    ThreadedBackend,
    ThreadedServer,
    app,
    echo,
    http_get,
    replace_app,
    router_process,
    table,
    wait_for,
)

pytestmark = pytest.mark.slow


def test_hot_reload_and_last_good_table(tmp_path: Path) -> None:
    async def tagged_a(request, reader, writer):  # type: ignore[no-untyped-def]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA")
        return True

    async def tagged_b(request, reader, writer):  # type: ignore[no-untyped-def]
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB")
        return True

    with ThreadedBackend(tagged_a) as a, ThreadedBackend(tagged_b) as b:
        first = table(app("myapp", a.port), version=1)
        with router_process(tmp_path, first) as router:
            assert http_get(router.port)[2] == b"A"
            save_table(router.table_path, table(app("myapp", b.port), version=2))
            wait_for(lambda: http_get(router.port)[2] == b"B", 5, "the new table")
            router.table_path.write_text("{ this is not json")
            time.sleep(0.6)
            assert http_get(router.port)[2] == b"B"  # still the last good table
            router.table_path.unlink()
            time.sleep(0.6)
            assert http_get(router.port)[2] == b"B"
            save_table(router.table_path, replace_app(table(app("myapp", b.port)), "myapp", 3, maintenance=True))
            wait_for(lambda: http_get(router.port)[0] == 503, 5, "maintenance mode")
            assert "not valid JSON" in router.output()


def test_starts_without_a_table_and_picks_it_up(tmp_path: Path) -> None:
    with ThreadedBackend(echo) as dyno, router_process(tmp_path, table(app("myapp", dyno.port)),
                                                       write_table=False) as router:
        assert http_get(router.port)[0] == 404
        save_table(router.table_path, table(app("myapp", dyno.port)))
        wait_for(lambda: http_get(router.port)[0] == 200, 5, "the first table")


def test_log_lines_are_shipped_as_syslog_frames(tmp_path: Path) -> None:
    path = tmp_path / "logplex.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    received = bytearray()

    def accept() -> None:
        conn, _ = listener.accept()
        conn.settimeout(10)
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        with ThreadedBackend(echo) as dyno, router_process(tmp_path, table(app("myapp", dyno.port)),
                                                           "--log-socket", str(path)) as router:
            for i in range(3):
                assert http_get(router.port, f"/n{i}")[0] == 200
            wait_for(lambda: received.count(b"heroku router") >= 3, 5, "three frames")
        frames = []
        data = bytes(received)
        while data:
            length, _, rest = data.partition(b" ")
            frames.append(rest[: int(length)].decode())
            data = rest[int(length):]
        assert len(frames) == 3
        for i, frame in enumerate(frames):
            head, message = frame.split(" - - ", 1)
            pri, stamp, host, app_name, procid = head.split(" ")
            assert (pri, host, app_name, procid) == ("<158>1", "id-myapp", "heroku", "router")
            assert stamp.endswith("+00:00") and "T" in stamp
            assert message.startswith(f'at=info method=GET path="/n{i}" host=myapp.localhost request_id=')
    finally:
        listener.close()
        thread.join(5)


SIZE = 200 * 1024 * 1024


async def _stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """POST: count the body; GET: send SIZE bytes."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"POST"):
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                got = 0
                while got < length:
                    chunk = await reader.read(min(1 << 20, length - got))
                    if not chunk:
                        return
                    got += len(chunk)
                body = str(got).encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % SIZE)
                block = b"d" * (1 << 20)
                for _ in range(SIZE // len(block)):
                    writer.write(block)
                    await writer.drain()
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def test_streams_200_mb_both_ways_in_bounded_memory(tmp_path: Path) -> None:
    with ThreadedServer(_stream) as dyno, router_process(tmp_path, table(app("myapp", dyno.port))) as router:
        with socket.create_connection(("127.0.0.1", router.port), timeout=30) as sock:
            sock.sendall(b"POST /warmup HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: 2\r\n\r\nhi")
            assert sock.recv(65536).endswith(b"\r\n\r\n2")
            baseline = router.rss_kib()
            sock.sendall(b"POST /up HTTP/1.1\r\nHost: myapp.localhost\r\nContent-Length: %d\r\n\r\n" % SIZE)
            block = b"u" * (1 << 20)
            for _ in range(SIZE // len(block)):
                sock.sendall(block)
            response = b""
            while not response.endswith(str(SIZE).encode()):
                response += sock.recv(65536)
            assert response.startswith(b"HTTP/1.1 200 OK")
            sock.sendall(b"GET /down HTTP/1.1\r\nHost: myapp.localhost\r\n\r\n")
            got = 0
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            got = len(head.split(b"\r\n\r\n", 1)[1])
            while got < SIZE:
                chunk = sock.recv(1 << 20)
                assert chunk
                got += len(chunk)
            assert got == SIZE
        peak = router.rss_peak_kib()
        assert peak - baseline < 64 * 1024, f"router RSS grew from {baseline} KiB to a peak of {peak} KiB"


def test_two_workers_share_the_port_and_stop_on_sigterm(tmp_path: Path) -> None:
    with ThreadedBackend(echo) as dyno, router_process(tmp_path, table(app("myapp", dyno.port)),
                                                       "--workers", "2") as router:
        wait_for(lambda: router.listeners() == 2, 10, "both workers listening")
        for _ in range(20):
            assert http_get(router.port)[0] == 200
        children = Path(f"/proc/{router.process.pid}/task/{router.process.pid}/children").read_text().split()
        assert len(children) == 2
        router.process.send_signal(signal.SIGTERM)
        assert router.process.wait(20) == 0
        for pid in children:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_dead_worker_is_replaced(tmp_path: Path) -> None:
    with ThreadedBackend(echo) as dyno, router_process(tmp_path, table(app("myapp", dyno.port)),
                                                       "--workers", "2") as router:
        children_file = Path(f"/proc/{router.process.pid}/task/{router.process.pid}/children")
        wait_for(lambda: router.listeners() == 2, 10, "both workers listening")
        first = children_file.read_text().split()
        assert len(first) == 2
        os.kill(int(first[0]), signal.SIGKILL)
        wait_for(lambda: len(children_file.read_text().split()) == 2
                 and first[0] not in children_file.read_text().split(), 10, "a replacement worker")
        wait_for(lambda: router.listeners() == 2, 10, "the replacement listening")
        for _ in range(10):
            assert http_get(router.port)[0] == 200


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path) -> None:
    async def slow(request, reader, writer):  # type: ignore[no-untyped-def]
        await asyncio.sleep(1.0)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
        return True

    with ThreadedBackend(slow) as dyno, router_process(tmp_path, table(app("myapp", dyno.port))) as router:
        result: list[tuple[int, dict[str, str], bytes]] = []
        thread = threading.Thread(target=lambda: result.append(http_get(router.port)))
        thread.start()
        assert dyno.backend is not None
        wait_for(lambda: bool(dyno.backend and dyno.backend.requests), 5, "the request at the dyno")
        os.kill(router.process.pid, signal.SIGTERM)
        thread.join(10)
        assert result and result[0][0] == 200 and result[0][2] == b"slow"
        assert router.process.wait(10) == 0


def test_bad_arguments_exit_with_a_clear_message(tmp_path: Path) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pyroku.router", "--table", str(tmp_path / "t.json"), "--port", str(port)],
            capture_output=True, text=True, timeout=30,
        )
    finally:
        blocker.close()
    assert result.returncode == 1
    assert f"router: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
