"""App repositories: one bare repository per app, named by the app's id (renames keep it).

Every repository takes its hooks from one platform-owned directory (``core.hooksPath``) holding the
``pre-receive`` hook, so updating the platform updates every repository's hook.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

from pyroku._files import delete_tree
from pyroku.git._exceptions import RepositoryError

HOOK_SOURCE: Final = Path(__file__).resolve().with_name("_hook.py")
DEPLOY_BRANCHES: Final = ("refs/heads/main", "refs/heads/master")
_APP_ID = re.compile(r"[0-9a-f-]{36}")


def git_environment(home: Path) -> dict[str, str]:
    """An environment for git that reads no user's or system configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


class Repositories:
    """``<root>/<app id>.git``, created on first use; ``<root>/.hooks`` holds the shared hook."""

    def __init__(self, root: Path, python: str = sys.executable) -> None:
        self.root = root
        self.hooks = root / ".hooks"
        root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o700)
        self.hooks.mkdir(exist_ok=True)
        hook = self.hooks / "pre-receive"
        source = HOOK_SOURCE.read_text()
        content = f"#!{python} -IS\n{source}"
        if not hook.is_file() or hook.read_text() != content:
            tmp = hook.with_suffix(".tmp")
            tmp.write_text(content)
            tmp.chmod(0o755)
            tmp.replace(hook)
        self.env = git_environment(root)

    def path(self, app_id: str) -> Path:
        if not _APP_ID.fullmatch(app_id):
            raise RepositoryError(f"invalid app id {app_id!r}")
        return self.root / f"{app_id}.git"

    def remove(self, app_id: str) -> None:
        """Delete the app's repository (its app was destroyed)."""
        delete_tree(self.path(app_id))

    def relative(self, app_id: str) -> str:
        """The repository's path below the root, as ``git http-backend`` wants it in PATH_INFO."""
        return self.path(app_id).name

    def ensure(self, app_id: str) -> Path:
        """The app's repository, created (empty, ``main`` as HEAD) when missing."""
        path = self.path(app_id)
        if (path / "HEAD").is_file():
            return path
        tmp = self.root / f".{app_id}.{secrets.token_hex(6)}.new"  # concurrent first pushes each make one
        self._git("init", "--quiet", "--bare", "--initial-branch=main", str(tmp))
        for key, value in (
            ("core.hooksPath", str(self.hooks)),
            ("http.receivepack", "true"),
            ("receive.denyDeletes", "true"),
            ("receive.fsckObjects", "true"),
            ("receive.fsck.zeroPaddedFilemode", "ignore"),  # common in old histories, harmless
            ("receive.fsck.badTimezone", "ignore"),
            ("uploadpack.allowFilter", "true"),
            ("gc.autoDetach", "false"),
        ):
            self._git(f"--git-dir={tmp}", "config", key, value)
        try:
            tmp.rename(path)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (path / "HEAD").is_file():
                raise
        return path

    def head(self, app_id: str, ref: str) -> str | None:
        """The commit ``ref`` points at now, or None when it does not exist."""
        result = subprocess.run(
            ["git", f"--git-dir={self.path(app_id)}", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            capture_output=True, text=True, env=self.env, check=False,
        )
        return result.stdout.strip() or None if result.returncode == 0 else None

    def set_default_branch(self, app_id: str, ref: str) -> None:
        if ref in DEPLOY_BRANCHES:
            self._git(f"--git-dir={self.path(app_id)}", "symbolic-ref", "HEAD", ref)

    def _git(self, *args: str) -> None:
        result = subprocess.run(["git", *args], capture_output=True, text=True, env=self.env, check=False)
        if result.returncode != 0:
            raise RepositoryError(f"git {args[0]} failed: {(result.stderr or result.stdout).strip()}")
