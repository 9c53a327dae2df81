"""Turning a compiled build directory into a slug: a tar.gz of ``app/`` streamed into the slug store.

Everything here reads a tree the build (untrusted code) wrote, after its container has ended:
nothing follows a symlink, small files are opened with ``O_NOFOLLOW``, and ``tar`` runs as the
build's own user, so it can read no more than the build itself could.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from pyroku.build._config import MB, SlugLimits
from pyroku.build._exceptions import BuildError, CompileFailed, SlugTooLarge
from pyroku.slugs import SlugStore

_SMALL_FILE_LIMIT: Final = 1 * MB


@dataclass(frozen=True)
class PackedSlug:
    checksum: str
    size: int


def read_small_file(path: Path, limit: int = _SMALL_FILE_LIMIT) -> str | None:
    """The text of a regular file at ``path`` (never through a symlink); None when there is none.

    Raises :class:`BuildError` for a file over ``limit`` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limit:
            raise BuildError(f"{path.name} is larger than {limit // 1024} KB")
        return f.read(limit + 1).decode("utf-8", errors="replace")


def remove_special_files(root: Path) -> list[str]:
    """Delete FIFOs, sockets and device nodes (a slug holds files, directories and links only)."""
    removed = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames + dirnames:
            path = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError):
                mode = os.lstat(path).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                    os.unlink(path)
                    removed.append(os.path.relpath(path, root))
    return removed


class _Limited:
    """Reads through to ``raw`` and fails the slug once more than ``limit`` bytes went by."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        if self.count > self._limit:
            raise SlugTooLarge(
                f"Compiled slug size is over the {self._limit // MB} MB limit. Remove files you do not "
                "need at runtime (list them in .slugignore) or move large assets elsewhere."
            )
        return data


def pack_slug(
    work_dir: Path, slug_id: str, store: SlugStore, limits: SlugLimits, *, uid: int, gid: int, level: int = 3
) -> PackedSlug:
    """Archive ``work_dir/app`` as ``app/...`` into the store under ``slug_id``."""
    # tar starts in work_dir (entered as root: the build user may not traverse its parents)
    argv = ["tar", "--create", "--file=-", "--numeric-owner", f"--use-compress-program=gzip -{level}", "app"]
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                                    cwd=work_dir, user=uid, group=gid, extra_groups=[])
        except OSError as exc:
            raise BuildError(f"cannot run tar: {exc}") from exc
        assert proc.stdout is not None
        reader = _Limited(proc.stdout, limits.max_bytes)
        try:
            checksum = store.put(slug_id, reader)  # type: ignore[arg-type]  # file-like enough: read()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
        status = proc.wait()
        if status != 0:
            store.delete(slug_id)
            errors.seek(0)
            lines = errors.read().decode(errors="replace").strip().splitlines()
            detail = lines[-1] if lines else f"tar exited with status {status}"
            raise CompileFailed(f"Cannot pack the slug: {detail}")
    return PackedSlug(checksum, reader.count)
