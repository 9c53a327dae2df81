"""Real parts for logplex tests: an event loop thread, uvicorn servers, certificates, rsyslogd."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn
import uvloop

T = TypeVar("T")
DEADLINE = 20.0  # every wait in these tests gives up after this many seconds


def new_app_id() -> str:
    return str(uuid.uuid4())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout: float = DEADLINE, what: str = "condition") -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` (bounded loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


async def async_wait_until(predicate: Callable[[], T], timeout: float = DEADLINE, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class LoopThread:
    """An event loop (asyncio's or uvloop's) running in a thread, so blocking clients can use it."""

    def __init__(self, kind: str = "asyncio") -> None:
        self.loop = uvloop.new_event_loop() if kind == "uvloop" else asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = DEADLINE) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for _ in range(5):  # let transports closed by those tasks run their connection_lost callbacks
                await asyncio.sleep(0)
            await self.loop.shutdown_asyncgens()

        self.run(cancel_all())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(DEADLINE)
        self.loop.close()


@pytest.fixture(params=["asyncio", "uvloop"])
def loop_thread(request: pytest.FixtureRequest) -> Iterator[LoopThread]:
    """Every test using the loop thread runs on both loops, as the API server may use either."""
    lt = LoopThread(request.param)
    yield lt
    lt.close()


class UvicornServer:
    """A real uvicorn server on 127.0.0.1 (random port) serving ``app`` on the caller's loop."""

    def __init__(self, app: Any, port: int = 0, **options: Any) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none",
            timeout_graceful_shutdown=2, **options,
        )
        self.server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self.server.serve())
        await async_wait_until(lambda: self.server.started or self._task is None or self._task.done(),
                               what="uvicorn to start")
        assert self.server.started, "uvicorn did not start"
        self.port = self.server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await self._task


@dataclass(frozen=True)
class Certificates:
    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is required (Debian package openssl, see scripts/apt-packages.txt)")
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Pyroku test CA",
             "-keyout", "ca.key", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
             "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    return Certificates(d / "ca.pem", d / "server.pem", d / "server.key")


class Rsyslog:
    """rsyslogd in the foreground with its own config, work dir and pid file: imtcp on 127.0.0.1 only,
    every received message written to ``output`` as ``pri|hostname|app-name|procid|msgid|timestamp|msg``.
    It loads no imuxsock/imklog, so it never touches /dev/log or /var/log."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.output = directory / "received.log"
        self._port_file = directory / "port"
        self._requested_port = port
        self.port = port or 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        work = self.directory / "work"
        work.mkdir(parents=True, exist_ok=True)
        config = self.directory / "rsyslog.conf"
        config.write_text(f"""
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
template(name="fields" type="string"
         string="%pri%|%hostname%|%app-name%|%procid%|%msgid%|%timereported:::date-rfc3339%|%msg%\\n")
ruleset(name="received") {{
  action(type="omfile" file="{self.output}" template="fields" flushOnTXEnd="on" asyncWriting="off")
}}
input(type="imtcp" address="127.0.0.1" port="{self._requested_port or 0}"
      listenPortFileName="{self._port_file}" ruleset="received")
""")
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        if not os.path.exists(rsyslogd):
            pytest.fail("rsyslogd is required (Debian package rsyslog, see scripts/apt-packages.txt)")
        with (self.directory / "rsyslogd.err").open("wb") as errors:
            self.process = subprocess.Popen(
                [rsyslogd, "-n", "-f", str(config), "-i", str(self.directory / "rsyslogd.pid")],
                stdout=subprocess.DEVNULL, stderr=errors,
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"rsyslogd exited: {(self.directory / 'rsyslogd.err').read_text()}")
            if self._requested_port:  # rsyslogd writes the port file only for port 0: probe instead
                try:
                    socket.create_connection(("127.0.0.1", self._requested_port), timeout=1).close()
                except OSError:
                    return False
                return True
            text = self._port_file.read_text().strip() if self._port_file.exists() else ""
            return text.isdigit() and int(text) > 0

        wait_until(ready, what="rsyslogd to listen")
        self.port = self._requested_port or int(self._port_file.read_text())

    def lines(self) -> list[str]:
        return self.output.read_text().splitlines() if self.output.exists() else []

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def rsyslog_factory(tmp_path: Path) -> Iterator[Callable[[int | None], Rsyslog]]:
    started: list[Rsyslog] = []

    def make(port: int | None = None) -> Rsyslog:
        server = Rsyslog(tmp_path / f"rsyslog{len(started)}", port)
        server.directory.mkdir()
        started.append(server)
        server.start()
        return server

    yield make
    for server in started:
        server.stop()
