"""Slugs unpacked once per release into a shared, read-only tree that dynos overlay on the stack.

``SlugCache.ensure(slug_id, checksum)`` extracts into ``<root>/.tmp-*`` and renames into
``<root>/<slug_id>`` so concurrent starters never see (or both produce) a half-extracted slug; a
per-slug lock file keeps two processes from doing the same work twice. The checksum is verified
on the bytes read while extracting. Members must lie under ``app/`` (``./app/...`` or ``app/...``);
absolute names, ``..``, writes through symlinks, hard links leaving the tree and device files are
refused. Symlinks may point anywhere: they resolve inside the dyno's root, never on the host,
because nothing on the host follows them (extraction checks every path with ``realpath``).
Files are owned by the dyno user so an app can write to ``/app`` (the copy-up goes to the dyno's
own scratch layer).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from pyroku.slugs._exceptions import CorruptSlug, SlugChecksumMismatch, SlugError, UnsafeSlug
from pyroku.slugs._store import SlugStore, check_slug_id, format_checksum, parse_checksum

TREE: Final = "tree"  # <root>/<slug_id>/tree holds app/, the directory dynos use as a layer
_CHECKSUM_FILE: Final = "checksum"


class _HashingReader:
    """A read-only file wrapper that hashes every byte read through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.digest.update(data)
        return data

    def drain(self) -> None:
        while chunk := self._raw.read(1 << 20):
            self.digest.update(chunk)


