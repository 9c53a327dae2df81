"""`pyroku logs`, `drains`, `domains` and `features`, driving the real executable against a real server."""

from __future__ import annotations

import os
import queue
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.cli.test_session import User, new_user
from tests.conftest import PYROKU, ServerProcess

pytestmark = pytest.mark.slow

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 app\[api\]: ")


def _user_with_app(server: ServerProcess, tmp_path: Path) -> tuple[User, str, str]:
    _, token = server.create_user()
    user = new_user(tmp_path, "dev", server.api_url)
    name = "cli-" + secrets.token_hex(4)
    user.ok("create", name, env={"PYROKU_API_KEY": token})
    return user, name, token


def test_logs_shows_platform_events_and_filters(server: ServerProcess, tmp_path: Path) -> None:
    user, name, token = _user_with_app(server, tmp_path)
    key = {"PYROKU_API_KEY": token}
    user.ok("config:set", "A=1", "-a", name, env=key)
    lines = user.ok("logs", "-a", name, env=key).splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert re.search(r"app\[api\]: Set A config vars by user user-\w+@example.com$", lines[-2])
    assert len(user.ok("logs", "-a", name, "-n", "1", env=key).splitlines()) == 1
    assert user.ok("logs", "-a", name, "--source", "heroku", env=key) == ""
    assert "\x1b[" not in user.ok("logs", "-a", name, env=key)  # no colour when not a terminal


def test_logs_tail_follows_new_lines_until_interrupted(server: ServerProcess, tmp_path: Path) -> None:
    user, name, token = _user_with_app(server, tmp_path)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYROKU_")}
    environ.update(HOME=str(user.home), PYROKU_API_URL=server.api_url, PYROKU_API_KEY=token)
    proc = subprocess.Popen([PYROKU, "logs", "--tail", "-a", name], env=environ, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    try:
        seen = _read_until(lines, "Release v1 created")
        with server.client(token) as c:
            c.patch(f"/apps/{name}/config-vars", json={"LIVE": "1"})
        seen += _read_until(lines, "Set LIVE config vars")
        assert "Release v1 created" in seen and "Set LIVE config vars" in seen
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def _read_until(lines: queue.Queue[str], needle: str, timeout: float = 30) -> str:
    text = ""
    deadline = time.monotonic() + timeout
    while needle not in text and time.monotonic() < deadline:
        try:
            text += lines.get(timeout=1)
        except queue.Empty:
            continue
    assert needle in text, text
    return text


def test_drains_domains_and_features(server: ServerProcess, tmp_path: Path) -> None:
    user, name, token = _user_with_app(server, tmp_path)
    key = {"PYROKU_API_KEY": token}
    assert "Successfully added drain syslog://127.0.0.1:9" in user.ok("drains:add", "syslog://127.0.0.1:9",
                                                                       "-a", name, env=key)
    assert re.search(r"syslog://127\.0\.0\.1:9\s+\(d\.[0-9a-f-]{36}\)", user.ok("drains", "-a", name, env=key))
    user.ok("drains:remove", "syslog://127.0.0.1:9", "-a", name, env=key)
    assert "127.0.0.1" not in user.ok("drains", "-a", name, env=key)
    bad = user.fails("drains:add", "ftp://nope", "-a", name, env=key)
    assert "Invalid drain URL" in bad

    host = f"www.{name}.example.org"
    assert f"point {host} at {name}.localhost" in user.ok("domains:add", host, "-a", name, env=key)
    listed = user.ok("domains", "-a", name, env=key)
    assert f"{name}.localhost" in listed and host in listed
    user.ok("domains:remove", host, "-a", name, env=key)
    assert host not in user.ok("domains", "-a", name, env=key)

    assert "[ ]  preboot" in user.ok("features", "-a", name, env=key)
    user.ok("features:enable", "preboot", "-a", name, env=key)
    assert "[+]  preboot" in user.ok("features", "-a", name, env=key)
    assert "Couldn't find that feature" in user.fails("features:enable", "warp-drive", "-a", name, env=key)


def test_certs_add_list_remove(server: ServerProcess, tmp_path: Path) -> None:
    user, name, token = _user_with_app(server, tmp_path)
    key = {"PYROKU_API_KEY": token}
    host = f"secure.{name}.example.org"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                    f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(tmp_path / "c.pem")], check=True, capture_output=True)
    added = user.ok("certs:add", str(tmp_path / "c.pem"), str(tmp_path / "k.pem"), "--domain", host, "-a", name,
                    env=key)
    assert f"Certificate for {host}" in added
    assert host in user.ok("domains", "-a", name, env=key)  # --domain routed it too
    listing = user.ok("certs", "-a", name, env=key)
    cert_name = re.search(r"(cert-[0-9a-f]{8})", listing)
    assert cert_name and host in listing
    user.ok("certs:remove", cert_name[1], "-a", name, env=key)
    assert host not in user.ok("certs", "-a", name, env=key)
    assert "does not match" in user.fails("certs:add", str(tmp_path / "c.pem"), str(tmp_path / "c.pem"),
                                          "-a", name, env=key)
