"""The stack: the Debian root filesystem every dyno and build runs on, built once with mmdebstrap.

A stack is a directory ``<stacks dir>/<name>`` (``pyroku-12`` = Debian 12 "bookworm") that dynos
use read-only as the lowest overlay layer. It is built into a temporary directory and renamed into
place under a lock, so two processes never build it twice and nobody sees a half-built stack. The
recipe's digest is recorded in ``/etc/pyroku-stack.json`` inside the stack; a stack built from a
different recipe is rebuilt (the old directory is set aside, not deleted: running dynos may use it).

From the shell::

    python -m pyroku.runtime build [--dir /var/lib/pyroku/stacks] [--force]
    python -m pyroku.runtime.stack path  [--dir ...]
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pyroku.runtime._exceptions import StackError

STACK_NAME: Final = "pyroku-12"
DEFAULT_STACKS_DIR: Final = Path("/var/lib/pyroku/stacks")
MANIFEST: Final = "etc/pyroku-stack.json"

DYNO_UID: Final = 1000
DYNO_GID: Final = 1000
DYNO_USER: Final = f"u{DYNO_UID}"

PACKAGES: Final = (
    # what buildpacks and apps expect of a Heroku-like stack
    "python3", "python3-venv", "python3-dev", "nodejs", "npm", "git", "build-essential",
    "ca-certificates", "curl", "libpq-dev", "libssl-dev", "libffi-dev", "zlib1g-dev",
    # what dynos need: the bash wrapper, ps/top/kill, tzdata for TZ=
    "bash", "procps", "tzdata", "less", "netbase",
)

MIRRORS: Final = (
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
)

_DPKG_EXCLUDES: Final = (
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/locale/*",
    "path-include=/usr/share/locale/locale.alias",
)


@dataclass(frozen=True)
class StackRecipe:
    """What goes into a stack; its digest decides whether an existing build is still current."""

    name: str = STACK_NAME
    suite: str = "bookworm"
    packages: tuple[str, ...] = PACKAGES
    mirrors: tuple[str, ...] = MIRRORS
    extra_mmdebstrap_args: tuple[str, ...] = field(default=())

    def digest(self) -> str:
        blob = json.dumps(
            [self.name, self.suite, sorted(self.packages), list(self.mirrors), list(self.extra_mmdebstrap_args),
             list(_DPKG_EXCLUDES), DYNO_UID, DYNO_GID, DYNO_USER, _CUSTOMIZE_VERSION],
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_CUSTOMIZE_VERSION: Final = 1  # bump when _customize() changes what it writes


@dataclass(frozen=True)
class StackInfo:
    name: str
    path: Path
    digest: str
    built_at: float
    build_seconds: float
    size_bytes: int


def stack_path(stacks_dir: Path = DEFAULT_STACKS_DIR, name: str = STACK_NAME) -> Path:
    return stacks_dir / name


def read_info(path: Path) -> StackInfo | None:
    """The manifest of a built stack at ``path``, or None when there is no complete build there."""
    try:
        data = json.loads((path / MANIFEST).read_text())
        return StackInfo(
            name=str(data["name"]), path=path, digest=str(data["digest"]), built_at=float(data["built_at"]),
            build_seconds=float(data["build_seconds"]), size_bytes=int(data["size_bytes"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_stack(
    stacks_dir: Path = DEFAULT_STACKS_DIR,
    recipe: StackRecipe = StackRecipe(),
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> StackInfo:
    """Return the current build of ``recipe`` under ``stacks_dir``, building it first if needed.

    Safe to call from several processes at once: one builds, the others wait on the lock and
    then use its result. Raises :class:`StackError` when the build fails.
    """
    path = stack_path(stacks_dir, recipe.name)
    info = read_info(path)
    if info is not None and info.digest == recipe.digest() and not force:
        return info
    try:
        stacks_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StackError(f"cannot create stacks directory {stacks_dir}: {exc}") from exc
    with _locked(stacks_dir / f".{recipe.name}.lock"):
        info = read_info(path)  # somebody else may have built it while we waited
        if info is not None and info.digest == recipe.digest() and not force:
            return info
        return _build(stacks_dir, recipe, progress or (lambda _msg: None))


def _build(stacks_dir: Path, recipe: StackRecipe, progress: Callable[[str], None]) -> StackInfo:
    if os.geteuid() != 0:
        raise StackError("building the stack needs root (mmdebstrap --mode=root)")
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise StackError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix=f".{recipe.name}.build-", dir=stacks_dir))
    try:
        argv = [
            mmdebstrap, "--variant=minbase", "--mode=root", "--format=directory",
            "--include=" + ",".join(recipe.packages),
            *(f"--dpkgopt={opt}" for opt in _DPKG_EXCLUDES),
            "--aptopt=Acquire::Retries \"3\"",
            *recipe.extra_mmdebstrap_args,
            recipe.suite, str(tmp), *recipe.mirrors,
        ]
        progress(f"building stack {recipe.name} with mmdebstrap into {tmp}")
        try:
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise StackError(f"cannot run mmdebstrap: {exc}") from exc
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise StackError(f"mmdebstrap failed with status {result.returncode}:\n{tail}")
        _customize(tmp)
        seconds = time.monotonic() - started
        size = _tree_size(tmp)
        manifest = {
            "name": recipe.name, "digest": recipe.digest(), "suite": recipe.suite,
            "packages": list(recipe.packages), "built_at": time.time(), "build_seconds": round(seconds, 1),
            "size_bytes": size,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.chmod(0o755)
        final = stack_path(stacks_dir, recipe.name)
        if final.exists():
            # dynos may still have the old stack as an overlay layer: set it aside, never delete it here
            final.rename(stacks_dir / f".{recipe.name}.retired-{int(time.time())}")
        tmp.rename(final)
        progress(f"stack {recipe.name} built in {seconds:.1f} s, {size / 2**20:.0f} MiB")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    info = read_info(final)
    if info is None:
        raise StackError(f"stack at {final} has no readable manifest after the build")
    return info


def _customize(root: Path) -> None:
    """Make the rootfs a stack: the dyno user, /app, bind-mount targets, no apt caches."""
    etc = root / "etc"
    passwd = (etc / "passwd").read_text()
    if f":{DYNO_UID}:" not in passwd:
        with (etc / "passwd").open("a") as f:
            f.write(f"{DYNO_USER}:x:{DYNO_UID}:{DYNO_GID}:dyno:/app:/bin/bash\n")
        with (etc / "group").open("a") as f:
            f.write(f"{DYNO_USER}:x:{DYNO_GID}:\n")
        shadow = etc / "shadow"
        if shadow.exists():
            with shadow.open("a") as f:
                f.write(f"{DYNO_USER}:*:19000:0:99999:7:::\n")
    (root / "app").mkdir(mode=0o755, exist_ok=True)
    for name in ("resolv.conf", "hosts", "hostname"):
        target = etc / name
        if target.is_symlink():
            target.unlink()
        target.touch(mode=0o644, exist_ok=True)
    (etc / "hostname").write_text("localhost\n")
    (etc / "hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    machine_id = etc / "machine-id"
    if machine_id.exists():
        machine_id.write_text("")
    for cache in ("var/lib/apt/lists", "var/cache/apt/archives", "var/cache/debconf", "var/log"):
        directory = root / cache
        if directory.is_dir():
            for child in directory.iterdir():
                if child.is_dir() and not child.is_symlink():
                    if child.name != "partial":
                        shutil.rmtree(child, ignore_errors=True)
                elif child.name != "lock":
                    child.unlink(missing_ok=True)
    for pkgcache in (root / "var/cache/apt").glob("*.bin"):
        pkgcache.unlink()


def _tree_size(root: Path) -> int:
    total = 0
    seen: set[tuple[int, int]] = set()
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            with contextlib.suppress(OSError):
                st = os.lstat(os.path.join(dirpath, name))
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_blocks * 512
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyroku.runtime", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the stack unless a current build exists")
    build.add_argument("--dir", type=Path, default=DEFAULT_STACKS_DIR, help="stacks directory")
    build.add_argument("--force", action="store_true", help="rebuild even if a current build exists")
    path = sub.add_parser("path", help="print the stack's directory if it is built")
    path.add_argument("--dir", type=Path, default=DEFAULT_STACKS_DIR, help="stacks directory")
    args = parser.parse_args(argv)

    if args.command == "path":
        info = read_info(stack_path(args.dir))
        if info is None:
            print(f"stack {STACK_NAME} is not built under {args.dir}", file=sys.stderr)
            return 1
        print(info.path)
        return 0
    try:
        info = ensure_stack(args.dir, force=args.force, progress=lambda msg: print(msg, file=sys.stderr))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{info.name} at {info.path}: {info.size_bytes / 2**20:.0f} MiB, built in {info.build_seconds:.1f} s")
    return 0

