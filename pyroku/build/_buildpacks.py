"""Buildpacks: where their files come from, behind one small protocol.

A buildpack is named by what users type (``heroku/python``, ``https://host/pack.git#v2``,
``https://host/pack.tgz``, ``/srv/buildpacks/mine``). :func:`resolve_buildpack` turns that into a
:class:`Buildpack` that can *stage* its files into a build's work directory:

* bundled packs (shipped in ``pyroku/build/buildpacks``) are copied;
* local directories and local git repositories are copied or cloned by the host, but only from
  the directories the operator allows (``local_roots``): a path must never let a user read
  another app's repository or the host's files;
* remote packs (``http(s)://`` git repositories and tarballs) are *not* fetched by the host:
  :meth:`Buildpack.stage` returns the URL and the build container fetches it itself, from its
  fenced network namespace, so a buildpack URL cannot reach the platform's own services.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

from pyroku.build._exceptions import CompileFailed, InvalidBuildpack

BUNDLED_DIR: Final = Path(__file__).resolve().parent / "buildpacks"
DRIVER: Final = BUNDLED_DIR / "driver.sh"
BUNDLED_ORDER: Final = ("python", "nodejs", "static", "procfile")
_ALIASES: Final = {
    "python": "python", "nodejs": "nodejs", "node": "nodejs", "static": "static", "procfile": "procfile",
}
_PREFIXES: Final = ("heroku/", "pyroku/", "heroku-community/")


@runtime_checkable
class Buildpack(Protocol):
    """One buildpack of a build, as the user named it."""

    @property
    def url(self) -> str:
        """How builds and ``buildpacks`` show it (the bundled ones as ``pyroku/<name>``)."""
        ...

    def stage(self, directory: Path) -> str | None:
        """Put the buildpack's files into the empty ``directory``, or return the URL the build
        container fetches into it. Raises :class:`CompileFailed` when the files cannot be had."""
        ...


@dataclass(frozen=True)
class BundledBuildpack:
    name: str

    @property
    def url(self) -> str:
        return f"pyroku/{self.name}"

    def stage(self, directory: Path) -> None:
        shutil.copytree(BUNDLED_DIR / self.name, directory, dirs_exist_ok=True)


@dataclass(frozen=True)
class LocalBuildpack:
    """A buildpack directory on the platform's host (under an allowed root)."""

    path: Path
    url: str

    def stage(self, directory: Path) -> None:
        try:
            shutil.copytree(self.path, directory, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git"))
        except (OSError, shutil.Error) as exc:
            raise CompileFailed(f"Cannot copy buildpack {self.url}: {exc}") from exc


@dataclass(frozen=True)
class LocalGitBuildpack:
    """A git repository on the platform's host (under an allowed root), at ``ref`` or its HEAD."""

    path: Path
    ref: str | None
    url: str

    def stage(self, directory: Path) -> None:
        argv = ["git", "clone", "--quiet", "--no-hardlinks", f"file://{self.path}", str(directory)]
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
        if result.returncode == 0 and self.ref:
            result = subprocess.run(["git", "-C", str(directory), "checkout", "--quiet", self.ref],
                                    capture_output=True, text=True, check=False, timeout=60)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise CompileFailed(f"Cannot fetch buildpack {self.url}: {detail[-1] if detail else 'git failed'}")
        shutil.rmtree(directory / ".git", ignore_errors=True)


@dataclass(frozen=True)
class RemoteBuildpack:
    """A git repository (``#ref`` optional) or tarball on the network, fetched by the build container."""

    url: str

    def stage(self, directory: Path) -> str:
        return self.url


def bundled_buildpacks() -> list[Buildpack]:
    """The bundled packs in detection order: the first whose ``bin/detect`` passes builds the app."""
    return [BundledBuildpack(name) for name in BUNDLED_ORDER]


def bundled_name(url: str) -> str | None:
    """``heroku/python`` → ``python``; None when ``url`` names no bundled buildpack."""
    key = url.strip().lower()
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            key = key[len(prefix):]
            break
    return _ALIASES.get(key)


def _within(path: Path, roots: tuple[Path, ...]) -> bool:
    resolved = path.resolve()
    return any(resolved == root.resolve() or resolved.is_relative_to(root.resolve()) for root in roots)


def _is_git_repository(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def resolve_buildpack(url: str, local_roots: tuple[Path, ...] = ()) -> Buildpack:
    """The buildpack ``url`` names; :class:`InvalidBuildpack` for anything unusable."""
    text = url.strip()
    if not text or len(text) > 1000 or any(c.isspace() or c == "\x00" for c in text):
        raise InvalidBuildpack(f"Invalid buildpack {url!r}.")
    name = bundled_name(text)
    if name is not None:
        return BundledBuildpack(name)
    parts = urlsplit(text)
    if parts.scheme in ("http", "https"):
        if not parts.hostname:
            raise InvalidBuildpack(f"Invalid buildpack URL {text!r}.")
        return RemoteBuildpack(text)
    if parts.scheme == "file" or (not parts.scheme and text.startswith("/")):
        if parts.scheme == "file":
            raw, ref = unquote(parts.path), parts.fragment or None
        else:
            raw, _, fragment = text.partition("#")
            ref = fragment or None
        path = Path(raw)
        if not local_roots or not _within(path, local_roots):
            allowed = ", ".join(str(r) for r in local_roots) or "none are allowed on this platform"
            raise InvalidBuildpack(f"Buildpack {text} is not in a directory the platform allows ({allowed}).")
        if not path.is_dir():
            raise InvalidBuildpack(f"Buildpack {text} does not exist.")
        if _is_git_repository(path):
            return LocalGitBuildpack(path.resolve(), ref, text)
        return LocalBuildpack(path.resolve(), text)
    known = ", ".join(f"heroku/{n}" for n in BUNDLED_ORDER)
    raise InvalidBuildpack(
        f"Unknown buildpack {text!r}: use a git or tarball URL (https://...) or a bundled one ({known})."
    )
