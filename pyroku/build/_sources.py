"""Where a build's source comes from: a pushed git commit, or a tarball (uploaded or at a URL).

Sources are unpacked by GNU tar running as the build user into a directory that user owns, so an
archive cannot write anywhere the build itself could not (tar also refuses ``..`` members and
defers dangerous symlinks). Tarballs fetched by URL are size-limited, checked against their
checksum when one is given, and never fetched from the host's own loopback or link-local
addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final, Protocol
from urllib.parse import urlsplit

import httpx

from pyroku.build._exceptions import SourceError

MAX_SOURCE_BYTES: Final = 1024 * 1024 * 1024  # Heroku's limit on a checkout
_CHUNK: Final = 1 << 20
_SOURCE_ID = re.compile(r"[0-9a-f]{32}")
SOURCE_TTL: Final = 3600.0


class Source(Protocol):
    """Something :meth:`unpack` can put into an empty build directory."""

    async def unpack(self, directory: Path, uid: int, gid: int) -> None: ...


async def _extract(argv_input: list[str] | None, archive: Path | None, directory: Path, uid: int, gid: int,
                   *, env: Mapping[str, str] | None = None, gzip: bool = False) -> None:
    """Pipe ``argv_input``'s stdout (or ``archive``) into ``tar -x`` run as ``uid:gid``."""
    # tar starts in `directory` (entered as root: the build user may not traverse its parents)
    tar_argv = ["tar", "--extract", "--no-same-owner", "--file=-"]
    if gzip:
        tar_argv.insert(1, "--gzip")

    def run() -> tuple[int, str]:
        with contextlib.ExitStack() as stack:
            producer = None
            if argv_input is not None:
                producer = subprocess.Popen(argv_input, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, env=dict(env) if env is not None else None)
                source: BinaryIO | int = producer.stdout  # type: ignore[assignment]
            else:
                assert archive is not None
                source = stack.enter_context(archive.open("rb"))
            errors = stack.enter_context(tempfile.TemporaryFile())
            status = subprocess.run(tar_argv, stdin=source, stdout=subprocess.DEVNULL, stderr=errors,
                                    cwd=directory, user=uid, group=gid, extra_groups=[], check=False).returncode
            detail = ""
            if producer is not None:
                assert producer.stdout is not None and producer.stderr is not None
                producer.stdout.close()
                produced = producer.wait()
                if produced != 0:
                    status = status or produced
                    detail = producer.stderr.read().decode(errors="replace").strip()
                producer.stderr.close()
            if status != 0 and not detail:
                errors.seek(0)
                detail = errors.read().decode(errors="replace").strip()
            return status, detail

    status, detail = await asyncio.to_thread(run)
    if status != 0:
        lines = [line for line in detail.splitlines() if "Exiting with failure status" not in line]
        raise SourceError(f"Cannot unpack the source: {lines[0] if lines else f'status {status}'}")


@dataclass(frozen=True)
class GitSource:
    """A commit of a bare repository; ``env`` carries git's quarantine variables when the commit
    arrived in a push still being received (``GIT_OBJECT_DIRECTORY`` and friends)."""

    repository: Path
    revision: str
    env: Mapping[str, str] = field(default_factory=dict)

    async def unpack(self, directory: Path, uid: int, gid: int) -> None:
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", self.revision):
            raise SourceError(f"invalid revision {self.revision!r}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(self.env)
        argv = ["git", f"--git-dir={self.repository}", "archive", "--format=tar", self.revision]
        await _extract(argv, None, directory, uid, gid, env=env)


@dataclass(frozen=True)
class TarballSource:
    """A .tar.gz, on this host already (``path``) or at ``url``; ``checksum`` is ``SHA256:<hex>``."""

    url: str | None = None
    path: Path | None = None
    checksum: str | None = None

    async def unpack(self, directory: Path, uid: int, gid: int) -> None:
        with tempfile.TemporaryDirectory(prefix="pyroku-source-") as tmp:
            archive = self.path
            if archive is None:
                if self.url is None:
                    raise SourceError("a tarball source needs a URL or a path")
                archive = Path(tmp) / "source.tgz"
                await download(self.url, archive)
            if self.checksum:
                actual = await asyncio.to_thread(_sha256, archive)
                if not hmac.compare_digest(actual, self.checksum.removeprefix("SHA256:").lower()):
                    raise SourceError(f"The source's checksum is SHA256:{actual}, not {self.checksum}.")
            await _extract(None, archive, directory, uid, gid, gzip=True)
        await asyncio.to_thread(_strip_single_top_directory, directory)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _strip_single_top_directory(directory: Path) -> None:
    """GitHub-style archives hold one top directory (``repo-main/``): build what is inside it."""
    entries = list(directory.iterdir())
    if len(entries) != 1 or not entries[0].is_dir() or entries[0].is_symlink():
        return
    top = entries[0]
    holding = directory / f".pyroku-top-{secrets.token_hex(4)}"
    top.rename(holding)
    for child in holding.iterdir():
        child.rename(directory / child.name)
    holding.rmdir()


def _check_host(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"The source URL must be http:// or https://, not {url!r}.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise SourceError(f"Cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
            raise SourceError(f"The platform does not fetch sources from {parts.hostname} ({address}).")


async def download(url: str, target: Path, limit: int = MAX_SOURCE_BYTES) -> None:
    await asyncio.to_thread(_check_host, url)
    size = 0
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(60.0), follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise SourceError(f"Fetching the source from {url} failed: HTTP {response.status_code}.")
            with target.open("wb") as out:
                async for chunk in response.aiter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise SourceError(f"The source is larger than {limit // 2**20} MB.")
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise SourceError(f"Fetching the source from {url} failed: {exc}") from exc


class SourceBlobs:
    """Tarballs uploaded for builds (``POST /sources``): ``<id>.tgz`` plus ``<id>.json`` holding the
    SHA-256 of the secret that the upload and download URLs carry. Blobs expire after an hour."""

    def __init__(self, directory: Path, ttl: float = SOURCE_TTL) -> None:
        self.directory = directory
        self._ttl = ttl
        directory.mkdir(parents=True, exist_ok=True)

    def create(self) -> tuple[str, str]:
        """A new blob id and its secret."""
        self.expire()
        blob_id, token = secrets.token_hex(16), secrets.token_urlsafe(24)
        record = {"token_sha256": hashlib.sha256(token.encode()).hexdigest(), "created": time.time()}
        (self.directory / f"{blob_id}.json").write_text(json.dumps(record))
        return blob_id, token

    def check(self, blob_id: str, token: str) -> bool:
        if not _SOURCE_ID.fullmatch(blob_id):
            return False
        try:
            record = json.loads((self.directory / f"{blob_id}.json").read_text())
        except (OSError, ValueError):
            return False
        expected = str(record.get("token_sha256", ""))
        fresh = time.time() - float(record.get("created", 0)) < self._ttl
        return fresh and hmac.compare_digest(expected, hashlib.sha256(token.encode()).hexdigest())

    def path(self, blob_id: str) -> Path:
        if not _SOURCE_ID.fullmatch(blob_id):
            raise ValueError(f"invalid source id {blob_id!r}")
        return self.directory / f"{blob_id}.tgz"

    def expire(self) -> None:
        now = time.time()
        for record in self.directory.glob("*.json"):
            with contextlib.suppress(OSError, ValueError):
                if now - float(json.loads(record.read_text()).get("created", 0)) > self._ttl:
                    record.unlink()
                    self.directory.joinpath(record.stem + ".tgz").unlink(missing_ok=True)