def _member_name(name: str) -> str:
    """``app/...`` for a member name, or raise :class:`UnsafeSlug`."""
    if name.startswith("/"):
        raise UnsafeSlug(f"absolute path in slug: {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeSlug(f"'..' in slug member {name!r}")
    if not parts:
        return ""
    if parts[0] != "app":
        raise UnsafeSlug(f"slug member outside app/: {name!r}")
    return "/".join(parts)


class _Filter:
    """tarfile extraction filter: ``tar`` semantics plus our own rules and the dyno's ownership."""

    def __init__(self, uid: int, gid: int) -> None:
        self._uid = uid
        self._gid = gid

    def __call__(self, member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
        name = _member_name(member.name)
        if not name:
            return None  # the archive's "./" entry
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise UnsafeSlug(f"special file in slug: {member.name!r}")
        real_dest = os.path.realpath(dest)
        if member.islnk():
            link = _member_name(member.linkname)
            target = os.path.realpath(os.path.join(real_dest, link))
            if not link or os.path.commonpath([target, real_dest]) != real_dest:
                raise UnsafeSlug(f"hard link leaves the slug: {member.name!r} -> {member.linkname!r}")
            member = member.replace(linkname=link, deep=False)
        try:
            # strips high mode bits and group/other write; refuses paths resolving outside dest
            filtered = tarfile.tar_filter(member.replace(name=name, deep=False), dest)
        except tarfile.FilterError as exc:
            raise UnsafeSlug(f"unsafe slug member {member.name!r}: {exc}") from exc
        return filtered.replace(uid=self._uid, gid=self._gid, uname="", gname="", deep=False)


class SlugCache:
    """Extracted slugs under ``root``, one tree per slug id, shared read-only by its dynos."""

    def __init__(self, root: str | os.PathLike[str], store: SlugStore, *, uid: int, gid: int) -> None:
        self._root = Path(root)
        self._root.mkdir(parents=True, exist_ok=True)
        self._root.chmod(0o711)
        self._store = store
        self._uid = uid
        self._gid = gid

    def path(self, slug_id: str) -> Path:
        return self._root / check_slug_id(slug_id) / TREE

    def is_extracted(self, slug_id: str, checksum: str | None = None) -> bool:
        recorded = self._recorded(slug_id)
        return recorded is not None and (checksum is None or recorded == _normalize(checksum))

    def ensure(self, slug_id: str, checksum: str) -> Path:
        """The extracted tree (containing ``app/``) of ``slug_id``, extracting it on first use.

        Raises :class:`SlugChecksumMismatch` when the stored slug does not hash to ``checksum``
        (nothing is kept), :class:`UnsafeSlug` / :class:`CorruptSlug` for bad archives and
        :class:`SlugNotFound` when the store has no such slug.
        """
        expected = _normalize(checksum)
        if self._recorded(slug_id) == expected:
            return self.path(slug_id)
        with self._lock(slug_id):
            recorded = self._recorded(slug_id)
            if recorded == expected:
                return self.path(slug_id)
            if recorded is not None:
                raise SlugChecksumMismatch(
                    f"slug {slug_id} is already extracted with checksum {recorded}, not {expected}"
                )
            self._extract(slug_id, expected)
        return self.path(slug_id)

    def remove(self, slug_id: str) -> bool:
        """Delete an extracted tree (only when no dyno of the release runs any more)."""
        trash = self.retire(slug_id)
        if trash is None:
            return False
        shutil.rmtree(trash, ignore_errors=True)
        return True

    def retire(self, slug_id: str) -> Path | None:
        """Take an extracted tree out of the cache at once (a rename); the caller deletes the returned
        directory when convenient. None when there was no tree."""
        final = self._root / check_slug_id(slug_id)
        if not final.exists():
            return None
        with self._lock(slug_id):
            trash = Path(tempfile.mkdtemp(prefix=".trash-", dir=self._root))
            try:
                final.rename(trash / slug_id)
            except FileNotFoundError:
                trash.rmdir()
                return None
        return trash

    def extracted(self) -> list[str]:
        return sorted(p.name for p in self._root.iterdir() if not p.name.startswith(".") and p.is_dir())

    # -- internals --

    def _recorded(self, slug_id: str) -> str | None:
        try:
            return (self._root / check_slug_id(slug_id) / _CHECKSUM_FILE).read_text().strip() or None
        except (FileNotFoundError, NotADirectoryError):
            return None

    @contextlib.contextmanager
    def _lock(self, slug_id: str) -> Iterator[None]:
        fd = os.open(self._root / f".{slug_id}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _extract(self, slug_id: str, expected: str) -> None:
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{slug_id}-", dir=self._root))
        try:
            tree = tmp / TREE
            tree.mkdir(mode=0o755)
            with self._store.open(slug_id) as raw:
                reader = _HashingReader(raw)
                try:
                    # stream mode ("r|gz") reads the archive once, front to back, as it is hashed
                    with tarfile.open(fileobj=reader, mode="r|gz") as archive:  # type: ignore[call-overload]
                        _extract_all(archive, tree, _Filter(self._uid, self._gid))
                except (tarfile.TarError, EOFError, OSError, UnicodeError) as exc:
                    if isinstance(exc, tarfile.FilterError):
                        raise UnsafeSlug(f"unsafe slug {slug_id}: {exc}") from exc
                    raise CorruptSlug(f"slug {slug_id} is not a readable tar.gz archive: {exc}") from exc
                reader.drain()
            actual = format_checksum(reader.digest.digest())
            if actual != expected:
                raise SlugChecksumMismatch(f"slug {slug_id} has checksum {actual}, expected {expected}")
            app = tree / "app"
            app.mkdir(mode=0o755, exist_ok=True)
            # tarfile creates parents missing from the archive as root: give them to the dyno user
            for dirpath, _dirnames, _filenames in os.walk(app):  # never follows symlinks
                os.chown(dirpath, self._uid, self._gid, follow_symlinks=False)
            (tmp / _CHECKSUM_FILE).write_text(expected + "\n")
            tmp.chmod(0o755)
            os.rename(tmp, self._root / slug_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _extract_all(archive: tarfile.TarFile, tree: Path, member_filter: _Filter) -> None:
    try:
        archive.extractall(tree, numeric_owner=True, filter=member_filter)  # noqa: S202 - _Filter checks every member
    except SlugError:
        raise
    except tarfile.FilterError as exc:
        raise UnsafeSlug(str(exc)) from exc


def _normalize(checksum: str) -> str:
    try:
        return format_checksum(parse_checksum(checksum))
    except ValueError as exc:
        raise SlugChecksumMismatch(str(exc)) from exc

