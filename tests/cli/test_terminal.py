"""What changes when the CLI runs on a terminal: hidden password, confirmation prompt, colour.

The executable runs on a real pseudo-terminal against the real server; answers are typed when
their prompt appears.
"""

from __future__ import annotations

import os
import pty
import secrets
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PYROKU, ServerProcess

pytestmark = pytest.mark.slow


def run_on_terminal(args: list[str], env: dict[str, str], cwd: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run ``pyroku ARGS`` on a pty, typing each answer once its prompt has been printed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([PYROKU, *args], stdin=terminal, stdout=terminal, stderr=terminal, env=env, cwd=cwd)
    os.close(terminal)
    output, seen = b"", 0
    pending = list(answers)
    deadline = time.monotonic() + 60
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"no output from pyroku {' '.join(args)}; so far: {output!r}")
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal closed because the process exited
                break
            if not chunk:
                break
            output += chunk
            if pending and pending[0][0].encode() in output[seen:]:
                os.write(controller, (pending.pop(0)[1] + "\n").encode())
                seen = len(output)
    finally:
        os.close(controller)
    return process.wait(30), output.decode().replace("\r\n", "\n")


def environment(home: Path, api_url: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYROKU_", "NO_COLOR"))}
    env.update(HOME=str(home), PYROKU_API_URL=api_url, TERM="xterm", **extra)
    env.pop("BROWSER", None)
    return env


def test_login_hides_the_password_and_destroy_asks_for_the_name(server: ServerProcess, tmp_path: Path) -> None:
    email = f"tty-{secrets.token_hex(4)}@example.com"
    password = "tty-password-" + secrets.token_hex(4)
    with server.client(server.admin_token) as client:
        client.post("/users", json={"email": email, "password": password}).raise_for_status()
    env = environment(tmp_path, server.api_url, NO_COLOR="1")

    status, output = run_on_terminal(["login"], env, tmp_path, [("Email:", email), ("Password:", password)])
    assert status == 0, output
    assert email in output  # echoed as typed
    assert password not in output
    assert output.rstrip().endswith(f"Logged in as {email}")

    name = f"tty-{secrets.token_hex(3)}"
    status, output = run_on_terminal(["create", name], env, tmp_path, [])
    assert status == 0, output
    status, output = run_on_terminal(["apps:destroy", "-a", name], env, tmp_path, [("> ", "wrong")])
    assert status == 1
    assert output.splitlines()[-1] == f" ▸    Confirmation wrong did not match {name}. Aborted."
    assert "\x1b[" not in output  # NO_COLOR

    status, output = run_on_terminal(["apps:destroy", "-a", name], env, tmp_path, [("> ", name)])
    assert status == 0, output
    assert f"To proceed, type {name} or re-run this command with --confirm {name}" in output
    assert output.splitlines()[-1] == f"Destroying ⬢ {name} (including all add-ons)... done"


def test_colour_only_on_a_terminal(server: ServerProcess, tmp_path: Path) -> None:
    _, token = server.create_user()
    env = environment(tmp_path, server.api_url, PYROKU_API_KEY=token)
    name = f"colour-{secrets.token_hex(3)}"
    status, output = run_on_terminal(["create", name], env, tmp_path, [])
    assert status == 0, output
    assert "\x1b[" in output
    piped = subprocess.run([PYROKU, "config", "-a", name], env=env, capture_output=True, text=True, check=False)
    assert piped.returncode == 0
    assert piped.stdout == f"⬢ {name} has no config vars.\n"
