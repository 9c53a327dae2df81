"""Where slugs live: a :class:`SlugStore` protocol and the local-directory backend.

Slugs are addressed by id and checksum (``SHA256:<hex>``), never by path: a second backend (an
S3-compatible object store) implements the same five methods.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import BinaryIO, Final, Protocol, runtime_checkable

from pyroku.slugs._exceptions import InvalidSlugId, SlugNotFound

CHECKSUM_PREFIX: Final = "SHA256:"
_SLUG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_CHUNK: Final = 1 << 20


def check_slug_id(slug_id: str) -> str:
    """Return ``slug_id`` if it is a plain name usable as a file name; raise :class:`InvalidSlugId`."""
    if not isinstance(slug_id, str) or not _SLUG_ID.fullmatch(slug_id) or ".." in slug_id:
        raise InvalidSlugId(f"invalid slug id {slug_id!r}")
    return slug_id


def format_checksum(digest: bytes | str) -> str:
    return CHECKSUM_PREFIX + (digest if isinstance(digest, str) else digest.hex())


def parse_checksum(checksum: str) -> str:
    """The lowercase hex digest of a ``SHA256:<hex>`` checksum; ValueError if malformed."""
    if not checksum.startswith(CHECKSUM_PREFIX):
        raise ValueError(f"checksum must start with {CHECKSUM_PREFIX!r}: {checksum!r}")
    digest = checksum[len(CHECKSUM_PREFIX):].lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise ValueError(f"malformed SHA256 checksum {checksum!r}")
    return digest


@runtime_checkable
class SlugStore(Protocol):
    """Stores slug archives (tar.gz) by id. Implementations must be safe to share between threads."""

    def put(self, slug_id: str, src: str | os.PathLike[str] | BinaryIO) -> str:
        """Store the archive read from ``src`` (a path or binary file) and return ``SHA256:<hex>``."""
        ...

    def open(self, slug_id: str) -> BinaryIO:
        """A binary file positioned at the start of the archive; raises :class:`SlugNotFound`."""
        ...

    def exists(self, slug_id: str) -> bool: ...

    def delete(self, slug_id: str) -> bool:
        """Remove the slug; False if there was none."""
        ...

    def size(self, slug_id: str) -> int:
        """Size of the archive in bytes; raises :class:`SlugNotFound`."""
        ...

    def checksum(self, slug_id: str) -> str:
        """The ``SHA256:<hex>`` recorded by :meth:`put`; raises :class:`SlugNotFound`."""
        ...


class LocalSlugStore:
    """Slugs as ``<dir>/<id>.tgz`` files with their checksum in ``<id>.sha256``.

    ``put`` writes to a temporary file, fsyncs, then renames, so readers never see a partial slug.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True)

    def _archive(self, slug_id: str) -> Path:
        return self._dir / f"{check_slug_id(slug_id)}.tgz"

    def _sum_file(self, slug_id: str) -> Path:
        return self._dir / f"{check_slug_id(slug_id)}.sha256"

    def put(self, slug_id: str, src: str | os.PathLike[str] | BinaryIO) -> str:
        target = self._archive(slug_id)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{slug_id}.", suffix=".part", dir=self._dir)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                with contextlib.ExitStack() as stack:
                    reader: BinaryIO = (
                        stack.enter_context(open(src, "rb"))
                        if isinstance(src, str | os.PathLike) else src
                    )
                    while chunk := reader.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            checksum = format_checksum(digest.digest())
            sum_tmp = self._sum_file(slug_id).with_suffix(".sha256.part")
            sum_tmp.write_text(checksum + "\n")
            os.replace(sum_tmp, self._sum_file(slug_id))
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return checksum

    def open(self, slug_id: str) -> BinaryIO:
        try:
            return open(self._archive(slug_id), "rb")
        except FileNotFoundError:
            raise SlugNotFound(f"no slug {slug_id}") from None

    def exists(self, slug_id: str) -> bool:
        return self._archive(slug_id).is_file()

    def delete(self, slug_id: str) -> bool:
        archive = self._archive(slug_id)
        existed = archive.exists()
        archive.unlink(missing_ok=True)
        self._sum_file(slug_id).unlink(missing_ok=True)
        return existed

    def size(self, slug_id: str) -> int:
        try:
            return self._archive(slug_id).stat().st_size
        except FileNotFoundError:
            raise SlugNotFound(f"no slug {slug_id}") from None

    def checksum(self, slug_id: str) -> str:
        try:
            recorded = self._sum_file(slug_id).read_text().strip()
        except FileNotFoundError:
            recorded = ""
        if recorded:
            return recorded
        digest = hashlib.sha256()
        with self.open(slug_id) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return format_checksum(digest.digest())
