"""Commands against a scripted API (httpx.MockTransport): requests sent, output, errors.

Fast checks of what each command sends and prints; ``test_session.py`` proves the same session
against the real server and the real executable.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from pyroku.cli._client import ACCEPT
from pyroku.cli._commands import add_client_commands
from pyroku.cli._exceptions import CLIError
from pyroku.cli._group import PyrokuGroup
from pyroku.cli._netrc import Credentials, read_credentials, write_credentials
from pyroku.cli._output import Output
from pyroku.cli._session import Session
from pyroku.cli._settings import Settings

API = "http://api.test:5000"
STORED_TOKEN = "tok"
Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class FakeAPI:
    """Answers (method, path) with canned responses and records every request."""

    routes: dict[tuple[str, str], Handler | httpx.Response] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def on(self, method: str, path: str, body: Any = None, status: int = 200) -> None:
        self.routes[(method, path)] = httpx.Response(status, json=body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(404, json={"id": "not_found", "message": "Not found in the fake."})
        return answer(request) if callable(answer) else answer

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]


@pytest.fixture
def api() -> FakeAPI:
    return FakeAPI()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    return home


def run(api: FakeAPI, home: Path, *args: str, token: str | None = STORED_TOKEN, stdin: str | None = None) -> Result:
    if token:
        write_credentials(home / ".netrc", "api.test", Credentials("me@example.com", token))
    settings = Settings.from_environ({"HOME": str(home), "PYROKU_API_URL": API})
    session = Session(settings, Output(color=False), transport=httpx.MockTransport(api))
    group = PyrokuGroup(name="pyroku")
    add_client_commands(group)
    return CliRunner().invoke(group, list(args), obj=session, input=stdin)


def error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(" ▸    ")
    return lines[0].removeprefix(" ▸    ")


def test_requests_carry_accept_and_bearer_token(api: FakeAPI, home: Path) -> None:
    api.on("GET", "/account", {"email": "me@example.com"})
    result = run(api, home, "auth:whoami")
    assert result.exit_code == 0
    assert result.stdout == "me@example.com\n"
    request = api.requests[0]
    assert request.headers["Accept"] == ACCEPT
    assert request.headers["Authorization"] == "Bearer tok"


def test_api_errors_become_one_line(api: FakeAPI, home: Path) -> None:
    api.on("GET", "/apps/nope/config-vars", {"id": "not_found", "message": "Couldn't find that app."}, 404)
    assert error_line(run(api, home, "config", "-a", "nope")) == "Couldn't find that app."
    api.on("GET", "/apps/x/config-vars", {"id": "unauthorized", "message": "Invalid token"}, 401)
    assert error_line(run(api, home, "config", "-a", "x")) == "Invalid credentials provided. Run pyroku login."
    api.routes[("GET", "/apps/y/config-vars")] = httpx.Response(502, text="<html>bad gateway</html>")
    assert error_line(run(api, home, "config", "-a", "y")) == (
        "The Pyroku API answered 502 Bad Gateway: <html>bad gateway</html>"
    )


def test_transport_errors_name_the_api_url(api: FakeAPI, home: Path) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    api.routes[("GET", "/apps")] = refuse
    assert error_line(run(api, home, "apps")) == (
        f"Cannot reach the Pyroku API at {API}: [Errno 111] Connection refused"
    )


def test_unexpected_responses_are_one_line_not_a_traceback(api: FakeAPI, home: Path) -> None:
    api.on("GET", "/account", ["not", "an", "object"])
    assert error_line(run(api, home, "auth:whoami")).startswith("Unexpected error: AttributeError")


def test_not_logged_in(api: FakeAPI, home: Path) -> None:
    assert error_line(run(api, home, "apps", token=None)) == "Not logged in. Run pyroku login."
    assert error_line(run(api, home, "auth:token", token=None)) == "Not logged in. Run pyroku login."
    assert api.requests == []


def test_missing_app_outside_a_repository(api: FakeAPI, home: Path) -> None:
    assert error_line(run(api, home, "config")) == "Missing required flag: -a, --app APP"
    assert api.requests == []


def test_login_writes_netrc_and_revokes_the_replaced_token(api: FakeAPI, home: Path) -> None:
    api.on(
        "POST",
        "/oauth/authorizations",
        {"id": "a1", "access_token": {"id": "t1", "token": "new-token"}, "user": {"email": "me@example.com"}},
        201,
    )
    api.on("DELETE", "/oauth/authorizations/~", {"id": "old"})
    result = run(api, home, "login", token="old-token", stdin="me@example.com\nhunter2\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith("Logged in as me@example.com\n")
    assert "hunter2" not in result.stdout
    (login,) = api.sent("POST", "/oauth/authorizations")
    assert login.headers["Authorization"] == "Basic " + base64.b64encode(b"me@example.com:hunter2").decode()
    assert json.loads(login.content)["scope"] == ["global"]
    (revoke,) = api.sent("DELETE", "/oauth/authorizations/~")
    assert revoke.headers["Authorization"] == "Bearer old-token"
    assert read_credentials(home / ".netrc", "api.test") == Credentials("me@example.com", "new-token")


def test_login_with_wrong_password(api: FakeAPI, home: Path) -> None:
    api.on("POST", "/oauth/authorizations", {"id": "unauthorized", "message": "Invalid credentials"}, 401)
    result = run(api, home, "login", token=None, stdin="me@example.com\nwrong\n")
    assert error_line(result) == "Invalid credentials provided."
    assert not (home / ".netrc").exists()


def test_config_set_sends_the_map_and_shows_the_new_release(api: FakeAPI, home: Path) -> None:
    api.on("PATCH", "/apps/myapp/config-vars", {"A": "1", "B": "two words", "C": "kept"})
    api.on("GET", "/apps/myapp/releases", [{"version": 3, "current": True}])
    result = run(api, home, "config:set", "A=1", "B=two words", "-a", "myapp")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Setting A, B and restarting ⬢ myapp... done, v3\nA: 1\nB: two words\n"
    (patch,) = api.sent("PATCH", "/apps/myapp/config-vars")
    assert json.loads(patch.content) == {"A": "1", "B": "two words"}
    (listing,) = api.sent("GET", "/apps/myapp/releases")
    assert listing.headers["Range"] == "version ..; order=desc, max=1"


def test_config_unset_sends_nulls(api: FakeAPI, home: Path) -> None:
    api.on("PATCH", "/apps/myapp/config-vars", {})
    api.on("GET", "/apps/myapp/releases", [{"version": 4}])
    result = run(api, home, "config:unset", "A", "B", "-a", "myapp")
    assert result.stdout == "Unsetting A, B and restarting ⬢ myapp... done, v4\n"
    assert json.loads(api.sent("PATCH", "/apps/myapp/config-vars")[0].content) == {"A": None, "B": None}


def test_config_set_rejects_invalid_input_locally(api: FakeAPI, home: Path) -> None:
    assert error_line(run(api, home, "config:set", "NOEQUALS", "-a", "myapp")).startswith("'NOEQUALS' is not KEY=VALUE")
    assert api.requests == []


def test_ps_scale_relative_uses_the_current_formation(api: FakeAPI, home: Path) -> None:
    api.on("GET", "/apps/myapp/formation", [{"type": "web", "quantity": 1, "size": "standard-1x"}])
    api.on(
        "PATCH",
        "/apps/myapp/formation",
        [
            {"type": "web", "quantity": 2, "size": "standard-1x"},
            {"type": "worker", "quantity": 1, "size": "standard-2x"},
        ],
    )
    result = run(api, home, "ps:scale", "web+1", "worker=1:standard-2x", "-a", "myapp")
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Scaling dynos... done, now running web at 2:Standard-1X, worker at 1:Standard-2X\n")
    assert json.loads(api.sent("PATCH", "/apps/myapp/formation")[0].content) == {
        "updates": [
            {"type": "web", "quantity": 2},
            {"type": "worker", "quantity": 1, "size": "standard-2x"},
        ]
    }


def test_ps_scale_errors(api: FakeAPI, home: Path) -> None:
    assert error_line(run(api, home, "ps:scale", "web=abc", "-a", "myapp")).startswith(
        "Invalid scale argument 'web=abc'"
    )
    assert api.requests == []
    api.on("GET", "/apps/myapp/formation", [{"type": "web", "quantity": 1, "size": "basic"}])
    assert error_line(run(api, home, "ps:scale", "web-2", "-a", "myapp")) == ("Cannot scale web below 0 (it runs 1)")
    assert api.sent("PATCH", "/apps/myapp/formation") == []


def test_ps_scale_without_arguments_lists_the_formation(api: FakeAPI, home: Path) -> None:
    api.on(
        "GET",
        "/apps/myapp/formation",
        [{"type": "worker", "quantity": 0, "size": "basic"}, {"type": "web", "quantity": 2, "size": "standard-1x"}],
    )
    result = run(api, home, "ps:scale", "-a", "myapp")
    assert result.stdout == "web=2:Standard-1X worker=0:Basic\n"


def test_rollback_without_argument_picks_the_previous_succeeded_release(api: FakeAPI, home: Path) -> None:
    api.on(
        "GET",
        "/apps/myapp/releases",
        [
            {"id": "r2", "version": 2, "status": "succeeded", "current": False},
            {"id": "r4", "version": 4, "status": "succeeded", "current": True},
            {"id": "r3", "version": 3, "status": "failed", "current": False},
        ],
    )
    api.on("POST", "/apps/myapp/releases", {"id": "r5", "version": 5}, 201)
    result = run(api, home, "rollback", "-a", "myapp")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Rolling back ⬢ myapp to v2... done, v5",
        "To undo, run: pyroku rollback v4 -a myapp",
    ]
    assert json.loads(api.sent("POST", "/apps/myapp/releases")[0].content) == {"release": "r2"}


def test_releases_listing(api: FakeAPI, home: Path) -> None:
    api.on(
        "GET",
        "/apps/myapp/releases",
        [
            {
                "version": 1,
                "description": "Initial release",
                "status": "succeeded",
                "user": {"email": "me@example.com"},
                "created_at": "2024-05-01T12:00:00Z",
            },
            {
                "version": 2,
                "description": "Set A config vars",
                "status": "pending",
                "current": True,
                "user": {"email": "me@example.com"},
                "created_at": "2024-05-01T12:05:00Z",
            },
        ],
    )
    result = run(api, home, "releases", "-a", "myapp")
    assert result.stdout.splitlines() == [
        "=== ⬢ myapp Releases - Current: v2",
        "v2  Set A config vars (pending)  me@example.com  2024/05/01 12:05:00 +0000",
        "v1  Initial release              me@example.com  2024/05/01 12:00:00 +0000",
    ]
    assert api.requests[0].headers["Range"] == "version ..; order=desc, max=15"


def test_destroy_refuses_without_confirm_when_not_a_tty(api: FakeAPI, home: Path) -> None:
    assert error_line(run(api, home, "apps:destroy", "-a", "myapp")) == (
        "Destroying myapp is permanent: re-run with --confirm myapp"
    )
    assert error_line(run(api, home, "apps:destroy", "-a", "myapp", "--confirm", "other")) == (
        "Confirmation other did not match myapp. Aborted."
    )
    assert api.requests == []


def test_create_in_a_git_checkout_sets_the_remote(api: FakeAPI, home: Path, tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "remote", "add", "pyroku", "http://old/x.git"], cwd=tmp_path, check=True)
    api.on(
        "POST",
        "/apps",
        {"name": "gen-123", "web_url": "http://gen-123.test/", "git_url": "http://api.test:5000/gen-123.git"},
        201,
    )
    result = run(api, home, "create")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Creating app... done, ⬢ gen-123\nhttp://gen-123.test/ | http://api.test:5000/gen-123.git\n"
    )
    url = subprocess.run(
        ["git", "remote", "get-url", "pyroku"], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout.strip()
    assert url == "http://api.test:5000/gen-123.git"
    assert json.loads(api.sent("POST", "/apps")[0].content) == {}


def test_access_adds_the_owner_when_the_list_lacks_it(api: FakeAPI, home: Path) -> None:
    api.on("GET", "/apps/myapp/collaborators", [{"user": {"email": "zed@example.com"}, "role": "collaborator"}])
    api.on("GET", "/apps/myapp", {"name": "myapp", "owner": {"email": "me@example.com"}})
    result = run(api, home, "access", "-a", "myapp")
    assert result.stdout.splitlines() == [
        "=== ⬢ myapp Access List",
        "me@example.com   owner",
        "zed@example.com  collaborator",
    ]


def test_users_create_prints_a_generated_password(api: FakeAPI, home: Path) -> None:
    api.on("POST", "/users", {"id": "u1", "email": "new@example.com", "password": "gen-pw"}, 201)
    result = run(api, home, "users:create", "new@example.com")
    assert result.stdout.splitlines()[:2] == ["Creating user new@example.com... done", "Password: gen-pw"]
    assert json.loads(api.requests[0].content) == {"email": "new@example.com"}


def test_only_client_commands_turn_bugs_into_one_line() -> None:
    group = PyrokuGroup(name="pyroku")

    @group.command("server-like")
    def server_like() -> None:
        raise RuntimeError("keep my traceback")

    @group.command("fails-cleanly")
    def fails_cleanly() -> None:
        raise CLIError("a clear message")

    result = CliRunner().invoke(group, ["server-like"])
    assert isinstance(result.exception, RuntimeError)
    result = CliRunner().invoke(group, ["fails-cleanly"])
    assert result.exit_code == 1
    assert result.stderr == " ▸    a clear message\n"
