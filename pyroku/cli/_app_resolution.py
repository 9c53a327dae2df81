"""Which app a command is about: ``-a/--app``, then ``PYROKU_APP``, then the git remote.

Like the Heroku CLI, inside a checkout whose ``pyroku`` remote (or the one named by ``-r``) points at
``.../myapp.git``, ``-a myapp`` may be omitted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

import click

from pyroku.cli import _git
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._session import current_session

DEFAULT_REMOTE = "pyroku"
MISSING_APP = "Missing required flag: -a, --app APP"

P = ParamSpec("P")
R = TypeVar("R")


def app_name_from_git_url(url: str) -> str | None:
    """``http://host:5000/myapp.git`` → ``myapp``; also ``ssh://…/myapp.git``, ``git@host:myapp.git``."""
    url = url.strip()
    path = urlsplit(url).path if "://" in url else url.rpartition(":")[2]
    segment = path.rstrip("/").rpartition("/")[2]
    segment = segment.removesuffix(".git")
    return segment or None


def resolve_app(
    app: str | None,
    remote: str | None,
    *,
    env_app: str | None = None,
    cwd: Path | None = None,
) -> str:
    """The app name to use, or :class:`CLIError` with the Heroku-style missing-flag message."""
    if app:
        return app
    if remote is None and env_app:
        return env_app
    name = remote or DEFAULT_REMOTE
    url = _git.remotes(cwd).get(name)
    if url is None:
        if remote is not None:
            raise CLIError(f"No git remote named {remote!r} in this directory; use -a APP")
        raise InvalidInput(MISSING_APP)
    inferred = app_name_from_git_url(url)
    if not inferred:
        raise InvalidInput(f"Cannot tell the app from git remote {name} ({url}); use -a APP")
    return inferred


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def with_app(
    command: Callable[Concatenate[str, P], R],
) -> Callable[P, R]:
    """Add ``-a/--app`` and ``-r/--remote`` and pass the resolved app name as first argument."""

    @click.option("-a", "--app", "app_option", metavar="APP", help="App to run the command against.")
    @click.option("-r", "--remote", metavar="REMOTE", help="Git remote of the app (default: pyroku).")
    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        app_option, remote = _text(kwargs.pop("app_option", None)), _text(kwargs.pop("remote", None))
        env_app = current_session().settings.app
        return command(resolve_app(app_option, remote, env_app=env_app), *args, **kwargs)

    return wrapper
