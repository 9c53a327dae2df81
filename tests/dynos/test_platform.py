"""Dynos end to end: a real server with the runc runtime, a slug released through the API, the
dynos it starts, the router in front of them, logs, restarts and one-off dynos."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_slugs import make_slug
from tests.conftest import PYROKU, ServerProcess, runc_platform, wait_for

pytestmark = pytest.mark.slow

APP_PY = """\
import http.server, os, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["DYNO"] + " v" + os.environ.get("GREETING", "1")).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print("request " + self.path, flush=True)

print("booting on port " + os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with runc_platform(tmp_path_factory.mktemp("platform"), "e2e", "10.217.0.0/16", ("pye", "peb"),
                       router_https=True) as server:
        yield server


def deploy(server: ServerProcess, token: str, name: str, types: dict[str, str], files: dict[str, str]) -> int:
    blob = make_slug(files)
    with server.client(token) as c:
        slug = c.post(f"/apps/{name}/slugs", json={
            "process_types": types, "commit": secrets.token_hex(20),
            "checksum": "SHA256:" + hashlib.sha256(blob).hexdigest(),
        }).json()
        assert httpx.put(slug["blob"]["url"], content=blob).status_code == 200
        release = c.post(f"/apps/{name}/releases", json={"slug": slug["id"]})
        assert release.status_code == 201, release.text
        return int(release.json()["version"])


def get(server: ServerProcess, name: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.router_port}/", headers={"Host": f"{name}.localhost"}, timeout=30)


def answers(server: ServerProcess, name: str) -> int:
    """The router's status for the app, or 0 while the router is not listening yet."""
    try:
        return get(server, name).status_code
    except httpx.TransportError:
        return 0


def logs(server: ServerProcess, token: str, name: str) -> str:
    with server.client(token) as c:
        url = c.post(f"/apps/{name}/log-sessions", json={"lines": 1500}).json()["logplex_url"]
    return httpx.get(url, timeout=30).text


def dynos(server: ServerProcess, token: str, name: str) -> list[dict[str, Any]]:
    with server.client(token) as c:
        return list(c.get(f"/apps/{name}/dynos").json())


def test_deploy_serve_scale_restart(platform: ServerProcess) -> None:
    _, token = platform.create_user()
    name = "dyn-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY, "Procfile": "web: python3 app.py\n"})
    wait_for(lambda: [d["state"] for d in dynos(platform, token, name)] == ["up"], "web.1 up")
    response = wait_for(lambda: (r := get(platform, name)).status_code == 200 and r, "the app through the router")
    assert response.text == "hello from web.1 v1"
    text = wait_for(lambda: "request /" in (t := logs(platform, token, name)) and t, "app output in the logs")
    assert "heroku[web.1]: Starting process with command `python3 app.py`" in text
    assert "heroku[web.1]: State changed from starting to up" in text
    assert "app[web.1]: booting on port" in text
    assert wait_for(lambda: "heroku[router]: at=info method=GET path=\"/\"" in logs(platform, token, name),
                    "the router's request line")

    with platform.client(token) as c:
        c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": 2}]})
    wait_for(lambda: sorted((d["name"], d["state"]) for d in dynos(platform, token, name))
             == [("web.1", "up"), ("web.2", "up")], "two web dynos")
    seen = {get(platform, name).text for _ in range(40)}
    assert seen == {"hello from web.1 v1", "hello from web.2 v1"}

    with platform.client(token) as c:
        c.patch(f"/apps/{name}/config-vars", json={"GREETING": "2"})  # a new release restarts every dyno
    wait_for(lambda: get(platform, name).text.endswith(" v2"), "dynos on the new config")
    with platform.client(token) as c:
        assert c.delete(f"/apps/{name}/dynos/web.1").status_code == 202
        assert c.delete(f"/apps/{name}/dynos/nope.9").status_code == 404
    wait_for(lambda: "heroku[web.1]: Restarting" in logs(platform, token, name), "ps:restart")


def test_one_off_dyno_attached_through_rendezvous(platform: ServerProcess) -> None:
    _, token = platform.create_user()
    name = "run-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
        early = c.post(f"/apps/{name}/dynos", json={"command": "echo hi"})
        assert early.status_code == 422 and "git push first" in early.json()["message"]
    deploy(platform, token, name, {"worker": "sleep 1000"}, {"Procfile": "worker: sleep 1000\n"})
    with platform.client(token) as c:
        created = c.post(f"/apps/{name}/dynos", json={
            "command": "read line; echo got:$line; exit 3", "attach": True, "env": {"TERM": "dumb"},
        })
    assert created.status_code == 201, created.text
    dyno = created.json()
    assert dyno["name"].startswith("run.") and dyno["attach_url"].startswith("rendezvous://127.0.0.1:")
    host_port, secret = dyno["attach_url"].removeprefix("rendezvous://").split("/", 1)
    host, port = host_port.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(secret.encode() + b"\r\n")
        stream = sock.makefile("rb")
        assert stream.readline() == b"rendezvous\r\n"
        sock.sendall(b"pyroku\n")
        output = stream.read()  # until the dyno exits and the server closes the connection
    assert b"got:pyroku" in output
    text = wait_for(lambda: "State changed from up to complete" in (t := logs(platform, token, name)) and t,
                    "the one-off to complete")
    assert f"heroku[{dyno['name']}]: Process exited with status 3" in text
    assert not [d for d in dynos(platform, token, name) if d["name"] == dyno["name"]]


def test_dyno_cannot_reach_the_platform_or_other_dynos(platform: ServerProcess, tmp_path: Path) -> None:
    """Isolation as an app sees it: it runs as a non-root user and cannot open the API."""
    _, token = platform.create_user()
    name = "iso-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"worker": "sleep 1000"}, {"Procfile": "worker: sleep 1000\n"})
    api_port = platform.api_url.rsplit(":", 1)[1]
    probe = (f"id -u; python3 -c \"import socket; s=socket.socket(); s.settimeout(2); "
             f"print('api', s.connect_ex(('127.0.0.1', {api_port})))\"")
    with platform.client(token) as c:
        dyno = c.post(f"/apps/{name}/dynos", json={"command": probe}).json()
    done = f"heroku[{dyno['name']}]: State changed from up to complete"
    text = wait_for(lambda: done in (t := logs(platform, token, name)) and t, "the probe to finish")
    lines = [line.split(": ", 1)[1] for line in text.splitlines() if f"app[{dyno['name']}]" in line]
    assert lines[0] != "0"  # not root
    assert lines[1] != "api 0"  # the host's loopback API is not reachable from a dyno




def test_memory_hog_gets_r14_then_r15_while_other_dynos_keep_running(platform: ServerProcess) -> None:
    _, token = platform.create_user()
    name = "mem-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    hog = "python3 hog.py"
    deploy(platform, token, name, {"web": "python3 app.py", "hog": hog},
           {"app.py": APP_PY, "hog.py": "import time\nchunks = []\nwhile True:\n"
                                      "    chunks.append(bytearray(20 * 2**20))\n    time.sleep(0.2)\n"})
    with platform.client(token) as c:
        c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "hog", "quantity": 1}]})
    text = wait_for(lambda: "Error R15" in (t := logs(platform, token, name)) and t, "R15", timeout=90)
    assert "heroku[hog.1]: Error R14 (Memory quota exceeded)" in text
    assert "heroku[hog.1]: Error R15 (Memory quota vastly exceeded)" in text
    assert "heroku[hog.1]: Process exited with status 137" in text
    assert "heroku[web.1]" in text and "heroku[web.1]: State changed from up to crashed" not in text
    assert get(platform, name).text == "hello from web.1 v1"
    with platform.client(token) as c:
        c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "hog", "quantity": 0}]})


