"""Local argument parsing: config:set, ps:scale, release versions, git remotes → app names."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pyroku.cli._app_resolution import MISSING_APP, app_name_from_git_url, resolve_app
from pyroku.cli._browser import browser_argv
from pyroku.cli._config import parse_assignments, shell_line
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._ps import ScaleChange, parse_scale_args, plan_updates
from pyroku.cli._releases import parse_release


def test_parse_assignments_keeps_order_spaces_and_equals_in_values() -> None:
    assert parse_assignments(["A=1", "B=two words", "URL=postgres://x?a=b", "EMPTY="]) == {
        "A": "1",
        "B": "two words",
        "URL": "postgres://x?a=b",
        "EMPTY": "",
    }
    assert list(parse_assignments(["B=1", "A=2"])) == ["B", "A"]


@pytest.mark.parametrize("args", [["NOEQUALS"], ["A=1", "=value"], []])
def test_parse_assignments_rejects_invalid_input(args: list[str]) -> None:
    with pytest.raises(InvalidInput, match="KEY"):
        parse_assignments(args)


def test_shell_line_quotes_for_posix_shells() -> None:
    assert shell_line("A", "1") == "A=1"
    assert shell_line("B", "two words") == "B='two words'"
    assert shell_line("C", "it's") == "C='it'\"'\"'s'"


def test_parse_scale_args() -> None:
    assert parse_scale_args(["web=2", "worker=1:standard-2x", "clock+1", "my-worker-3", "x_y=0"]) == [
        ScaleChange("web", "=", 2),
        ScaleChange("worker", "=", 1, "standard-2x"),
        ScaleChange("clock", "+", 1),
        ScaleChange("my-worker", "-", 3),
        ScaleChange("x_y", "=", 0),
    ]
    assert ScaleChange("web", "+", 2).target(1) == 3
    assert ScaleChange("web", "-", 2).target(1) == -1
    assert ScaleChange("web", "=", 5).target(1) == 5


@pytest.mark.parametrize("arg", ["web=abc", "web", "web=", "=2", "web=2:", "web=-1", "web=1.5", "w b=1"])
def test_parse_scale_args_rejects_invalid_input(arg: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid scale argument"):
        parse_scale_args([arg])


def test_parse_scale_args_rejects_a_type_given_twice() -> None:
    with pytest.raises(InvalidInput, match="more than once"):
        parse_scale_args(["web=1", "web+1"])


def test_plan_updates_resolves_relative_changes() -> None:
    changes = parse_scale_args(["web+2", "worker-1:basic", "clock=0"])
    assert plan_updates(changes, {"web": 1, "worker": 3}) == [
        {"type": "web", "quantity": 3},
        {"type": "worker", "quantity": 2, "size": "basic"},
        {"type": "clock", "quantity": 0},
    ]
    with pytest.raises(CLIError, match="No web process type"):
        plan_updates(parse_scale_args(["web+1"]), {})
    with pytest.raises(InvalidInput, match="below 0"):
        plan_updates(parse_scale_args(["web-2"]), {"web": 1})


def test_parse_release() -> None:
    assert parse_release("v3") == "3"
    assert parse_release("12") == "12"
    uuid = "01234567-89ab-cdef-0123-456789abcdef"
    assert parse_release(uuid) == uuid
    with pytest.raises(InvalidInput):
        parse_release(" ")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://127.0.0.1:5000/myapp.git", "myapp"),
        ("https://git.example.com/myapp.git/", "myapp"),
        ("https://git.example.com/prefix/my-app", "my-app"),
        ("ssh://git@host:2222/myapp.git", "myapp"),
        ("git@host:myapp.git", "myapp"),
        ("/srv/git/myapp.git", "myapp"),
        ("http://127.0.0.1:5000/", None),
    ],
)
def test_app_name_from_git_url(url: str, name: str | None) -> None:
    assert app_name_from_git_url(url) == name


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_resolve_app_from_flag_env_and_git_remotes(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(CLIError, match=f"^{MISSING_APP}$"):
        resolve_app(None, None, cwd=tmp_path)
    git(tmp_path, "remote", "add", "pyroku", "http://127.0.0.1:5000/myapp.git")
    git(tmp_path, "remote", "add", "staging", "http://127.0.0.1:5000/myapp-staging.git")
    assert resolve_app(None, None, cwd=tmp_path) == "myapp"
    assert resolve_app(None, "staging", cwd=tmp_path) == "myapp-staging"
    assert resolve_app("other", "staging", cwd=tmp_path) == "other"
    assert resolve_app(None, None, env_app="from-env", cwd=tmp_path) == "from-env"
    with pytest.raises(CLIError, match="No git remote named 'nope'"):
        resolve_app(None, "nope", cwd=tmp_path)


def test_resolve_app_outside_a_repository(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match=f"^{MISSING_APP}$"):
        resolve_app(None, None, cwd=tmp_path)


def test_browser_command_from_browser_variable() -> None:
    url = "http://myapp.localhost:8080/"
    assert browser_argv(url, {"BROWSER": "firefox --new-window"}) == ["firefox", "--new-window", url]
    assert browser_argv(url, {"BROWSER": "w3m '%s':lynx"}) == ["w3m", url]
