"""Fixtures shared by the whole suite: real server processes on loopback ports."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from pyroku.runtime import remove_firewall

REPO = Path(__file__).resolve().parent.parent
PYROKU = str(Path(sys.executable).parent / "pyroku")
ACCEPT = "application/vnd.heroku+json; version=3"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    """A real ``pyroku server`` process with its own data dir and ports."""

    api_url: str
    admin_email: str
    admin_password: str
    data_dir: Path
    database_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    runtime: str = "none"  # "runc" for servers whose tests run real dynos
    router_port: int = field(default_factory=lambda: free_port())
    router_https_port: int = 0  # off unless a test asks for it
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=Path)
    _admin_token: str | None = None

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Accept": ACCEPT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=30)

    def login(self, email: str, password: str) -> str:
        with httpx.Client(base_url=self.api_url, headers={"Accept": ACCEPT}, timeout=30) as c:
            r = c.post("/oauth/authorizations", auth=(email, password), json={"description": "test"})
            r.raise_for_status()
            return str(r.json()["access_token"]["token"])

    @property
    def admin_token(self) -> str:
        if self._admin_token is None:
            self._admin_token = self.login(self.admin_email, self.admin_password)
        return self._admin_token

    def create_user(self, email: str | None = None) -> tuple[str, str]:
        """Create a user through the admin API; returns (email, token)."""
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        password = secrets.token_urlsafe(12)
        with self.client(self.admin_token) as c:
            r = c.post("/users", json={"email": email, "password": password})
            r.raise_for_status()
        return email, self.login(email, password)

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            PYROKU_ADMIN_EMAIL=self.admin_email,
            PYROKU_ADMIN_PASSWORD=self.admin_password,
        )
        env.update(self.extra_env)
        port = self.api_url.rsplit(":", 1)[1]
        argv = [PYROKU, "server", "--data-dir", str(self.data_dir), "--api-port", port,
                "--router-port", str(self.router_port), "--router-https-port", str(self.router_https_port),
                "--runtime", self.runtime, "--rendezvous-port", "0"]
        if self.database_url:
            argv += ["--database-url", self.database_url]
        self.log_path = self.data_dir.parent / f"server-{port}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pyroku server exited:\n{self.log_path.read_text()}")
            try:
                httpx.get(self.api_url + "/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"pyroku server did not come up:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    tmp: Path, database_url: str | None = None, extra_env: dict[str, str] | None = None, runtime: str = "none",
    router_https: bool = False,
) -> ServerProcess:
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(
        api_url=f"http://127.0.0.1:{free_port()}",
        admin_email="admin@example.com",
        admin_password="admin-" + secrets.token_hex(8),
        data_dir=data_dir,
        database_url=database_url,
        extra_env=extra_env or {},
        runtime=runtime,
        router_https_port=free_port() if router_https else 0,
    )
    server.start()
    return server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server for the session; tests use unique app names and users."""
    srv = start_server(tmp_path_factory.mktemp("server"))
    yield srv
    srv.stop()


# ---- PostgreSQL -------------------------------------------------------------------------------

@dataclass
class PostgresServer:
    """A real PostgreSQL server in a temp dir, on a free loopback port."""

    port: int
    data_dir: Path
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/setup (installs postgresql)")
    return str(found[-1])


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="pyroku-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    subprocess.run(_as_postgres([_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "-E", "UTF8", "--no-sync"]), check=True, capture_output=True)
    port = free_port()
    log = (base / "postgres.log").open("wb")
    proc = subprocess.Popen(
        _as_postgres([_pg_bin("postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                      "-c", f"unix_socket_directories={base}", "-c", "fsync=off", "-c", "max_connections=200"]),
        stdout=log, stderr=subprocess.STDOUT,
    )
    server = PostgresServer(port, data, proc)
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(server.url(), connect_timeout=1).close()
            break
        except psycopg.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start: " + (base / "postgres.log").read_text()) from None
            time.sleep(0.1)
    yield server
    proc.terminate()
    proc.wait(30)
    log.close()
    shutil.rmtree(base, ignore_errors=True)


# ---- servers with real dynos ---------------------------------------------------------------

def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll `check` until it returns something true (and return that), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop_all_dynos(server: ServerProcess) -> None:
    """Scale every app to nothing and wait for its dynos to be gone (they outlive the server)."""
    with server.client(server.admin_token) as c:
        apps = [a["name"] for a in c.get("/apps").json()]
        for app in apps:
            formation = c.get(f"/apps/{app}/formation").json()
            c.patch(f"/apps/{app}/formation",
                    json={"updates": [{"type": f["type"], "quantity": 0} for f in formation]})
        for app in apps:
            wait_for(lambda a=app: not c.get(f"/apps/{a}/dynos").json(), "dynos to stop")


@contextmanager
def runc_platform(
    tmp: Path, label: str, subnet: str, prefixes: tuple[str, str], extra_env: dict[str, str] | None = None,
    router_https: bool = False,
) -> Iterator[ServerProcess]:
    """A server running real dynos and builds on its own private subnet (split between dynos and
    builds), interface prefixes and nftables tables, so test platforms never meet each other or a
    real Pyroku on the machine. Every dyno is stopped when it ends."""
    if os.geteuid() != 0:
        pytest.fail("dynos and builds need root (runc)")
    dynos, builds = ipaddress.ip_network(subnet).subnets(prefixlen_diff=1)
    shm = "/dev/shm" if os.path.ismount("/dev/shm") else None  # dyno state belongs on a tmpfs
    runtime_dir = Path(tempfile.mkdtemp(prefix=f"pyroku-{label}-", dir=shm))
    env = {
        "PYROKU_DYNO_SUBNET": str(dynos),
        "PYROKU_DYNO_INTERFACE_PREFIX": prefixes[0],
        "PYROKU_DYNO_NFT_TABLE": f"pyroku_{label}",
        "PYROKU_BUILD_SUBNET": str(builds),
        "PYROKU_BUILD_INTERFACE_PREFIX": prefixes[1],
        "PYROKU_BUILD_NFT_TABLE": f"pyroku_{label}_build",
        "PYROKU_RUNTIME_DIR": str(runtime_dir),
        **(extra_env or {}),
    }
    server = start_server(tmp, extra_env=env, runtime="runc", router_https=router_https)
    try:
        yield server
    finally:
        try:
            stop_all_dynos(server)
        finally:
            server.stop()
            shutil.rmtree(runtime_dir, ignore_errors=True)
            remove_firewall(env["PYROKU_DYNO_NFT_TABLE"])
            remove_firewall(env["PYROKU_BUILD_NFT_TABLE"])