def test_a_controller_restart_leaves_dynos_running_and_adopts_them(platform: ServerProcess) -> None:
    _, token = platform.create_user()
    name = "adopt-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY})
    before = wait_for(lambda: (d := dynos(platform, token, name)) and d[0]["state"] == "up" and d, "web.1 up")
    platform.stop()
    platform.start()
    after = wait_for(lambda: (d := dynos(platform, token, name)) and d[0]["state"] == "up" and d, "re-adoption")
    assert after[0]["id"] == before[0]["id"]  # the same container, not a new one
    assert wait_for(lambda: answers(platform, name) == 200, "serving after the restart")
    assert "Starting process" not in logs(platform, token, name).split("State changed from starting to up", 1)[1]


def test_pyroku_run_and_ps_from_the_cli(platform: ServerProcess, tmp_path: Path) -> None:
    """The real `pyroku` executable: run with an exit status and piped stdin, run:detached, ps."""
    _, token = platform.create_user()
    name = "cli-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYROKU_")}
    env.update(HOME=str(tmp_path), PYROKU_API_URL=platform.api_url, PYROKU_API_KEY=token)

    def pyroku(command: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYROKU, command, "-a", name, *args], input=stdin, capture_output=True, text=True,
                              env=env, timeout=120)

    ran = pyroku("run", "--", "read x; echo you said $x; exit 7", stdin="hello\n")
    assert ran.returncode == 7, ran.stderr
    assert "you said hello" in ran.stdout and "pyroku-command-exit-status" not in ran.stdout
    assert "Running `read x; echo you said $x; exit 7`" in ran.stderr
    ok = pyroku("run", "echo", "fine")
    assert ok.returncode == 0 and "fine" in ok.stdout
    detached = pyroku("run:detached", "echo", "in the background")
    assert detached.returncode == 0 and "up, run." in detached.stdout
    wait_for(lambda: "in the background" in logs(platform, token, name), "detached output in the logs")
    wait_for(lambda: "web.1: up" in pyroku("ps").stdout, "ps to show web.1 up")
    listing = pyroku("ps").stdout
    assert "=== web (Standard-1X): python3 app.py (1)" in listing
    assert pyroku("ps:restart", "web").returncode == 0
    wait_for(lambda: "heroku[web.1]: Restarting" in logs(platform, token, name), "the restart")
    missing = pyroku("ps:restart", "nope")
    assert missing.returncode == 1 and "Couldn't find that dyno" in missing.stderr


