"""Lines from other processes over the Unix socket, read back through a real uvicorn server."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from pyroku.logs import IngestSocketError, Logplex, SyslogWriter
from pyroku.logs._syslog import FrameDecoder, parse
from tests.logs.conftest import DEADLINE, LoopThread, UvicornServer, new_app_id, wait_until

PRODUCER = Path(__file__).with_name("producer.py")
RENDERED = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 app\[web\.1\]: (.*)$")


@dataclass
class Stack:
    logplex: Logplex
    base: str  # where the stream app is mounted, like the API server will


@pytest.fixture
def stack(tmp_path: Path, loop_thread: LoopThread) -> Iterator[Stack]:
    logplex = Logplex(tmp_path / "data")
    loop_thread.run(logplex.start())
    api = Starlette(routes=[Mount("/log-stream", app=logplex.asgi_app())])
    server = UvicornServer(api)
    loop_thread.run(server.start())
    yield Stack(logplex, f"http://127.0.0.1:{server.port}/log-stream")
    loop_thread.run(logplex.close())  # ends tail streams, so uvicorn can stop at once
    loop_thread.run(server.stop())


def produce(logplex: Logplex, app: str, prefix: str, count: int) -> None:
    """Run a producer process writing ``count`` lines over the socket."""
    result = subprocess.run(
        [sys.executable, str(PRODUCER), str(logplex.socket_path), app, prefix, str(count)],
        capture_output=True, timeout=DEADLINE,
    )
    assert result.returncode == 0, result.stderr.decode()


def read_events(lines: Iterator[str], count: int) -> list[tuple[str, str]]:
    """Read ``count`` server-sent events as (id, data)."""
    events: list[tuple[str, str]] = []
    event_id = data = ""
    for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            events.append((event_id, data))
            event_id = data = ""
            if len(events) == count:
                break
    return events


def message(rendered: str) -> str:
    match = RENDERED.match(rendered)
    assert match, rendered
    return match.group(1)


def test_tail_as_text_sees_lines_from_another_process(stack: Stack) -> None:
    app = new_app_id()
    stack.logplex.publish(app, "app", "web.1", "before the session")
    session = stack.logplex.create_session(app, lines=1, tail=True)
    with httpx.Client(timeout=DEADLINE) as client, client.stream("GET", session.url(stack.base)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        lines = response.iter_lines()
        assert message(next(lines)) == "before the session"
        wait_until(lambda: stack.logplex.stats()["tails"] == 1, what="the tail to open")
        produce(stack.logplex, app, "text", 50)
        received = [message(next(lines)) for _ in range(50)]
    assert received == [f"text {i}" for i in range(50)]
    wait_until(lambda: stack.logplex.stats()["tails"] == 0, what="the tail to end after disconnect")


def test_tail_as_sse_resumes_after_last_event_id(stack: Stack) -> None:
    app = new_app_id()
    session = stack.logplex.create_session(app, lines=0, tail=True)
    url = session.url(stack.base)
    sse = {"Accept": "text/event-stream"}
    with httpx.Client(timeout=DEADLINE) as client:
        with client.stream("GET", url, headers=sse) as response:
            assert response.headers["content-type"] == "text/event-stream"
            wait_until(lambda: stack.logplex.stats()["tails"] == 1, what="the tail to open")
            produce(stack.logplex, app, "first", 10)
            first = read_events(response.iter_lines(), 10)
        assert [message(data) for _, data in first] == [f"first {i}" for i in range(10)]
        ids = [int(event_id) for event_id, _ in first]
        assert ids == sorted(ids) and len(set(ids)) == 10

        # Lines published while nobody is connected are not lost: resume after the last event seen.
        wait_until(lambda: stack.logplex.stats()["tails"] == 0, what="the first stream to end")
        produce(stack.logplex, app, "missed", 5)
        wait_until(lambda: len(stack.logplex.history(app, lines=1500)) == 15, what="the missed lines")
        resume = {**sse, "Last-Event-ID": str(ids[-1])}
        with client.stream("GET", url, headers=resume) as response:
            lines = response.iter_lines()
            missed = read_events(lines, 5)
            produce(stack.logplex, app, "live", 3)
            live = read_events(lines, 3)
        assert [message(data) for _, data in missed] == [f"missed {i}" for i in range(5)]
        assert [message(data) for _, data in live] == [f"live {i}" for i in range(3)]

        # Resuming from the middle replays what came after that event, then stays live.
        with client.stream("GET", url, headers={**sse, "Last-Event-ID": str(ids[4])}) as response:
            replay = read_events(response.iter_lines(), 13)
        expected = [f"first {i}" for i in range(5, 10)] + [f"missed {i}" for i in range(5)]
        assert [message(data) for _, data in replay] == expected + [f"live {i}" for i in range(3)]


def test_expired_or_unknown_secret_is_404(stack: Stack) -> None:
    response = httpx.get(f"{stack.base}/not-a-session", timeout=DEADLINE)
    assert response.status_code == 404


def test_writer_counts_lines_lost_while_logplex_is_down(tmp_path: Path, loop_thread: LoopThread) -> None:
    app = new_app_id()
    logplex = Logplex(tmp_path)
    writer = SyslogWriter(logplex.socket_path, reconnect_interval=0)
    try:
        for i in range(3):
            assert writer.write(app, "app", "web.1", f"lost {i}") is False  # nobody listens: dropped at once
        assert writer.dropped == 3
        loop_thread.run(logplex.start())
        assert writer.write(app, "app", "web.1", "back")
        wait_until(lambda: len(logplex.history(app)) == 2, what="the notice and the line")
        lines = logplex.history(app)
        assert (lines[0].source, lines[0].process) == ("app", "log-shuttle")
        assert re.fullmatch(r"Error L13: 3 messages lost since \S+\+00:00\.", lines[0].message)
        assert lines[1].message == "back"

        # logplex restarts: the writer notices the broken connection and comes back.
        loop_thread.run(logplex.close())
        assert writer.write(app, "app", "web.1", "during restart") is False
        logplex = Logplex(tmp_path)
        loop_thread.run(logplex.start())
        assert writer.write(app, "app", "web.1", "after restart")
        wait_until(lambda: logplex.history(app, lines=1)[0].message == "after restart", what="the line")
        assert logplex.history(app, lines=2)[0].message.startswith("Error L13: 1 messages lost since")
    finally:
        writer.close()
        loop_thread.run(logplex.close())


def test_writer_drops_when_the_socket_is_full_and_reports_l12(tmp_path: Path) -> None:
    """A real listening socket that does not read: the writer must not block, and no frame is torn."""
    path = tmp_path / "stalled.sock"
    app = new_app_id()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(path))
        listener.listen()
        writer = SyslogWriter(path, send_buffer=64 * 1024)
        accepted = 0
        for i in range(20_000):
            accepted += writer.write(app, "app", "web.1", f"line {i} " + "x" * 200)
        assert 0 < accepted < 20_000
        assert writer.dropped == 20_000 - accepted
        connection, _ = listener.accept()
        with connection:
            connection.settimeout(DEADLINE)
            decoder = FrameDecoder()
            frames: list[bytes] = []

            def drain_socket() -> bool:
                connection.setblocking(False)
                try:
                    while data := connection.recv(1 << 16):
                        frames.extend(decoder.feed(data))
                except BlockingIOError:
                    pass
                return False

            drain_socket()
            assert writer.write(app, "app", "web.1", "caught up")
            assert writer.flush()
            wait_until(lambda: drain_socket() or any(b"caught up" in f for f in frames), what="the last line")
        writer.close()
    messages = [parse(frame).message.decode() for frame in frames]
    assert len(messages) == accepted + 2
    assert messages[:accepted] == [m for m in messages[:accepted] if m.startswith("line ")]
    assert re.fullmatch(rf"Error L12: {20_000 - accepted} messages dropped since \S+\+00:00\.", messages[-2])
    assert messages[-1] == "caught up"


def test_garbage_on_the_socket_is_rejected_without_harm(stack: Stack) -> None:
    app = new_app_id()
    good = f"<190>1 - {app} app web.1 - - good".encode()
    wrong_source = f"<190>1 - {app} router web.1 - - bad source".encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(stack.logplex.socket_path))
        raw.sendall(b"%d %s%d %s" % (len(good), good, len(wrong_source), wrong_source))
        raw.sendall(b"this is not framed at all\n")
        raw.settimeout(DEADLINE)
        assert raw.recv(1) == b""  # logplex hung up on the unframed stream
    assert [line.message for line in stack.logplex.history(app)] == ["good"]
    assert stack.logplex.stats()["frames_rejected"] == 1
    produce(stack.logplex, app, "still works", 1)
    wait_until(lambda: len(stack.logplex.history(app)) == 2, what="the next writer's line")


def test_socket_path_problems_are_clear(tmp_path: Path, loop_thread: LoopThread) -> None:
    long_dir = tmp_path / ("d" * 120)
    with pytest.raises(IngestSocketError, match="longer than 107 bytes"):
        loop_thread.run(Logplex(long_dir).start())
    first = Logplex(tmp_path / "a", socket_path=tmp_path / "shared.sock")
    loop_thread.run(first.start())
    try:
        with pytest.raises(IngestSocketError, match="already listening"):
            loop_thread.run(Logplex(tmp_path / "b", socket_path=tmp_path / "shared.sock").start())
    finally:
        loop_thread.run(first.close())
    # A socket file left by a logplex that died is taken over.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stale:
        stale.bind(str(tmp_path / "stale.sock"))
    revived = Logplex(tmp_path / "c", socket_path=tmp_path / "stale.sock")
    loop_thread.run(revived.start())
    loop_thread.run(revived.close())
