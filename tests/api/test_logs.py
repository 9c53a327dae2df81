"""Platform events in the app's log, log sessions and drains, through a real server."""

import re
import secrets
import socket
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess, start_server

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[([\w.-]+)\]: (.*)$")


def _app(server: ServerProcess, token: str) -> str:
    name = "logs-" + secrets.token_hex(4)
    with server.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    return name


def _read_log(server: ServerProcess, token: str, name: str, **params: object) -> list[str]:
    with server.client(token) as c:
        session = c.post(f"/apps/{name}/log-sessions", json=params)
        assert session.status_code == 201, session.text
        url = session.json()["logplex_url"]
    assert url.startswith(server.api_url + "/log-stream/")
    body = httpx.get(url, timeout=30)  # the URL is the capability: no auth header, like Heroku's
    assert body.status_code == 200
    return body.text.splitlines()


def test_platform_events_are_logged_under_app_api(server: ServerProcess) -> None:
    email, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        c.patch(f"/apps/{name}/config-vars", json={"A": "1", "B": "2"})
        c.patch(f"/apps/{name}/config-vars", json={"A": None})
        c.post(f"/apps/{name}/releases", json={"release": "2"})
        c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": 2},
                                                            {"type": "worker", "quantity": 1, "size": "2x"}]})
    lines = _read_log(server, token, name)
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m[1], m[2]) for m in parsed if m] == [("app", "api")] * len(lines)
    assert [m[3] for m in parsed if m] == [
        f"Initial release by user {email}", f"Release v1 created by user {email}",
        f"Set A, B config vars by user {email}", f"Release v2 created by user {email}",
        f"Unset A config vars by user {email}", f"Release v3 created by user {email}",
        f"Rollback to v2 by user {email}", f"Release v4 created by user {email}",
        f"Scaled to web@2:Standard-1X worker@1:Standard-2X by user {email}",
    ]
    assert len(_read_log(server, token, name, lines=2)) == 2
    assert _read_log(server, token, name, source="heroku") == []
    assert len(_read_log(server, token, name, dyno="api", lines=1500)) == 9


def test_log_session_urls_are_unguessable_and_private(server: ServerProcess) -> None:
    _, token = server.create_user()
    _, stranger = server.create_user()
    name = _app(server, token)
    with server.client(stranger) as c:
        assert c.post(f"/apps/{name}/log-sessions", json={}).status_code == 404
    assert httpx.get(f"{server.api_url}/log-stream/{secrets.token_urlsafe(32)}").status_code == 404
    with server.client(token) as c:
        bad = c.post(f"/apps/{name}/log-sessions", json={"lines": 5000})
        assert bad.status_code == 422


def test_log_history_survives_a_server_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        token = server.admin_token
        name = _app(server, token)
        with server.client(token) as c:
            c.patch(f"/apps/{name}/config-vars", json={"KEPT": "1"})
        before = _read_log(server, token, name)
        server.stop()
        server.start()
        assert _read_log(server, token, name) == before
        assert any("Set KEPT config vars" in line for line in before)
    finally:
        server.stop()


class _SyslogReceiver:
    """A TCP syslog receiver on loopback collecting octet-counted frames."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.got = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(30)
            while chunk := conn.recv(65536):
                self.data += chunk
                if b"Set DRAINED config vars" in self.data:
                    self.got.set()
                    return

    def close(self) -> None:
        self.sock.close()


def test_drains_are_added_listed_limited_and_deliver(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    receiver = _SyslogReceiver()
    try:
        _check_drains(server, token, name, receiver)
    finally:
        receiver.close()


def _check_drains(server: ServerProcess, token: str, name: str, receiver: _SyslogReceiver) -> None:
    with server.client(token) as c:
        drain = c.post(f"/apps/{name}/log-drains", json={"url": f"syslog://127.0.0.1:{receiver.port}"})
        assert drain.status_code == 201
        assert re.fullmatch(r"d\.[0-9a-f-]{36}", drain.json()["token"])
        c.patch(f"/apps/{name}/config-vars", json={"DRAINED": "yes"})
        assert receiver.got.wait(30), receiver.data
        frame = receiver.data.decode()
        assert re.search(r"\d+ <\d+>1 \S+ " + re.escape(drain.json()["token"]) + r" app api - - Set DRAINED", frame)
        for i in range(4):
            assert c.post(f"/apps/{name}/log-drains", json={"url": f"syslog://127.0.0.1:{10 + i}"}).status_code == 201
        sixth = c.post(f"/apps/{name}/log-drains", json={"url": "syslog://127.0.0.1:20"})
        assert sixth.status_code == 422 and "at most 5" in sixth.json()["message"]
        assert len(c.get(f"/apps/{name}/log-drains").json()) == 5
        assert c.delete(f"/apps/{name}/log-drains/{drain.json()['id']}").status_code == 200
        assert len(c.get(f"/apps/{name}/log-drains").json()) == 4


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "syslog://127.0.0.1", "not a url", ""])
def test_bad_drain_urls_are_refused(server: ServerProcess, url: str) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        r = c.post(f"/apps/{name}/log-drains", json={"url": url})
    assert r.status_code == 422 and r.json()["message"].startswith("Invalid drain URL")