def test_pyroku_run_bash_on_a_terminal_forwards_ctrl_c(platform: ServerProcess, tmp_path: Path) -> None:
    """An interactive shell in a one-off dyno, driven through a real pseudo-terminal."""
    import pty

    _, token = platform.create_user()
    name = "tty-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYROKU_")}
    env.update(HOME=str(tmp_path), PYROKU_API_URL=platform.api_url, PYROKU_API_KEY=token, TERM="dumb")
    master, slave = pty.openpty()
    proc = subprocess.Popen([PYROKU, "run", "-a", name, "bash"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    seen = b""

    def expect(needle: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while needle not in seen and time.monotonic() < deadline:
            import select

            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
        assert needle in seen, seen[-2000:]

    try:
        expect(b"up, run.")
        expect(b"$ ")  # bash's prompt: like a person, type once the shell is there
        os.write(master, b"echo $((6*7))-answer\r")
        expect(b"42-answer")
        os.write(master, b"sleep 300; echo slept\r")
        time.sleep(1)
        os.write(master, b"\x03")  # Ctrl-C reaches the dyno's foreground process, not pyroku
        os.write(master, b"echo after-interrupt-$?\r")
        expect(b"after-interrupt-130")
        assert proc.poll() is None
        os.write(master, b"exit 5\r")
        assert proc.wait(60) == 5
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_release_phase_runs_before_the_switch_and_a_failure_keeps_the_old_release(
    platform: ServerProcess, tmp_path: Path
) -> None:
    _, token = platform.create_user()
    name = "rel-" + secrets.token_hex(3)
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY})
    wait_for(lambda: answers(platform, name) == 200, "v1 serving")
    failing = deploy(platform, token, name, {"web": "GREETING=2 python3 app.py", "release": "echo migrating; exit 1"},
                     {"app.py": APP_PY})

    def status(version: int) -> str:
        with platform.client(token) as c:
            return str(c.get(f"/apps/{name}/releases/{version}").json()["status"])

    wait_for(lambda: status(failing) == "failed", "the failing release phase")
    assert get(platform, name).text == "hello from web.1 v1"  # the previous release keeps running
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYROKU_")}
    env.update(HOME=str(tmp_path), PYROKU_API_URL=platform.api_url, PYROKU_API_KEY=token)
    output = subprocess.run([PYROKU, "releases:output", f"v{failing}", "-a", name], capture_output=True,
                            text=True, env=env, timeout=60)
    assert output.returncode == 0 and f"app[release.{failing}]: migrating" in output.stdout, output.stderr
    passing = deploy(platform, token, name, {"web": "GREETING=3 python3 app.py", "release": "echo ok"},
                     {"app.py": APP_PY})
    wait_for(lambda: status(passing) == "succeeded", "the passing release phase")
    wait_for(lambda: answers(platform, name) == 200 and get(platform, name).text.endswith(" v3"), "v3 live")


def _self_signed(tmp_path: Path, hostname: str) -> tuple[str, str]:
    cert, key = tmp_path / f"{hostname}.crt", tmp_path / f"{hostname}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj",
                    f"/CN={hostname}", "-addext", f"subjectAltName=DNS:{hostname}", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert.read_text(), key.read_text()


def test_custom_domain_over_https_with_its_own_certificate(platform: ServerProcess, tmp_path: Path) -> None:
    import ssl

    _, token = platform.create_user()
    name = "sni-" + secrets.token_hex(3)
    host = f"www.{name}.example.org"
    with platform.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
        assert c.post(f"/apps/{name}/domains", json={"hostname": host}).status_code == 201
    deploy(platform, token, name, {"web": "python3 app.py"}, {"app.py": APP_PY})
    chain, key = _self_signed(tmp_path, host)
    _, other_key = _self_signed(tmp_path, "other.example.org")
    with platform.client(token) as c:
        mismatch = c.post(f"/apps/{name}/sni-endpoints", json={"certificate_chain": chain, "private_key": other_key})
        assert mismatch.status_code == 422 and "does not match" in mismatch.json()["message"]
        added = c.post(f"/apps/{name}/sni-endpoints", json={"certificate_chain": chain, "private_key": key})
        assert added.status_code == 201, added.text
        assert added.json()["domains"] == [host] and "private_key" not in added.json()
    wait_for(lambda: answers(platform, name) == 200, "the app up")
    context = ssl.create_default_context(cafile=str(tmp_path / f"{host}.crt"))

    def fetch() -> str:
        try:
            with socket.create_connection(("127.0.0.1", platform.router_https_port), timeout=10) as raw, \
                    context.wrap_socket(raw, server_hostname=host) as tls:
                tls.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                return tls.makefile("rb").read().decode()
        except (ssl.SSLError, OSError):
            return ""

    # the certificate verifies against our own (so it is the one served for this SNI name)
    response = wait_for(lambda: "hello from web.1" in (r := fetch()) and r, "HTTPS with the app's certificate")
    assert response.startswith("HTTP/1.1 200")
    with platform.client(token) as c:
        assert c.delete(f"/apps/{name}/sni-endpoints/{added.json()['id']}").status_code == 200
    wait_for(lambda: fetch() == "", "the default certificate again (which our CA does not verify)")
