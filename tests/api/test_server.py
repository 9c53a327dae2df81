"""`pyroku server` itself: first start, PostgreSQL state, concurrent writers, restarts."""

import os
import re
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import ACCEPT, PYROKU, PostgresServer, ServerProcess, free_port, start_server


def test_first_start_generates_and_prints_the_operator_password_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYROKU_")}
    port = free_port()
    server = ServerProcess(api_url=f"http://127.0.0.1:{port}", admin_email="", admin_password="",
                           data_dir=tmp_path / "data")
    outputs = []
    for _ in range(2):
        log = tmp_path / "out.log"
        with log.open("wb") as out:
            # (no dynos, free ports: the host's own platform, its router port and firewall are left alone)
            proc = subprocess.Popen([PYROKU, "server", "--data-dir", str(server.data_dir), "--api-port", str(port),
                                     "--runtime", "none", "--router-port", str(free_port()),
                                     "--router-https-port", str(free_port()), "--rendezvous-port", "0"],
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
        server.process = proc
        server.log_path = log
        try:
            _wait_up(server)
        finally:
            server.stop()
        outputs.append(log.read_text())
    match = re.search(r"Its password \(shown only this once\): (\S+)", outputs[0])
    assert match, outputs[0]
    assert "admin@localhost" in outputs[0]
    assert "password" not in outputs[1]  # never again
    server.process = None
    # the printed password logs in (the server is started again for that)
    again = ServerProcess(api_url=f"http://127.0.0.1:{free_port()}", admin_email="admin@localhost",
                          admin_password=match[1], data_dir=server.data_dir)
    again.start()
    try:
        with again.client(again.admin_token) as c:
            assert c.get("/account").json()["email"] == "admin@localhost"
    finally:
        again.stop()


def _wait_up(server: ServerProcess) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(server.api_url + "/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(server.log_path.read_text())


def test_unusable_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [PYROKU, "server", "--data-dir", str(tmp_path), "--api-port", str(free_port()),
         "--database-url", "mysql://nope"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "Unsupported database" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def any_server(request: pytest.FixtureRequest, tmp_path: Path) -> ServerProcess:
    url = None
    if request.param == "postgresql":
        pg: PostgresServer = request.getfixturevalue("postgres")
        url = pg.create_database()
    server = start_server(tmp_path, database_url=url)
    request.addfinalizer(server.stop)
    return server


def test_parallel_config_sets_over_http_keep_every_key(any_server: ServerProcess) -> None:
    token = any_server.admin_token
    with any_server.client(token) as c:
        c.post("/apps", json={"name": "racer"})
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def set_var(key: str) -> None:
        with any_server.client(token) as c:
            barrier.wait()
            statuses.append(c.patch("/apps/racer/config-vars", json={key: "1"}).status_code)

    threads = [threading.Thread(target=set_var, args=(k,)) for k in ("LEFT", "RIGHT")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    with any_server.client(token) as c:
        assert c.get("/apps/racer/config-vars").json() == {"LEFT": "1", "RIGHT": "1"}
        releases = c.get("/apps/racer/releases").json()
    assert [r["version"] for r in releases] == [1, 2, 3]
    assert sorted(r["description"] for r in releases[1:]) == ["Set LEFT config vars", "Set RIGHT config vars"]


def test_state_survives_a_restart(any_server: ServerProcess) -> None:
    with any_server.client(any_server.admin_token) as c:
        c.post("/apps", json={"name": "durable"})
        c.patch("/apps/durable/config-vars", json={"KEEP": "me"})
    any_server.stop()
    any_server.start()
    with httpx.Client(base_url=any_server.api_url, headers={"Accept": ACCEPT}) as c:
        c.headers["Authorization"] = f"Bearer {any_server.admin_token}"  # tokens survive too
        assert c.get("/apps/durable/config-vars").json() == {"KEEP": "me"}
