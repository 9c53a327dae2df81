"""Dyno output relayed line by line to the log target, by the supervisor."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from pyroku.runtime import SyslogLogTarget
from tests.runtime.conftest import Harness, eventually

pytestmark = pytest.mark.anyio

FRAME = re.compile(
    r"<190>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00) (\S+) app (\S+) - - (.*)", re.DOTALL
)


class SyslogSink:
    """A logplex stand-in: accepts octet-counted RFC 5424 frames on a Unix stream socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames: list[bytes] = []
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while chunk := conn.recv(65536):
                buffer += chunk
                while b" " in buffer:
                    length, _, rest = buffer.partition(b" ")
                    if len(rest) < int(length):
                        break
                    self.frames.append(rest[:int(length)])
                    buffer = rest[int(length):]

    def close(self) -> None:
        self._server.close()


@pytest.fixture
def sink(harness: Harness) -> Iterator[SyslogSink]:
    s = SyslogSink(harness.work / "logplex.sock")
    yield s
    s.close()


async def test_lines_relayed_to_a_syslog_socket(harness: Harness, sink: SyslogSink) -> None:
    spec = harness.spec(
        "echo first; echo to-stderr >&2; printf 'no newline at the end'",
        log_target=SyslogLogTarget(str(sink.path)), app_id="app-123", dyno_name="worker.2",
    )
    await harness.runtime.start(spec)
    await eventually(_count(sink, 3), what="three frames")
    parsed = [FRAME.fullmatch(f.decode()) for f in sink.frames]
    assert all(parsed), sink.frames
    assert [(m[2], m[3], m[4]) for m in parsed if m] == [
        ("app-123", "worker.2", "first"), ("app-123", "worker.2", "to-stderr"),
        ("app-123", "worker.2", "no newline at the end"),
    ]


def _count(sink: SyslogSink, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(sink.frames) >= n
    return check


async def test_long_lines_are_split_and_crlf_trimmed(harness: Harness) -> None:
    exit_, out = await harness.run(
        "python3 -c \"import sys, time\n"
        "print('x' * 25000, flush=True); print('dos\\r', flush=True)\n"
        "sys.stdout.write('y' * 9999); sys.stdout.flush(); time.sleep(0.2); print('\u00e9' * 20)\""
    )
    assert exit_.status == 0
    # the last line is 9,999 "y" and 20 two-byte "é": cut before the "é" that straddles byte 10,000
    assert [len(line.encode()) for line in out] == [10000, 10000, 5000, 3, 9999, 40]
    assert out[3] == "dos"
    assert out[4] == "y" * 9999 and out[5] == "\u00e9" * 20


async def test_output_keeps_flowing_while_logplex_is_down(harness: Harness, tmp_path: Path) -> None:
    missing = harness.work / "nobody-listens.sock"
    spec = harness.spec("for i in 1 2 3; do echo $i; done; exec sleep 600",
                        log_target=SyslogLogTarget(str(missing)))
    handle = await harness.runtime.start(spec)
    await asyncio.sleep(0.5)
    status = await harness.runtime.status(handle.id)
    assert status.state == "running"  # lines are dropped and counted, the dyno never blocks


async def test_lines_reach_logplex(harness: Harness) -> None:
    """The supervisor's frames are what ``pyroku.logs`` ingests (it ships them without importing it:
    the logs package pulls in Starlette, too much for a process per dyno)."""
    from pyroku.logs import Logplex

    logplex = Logplex(harness.work / "logplex", socket_path=harness.work / "lp.sock")
    await logplex.start()
    try:
        spec = harness.spec("echo 'hello logplex'; echo $'tab\\there'", app_id="app-lp", dyno_name="web.4",
                            log_target=SyslogLogTarget(str(harness.work / "lp.sock")))
        await harness.runtime.start(spec)

        async def arrived() -> bool:
            return len(logplex.history("app-lp")) >= 2

        await eventually(arrived, what="lines in logplex")
        lines = logplex.history("app-lp")
    finally:
        await logplex.close()
    assert [(line.source, line.process, line.message) for line in lines] == [
        ("app", "web.4", "hello logplex"), ("app", "web.4", "tab\there"),
    ]
