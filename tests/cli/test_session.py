"""The whole user session, driving the installed ``pyroku`` executable against a real server.

Each command runs as its own process with ``HOME`` in a temporary directory, in a real ``git init``
checkout, with stdin not a terminal; the assertions are on what a user sees (stdout, stderr, exit
status) and on the files and git remotes the CLI leaves behind.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PYROKU, ServerProcess, free_port

pytestmark = pytest.mark.slow

OTHER_NETRC_ENTRY = "machine example.org\n  login alice\n  password not-ours\n"


@dataclass
class User:
    """One person at a terminal: their own HOME and working directory."""

    home: Path
    cwd: Path
    api_url: str

    def run(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {key: value for key, value in os.environ.items() if not key.startswith("PYROKU_")}
        environ.update(HOME=str(self.home), PYROKU_API_URL=self.api_url, GIT_TERMINAL_PROMPT="0")
        environ.update(env or {})
        return subprocess.run(
            [PYROKU, *args],
            cwd=cwd or self.cwd,
            env=environ,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, **kwargs: object) -> str:
        """Run a command that must succeed silently on stderr; returns its stdout."""
        result = self.run(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 0, f"pyroku {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert result.stderr == "", result.stderr
        return result.stdout

    def fails(self, *args: str, **kwargs: object) -> str:
        """Run a command that must fail with one `` ▸    `` line on stderr; returns the message."""
        result = self.run(*args, **kwargs)  # type: ignore[arg-type]
        assert result.returncode == 1, f"pyroku {' '.join(args)}:\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(" ▸    "), lines[0]
        return lines[0].removeprefix(" ▸    ")

    @property
    def netrc(self) -> Path:
        return self.home / ".netrc"


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


def remotes(cwd: Path) -> dict[str, str]:
    return {name: git(cwd, "remote", "get-url", name) for name in git(cwd, "remote").split()}


def new_user(tmp_path: Path, label: str, api_url: str) -> User:
    home = tmp_path / f"{label}-home"
    cwd = tmp_path / f"{label}-work"
    home.mkdir()
    cwd.mkdir()
    return User(home=home, cwd=cwd, api_url=api_url)


def login(user: User, email: str, password: str) -> str:
    out = user.ok("login", stdin=f"{email}\n{password}\n")
    assert out.splitlines()[-1] == f"Logged in as {email}"
    return out


def account_status(server: ServerProcess, token: str) -> int:
    with server.client(token) as client:
        return client.get("/account").status_code


def test_user_session(server: ServerProcess, tmp_path: Path) -> None:
    # The operator creates a developer account; the generated password is printed once.
    admin = new_user(tmp_path, "admin", server.api_url)
    login(admin, server.admin_email, server.admin_password)
    dev_email = f"dev-{secrets.token_hex(4)}@example.com"
    created = admin.ok("users:create", dev_email).splitlines()
    assert created[0] == f"Creating user {dev_email}... done"
    match = re.fullmatch(r"Password: (\S+)", created[1])
    assert match, created
    dev_password = match.group(1)
    other_email = f"other-{secrets.token_hex(4)}@example.com"
    assert admin.ok("users:create", other_email, "--password", "other-password-1").splitlines() == [
        f"Creating user {other_email}... done"
    ]
    other_token = server.login(other_email, "other-password-1")

    # login: prompts, writes ~/.netrc (0600) next to the entries already there.
    dev = new_user(tmp_path, "dev", server.api_url)
    dev.netrc.write_text(OTHER_NETRC_ENTRY)
    out = login(dev, dev_email, dev_password)
    assert "Email:" in out and "Password:" in out and dev_password not in out
    assert stat.S_IMODE(dev.netrc.stat().st_mode) == 0o600
    token = dev.ok("auth:token").strip()
    assert dev.netrc.read_text() == (f"{OTHER_NETRC_ENTRY}machine 127.0.0.1\n  login {dev_email}\n  password {token}\n")
    assert dev.ok("auth:whoami") == f"{dev_email}\n"

    # create without a name, outside a checkout: the server picks the name, no remote is added.
    first = dev.ok("create").splitlines()
    match = re.fullmatch(r"Creating app\.\.\. done, ⬢ ([a-z][a-z0-9-]+)", first[0])
    assert match, first
    generated = match.group(1)
    generated_info = json.loads(dev.ok("apps:info", "-a", generated, "--json"))
    assert first[1] == f"{generated_info['web_url']} | {generated_info['git_url']}"

    # create NAME inside a real git checkout: adds the `pyroku` remote.
    repo = dev.cwd / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    name = f"myapp-{secrets.token_hex(3)}"
    lines = dev.ok("create", name, cwd=repo).splitlines()
    info = json.loads(dev.ok("apps:info", "-a", name, "--json"))
    assert lines == [f"Creating ⬢ {name}... done", f"{info['web_url']} | {info['git_url']}"]
    assert remotes(repo) == {"pyroku": info["git_url"]}
    assert info["git_url"].rstrip("/").rsplit("/", 1)[1] == f"{name}.git"
    assert info["owner"]["email"] == dev_email

    listing = dev.ok("apps").splitlines()
    assert listing[0] == f"=== {dev_email} Apps"
    assert sorted(listing[1:]) == sorted([name, generated])
    assert {app["name"] for app in json.loads(dev.ok("apps", "--json"))} == {name, generated}

    info_lines = dev.ok("apps:info", cwd=repo).splitlines()
    assert info_lines[0] == f"=== ⬢ {name}"
    assert f"Git URL:     {info['git_url']}" in info_lines
    assert f"Owner:       {dev_email}" in info_lines
    assert dev.ok("open", cwd=repo) == f"{info['web_url']}\n"
    assert dev.ok("open", "-a", name) == f"{info['web_url']}\n"

    # config vars, each change a release; -a inferred from the git remote from here on.
    out = dev.ok("config:set", "A=1", "B=two words", cwd=repo)
    assert out == f"Setting A, B and restarting ⬢ {name}... done, v2\nA: 1\nB: two words\n"
    assert dev.ok("config", cwd=repo) == f"=== ⬢ {name} Config Vars\nA: 1\nB: two words\n"
    assert dev.ok("config:get", "A", cwd=repo) == "1\n"
    assert dev.ok("config:get", "NOPE", cwd=repo) == "\n"
    assert dev.ok("config:unset", "A", cwd=repo) == f"Unsetting A and restarting ⬢ {name}... done, v3\n"
    assert dev.ok("config", "--shell", cwd=repo) == "B='two words'\n"
    assert json.loads(dev.ok("config", "--json", cwd=repo)) == {"B": "two words"}
    assert dev.fails("config:set", "NOEQUALS", cwd=repo).startswith("'NOEQUALS' is not KEY=VALUE")

    releases = dev.ok("releases", cwd=repo).splitlines()
    assert releases[0] == f"=== ⬢ {name} Releases - Current: v3"
    assert [line.split("  ")[0] for line in releases[1:]] == ["v3", "v2", "v1"]
    assert "Unset A config vars" in releases[1] and dev_email in releases[1]
    assert "Set A, B config vars" in releases[2]
    release_info = dev.ok("releases:info", "v3", cwd=repo).splitlines()
    assert release_info[0] == "=== Release v3"
    assert "Change:  Unset A config vars" in release_info
    assert release_info[-2:] == ["=== v3 Config vars", "B: two words"]
    assert json.loads(dev.ok("releases", "--json", cwd=repo))[0]["version"] == 3

    assert dev.ok("rollback", "v2", cwd=repo).splitlines()[0] == (f"Rolling back ⬢ {name} to v2... done, v4")
    assert json.loads(dev.ok("config", "--json", cwd=repo)) == {"A": "1", "B": "two words"}
    assert dev.ok("rollback", cwd=repo).splitlines()[0] == f"Rolling back ⬢ {name} to v3... done, v5"
    assert json.loads(dev.ok("config", "--json", cwd=repo)) == {"B": "two words"}
    releases = dev.ok("releases", cwd=repo).splitlines()
    assert "Rollback to v3" in releases[1] and "Rollback to v2" in releases[2]

    # scaling, absolute and relative
    assert dev.ok("ps:scale", "web=2", "worker=1:standard-2x", cwd=repo) == (
        "Scaling dynos... done, now running web at 2:Standard-1X, worker at 1:Standard-2X\n"
    )
    assert dev.ok("ps:scale", "web+1", "worker-1", cwd=repo) == (
        "Scaling dynos... done, now running web at 3:Standard-1X, worker at 0:Standard-2X\n"
    )
    assert dev.ok("ps:scale", cwd=repo) == "web=3:Standard-1X worker=0:Standard-2X\n"
    assert dev.fails("ps:scale", "web=abc", cwd=repo).startswith("Invalid scale argument 'web=abc'")

    # access: the collaborator sees the app with their own key (PYROKU_API_KEY beats ~/.netrc)
    assert dev.ok("access:add", other_email, cwd=repo) == (f"Adding {other_email} access to the app ⬢ {name}... done\n")
    access = dev.ok("access", cwd=repo).splitlines()
    assert access[0] == f"=== ⬢ {name} Access List"
    assert [line.split() for line in access[1:]] == [[dev_email, "owner"], [other_email, "collaborator"]]
    assert other_email in {item["user"]["email"] for item in json.loads(dev.ok("access", "--json", cwd=repo))}
    as_other = dev.ok("apps", env={"PYROKU_API_KEY": other_token}).splitlines()
    assert "=== Collaborated Apps" in as_other
    assert [name, dev_email] in [line.split() for line in as_other]
    assert dev.ok("access:remove", other_email, cwd=repo) == (
        f"Removing {other_email} access from the app ⬢ {name}... done\n"
    )
    assert other_email not in dev.ok("access", cwd=repo)

    # destroy: refuses without --confirm when not on a terminal, then removes the app and its remote
    assert dev.fails("apps:destroy", cwd=repo) == f"Destroying {name} is permanent: re-run with --confirm {name}"
    assert dev.fails("apps:destroy", "--confirm", generated, cwd=repo) == (
        f"Confirmation {generated} did not match {name}. Aborted."
    )
    assert dev.ok("apps:destroy", "--confirm", name, cwd=repo) == (
        f"Destroying ⬢ {name} (including all add-ons)... done\n"
    )
    assert remotes(repo) == {}
    assert dev.ok("apps").splitlines() == [f"=== {dev_email} Apps", generated]
    assert dev.fails("config", "-a", name) == "Couldn't find that app."
    dev.ok("apps:destroy", "-a", generated, "--confirm", generated)
    assert dev.ok("apps") == "You have no apps.\n"

    # logout: the token is revoked on the server and only our netrc entry is removed
    assert account_status(server, token) == 200
    assert dev.ok("logout") == "Logging out... done\n"
    assert dev.netrc.read_text() == OTHER_NETRC_ENTRY
    assert account_status(server, token) == 401
    assert dev.fails("auth:whoami", env={"PYROKU_API_KEY": token}) == (
        "Invalid credentials provided. Run pyroku login."
    )
    assert dev.fails("apps") == "Not logged in. Run pyroku login."
    assert dev.fails("auth:token") == "Not logged in. Run pyroku login."


def test_errors_are_one_line_without_traceback(server: ServerProcess, tmp_path: Path) -> None:
    email, token = server.create_user()
    user = new_user(tmp_path, "errors", server.api_url)
    key = {"PYROKU_API_KEY": token}
    assert user.fails("apps:info", "-a", "no-such-app-here", env=key) == "Couldn't find that app."
    assert user.fails("apps", env={"PYROKU_API_KEY": "not-a-token"}) == (
        "Invalid credentials provided. Run pyroku login."
    )
    assert user.fails("config", env=key) == "Missing required flag: -a, --app APP"
    assert user.fails("config", "-r", "staging", env=key) == (
        "No git remote named 'staging' in this directory; use -a APP"
    )
    assert user.fails("login", stdin=f"{email}\nwrong-password\n") == "Invalid credentials provided."
    assert not user.netrc.exists()
    assert user.fails("no:such:command") == "No such command 'no:such:command' (see 'pyroku --help')"

    unreachable = f"http://127.0.0.1:{free_port()}"
    message = user.fails("apps", env={**key, "PYROKU_API_URL": unreachable})
    assert message.startswith(f"Cannot reach the Pyroku API at {unreachable}: ")


def test_users_create_is_for_admins_only(server: ServerProcess, tmp_path: Path) -> None:
    _, token = server.create_user()
    user = new_user(tmp_path, "nonadmin", server.api_url)
    email = f"someone-{secrets.token_hex(4)}@example.com"
    assert user.fails("users:create", email, env={"PYROKU_API_KEY": token})
    with server.client(server.admin_token) as client:
        assert client.get(f"/users/{email}").status_code == 404


def test_rename_and_maintenance(server: ServerProcess, tmp_path: Path) -> None:
    _, token = server.create_user()
    user = new_user(tmp_path, "rename", server.api_url)
    key = {"PYROKU_API_KEY": token}
    git(user.cwd, "init", "-q")
    old, new = f"old-{secrets.token_hex(3)}", f"new-{secrets.token_hex(3)}"
    user.ok("create", old, env=key)
    lines = user.ok("apps:rename", new, env=key).splitlines()
    info = json.loads(user.ok("apps:info", "-a", new, "--json", env=key))
    assert lines == [
        f"Renaming ⬢ {old} to ⬢ {new}... done",
        f"{info['web_url']} | {info['git_url']}",
        "Git remote pyroku updated",
    ]
    assert remotes(user.cwd) == {"pyroku": info["git_url"]}

    assert user.ok("maintenance", env=key) == "off\n"
    assert user.ok("maintenance:on", env=key) == f"Enabling maintenance mode for ⬢ {new}... done\n"
    assert user.ok("maintenance", env=key) == "on\n"
    assert json.loads(user.ok("apps:info", "--json", env=key))["maintenance"] is True
    assert user.ok("maintenance:off", env=key) == f"Disabling maintenance mode for ⬢ {new}... done\n"
    assert user.ok("maintenance", env=key) == "off\n"
