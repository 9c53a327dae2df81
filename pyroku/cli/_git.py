"""The few git operations the CLI needs, run with argv lists in the current directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pyroku.cli._exceptions import GitError


def _git(args: list[str], cwd: Path | None) -> subprocess.CompletedProcess[str] | None:
    """Run git; ``None`` when git is not installed."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except (FileNotFoundError, NotADirectoryError):
        return None


def in_work_tree(cwd: Path | None = None) -> bool:
    result = _git(["rev-parse", "--is-inside-work-tree"], cwd)
    return result is not None and result.returncode == 0 and result.stdout.strip() == "true"


def remotes(cwd: Path | None = None) -> dict[str, str]:
    """Remote name → fetch URL; empty outside a repository or without git."""
    result = _git(["config", "--get-regexp", r"^remote\..*\.url$"], cwd)
    if result is None or result.returncode != 0:
        return {}
    found: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, _, url = line.partition(" ")
        name = key[len("remote.") : -len(".url")]
        found.setdefault(name, url.strip())
    return found


def set_remote(name: str, url: str, cwd: Path | None = None) -> None:
    """``git remote add``, or ``git remote set-url`` when ``name`` exists."""
    verb = "set-url" if name in remotes(cwd) else "add"
    _check(["remote", verb, name, url], cwd)


def remove_remote(name: str, cwd: Path | None = None) -> None:
    _check(["remote", "remove", name], cwd)


def _check(args: list[str], cwd: Path | None) -> None:
    result = _git(args, cwd)
    if result is None:
        raise GitError("git is not installed")
    if result.returncode != 0:
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        raise GitError(f"git {' '.join(args)} failed: {detail[-1] if detail else result.returncode}")
