"""Extracting slugs once per release, verified and safe against archives that try to escape."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from pyroku.slugs import CorruptSlug, LocalSlugStore, SlugCache, SlugChecksumMismatch, SlugNotFound, UnsafeSlug

UID = 1000 if os.geteuid() == 0 else os.geteuid()
GID = 1000 if os.geteuid() == 0 else os.getegid()

Member = tuple[str, str, object]  # (kind, name, payload)


def archive(members: list[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for kind, name, payload in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                data = payload if isinstance(payload, bytes) else str(payload).encode()
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = str(payload)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = str(payload)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "setuid":
                info.size = 2
                info.mode = 0o4777
                tar.addfile(info, io.BytesIO(b"#!"))
                continue
            tar.addfile(info)
    return buffer.getvalue()


@pytest.fixture
def cache(tmp_path: Path) -> tuple[LocalSlugStore, SlugCache]:
    store = LocalSlugStore(tmp_path / "store")
    return store, SlugCache(tmp_path / "cache", store, uid=UID, gid=GID)


def put(store: LocalSlugStore, slug_id: str, members: list[Member]) -> str:
    return store.put(slug_id, io.BytesIO(archive(members)))


def test_extracts_app_tree_owned_by_the_dyno_user(cache: tuple[LocalSlugStore, SlugCache]) -> None:
    store, slugs = cache
    checksum = put(store, "s1", [
        ("dir", "./app", None), ("file", "./app/Procfile", "web: x"), ("file", "app/lib/mod.py", "x = 1"),
        ("symlink", "app/python", "/usr/bin/python3"), ("hardlink", "app/Procfile.copy", "app/Procfile"),
        ("setuid", "app/bin/tool", None), ("dir", "./", None),
    ])
    tree = slugs.ensure("s1", checksum)
    app = tree / "app"
    assert (app / "Procfile").read_text() == "web: x"
    assert (app / "lib/mod.py").read_text() == "x = 1"
    assert os.readlink(app / "python") == "/usr/bin/python3"  # kept, never followed on the host
    assert (app / "Procfile.copy").stat().st_ino == (app / "Procfile").stat().st_ino
    mode = (app / "bin/tool").stat().st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWGRP | stat.S_IWOTH)
    for path in (app, app / "Procfile", app / "lib"):
        assert (path.stat().st_uid, path.stat().st_gid) == (UID, GID)
    assert sorted(p.name for p in tree.iterdir()) == ["app"]
    assert slugs.is_extracted("s1", checksum)
    assert slugs.ensure("s1", checksum) == tree  # once per slug


def test_empty_slug_still_has_an_app_dir(cache: tuple[LocalSlugStore, SlugCache]) -> None:
    store, slugs = cache
    assert (slugs.ensure("empty", put(store, "empty", [])) / "app").is_dir()


@pytest.mark.parametrize("members", [
    [("file", "../evil", "x")],
    [("file", "/etc/evil", "x")],
    [("file", "app/../../evil", "x")],
    [("file", "etc/passwd", "x")],
    [("file", "./other/file", "x")],
    [("symlink", "app/link", "/"), ("file", "app/link/tmp/evil", "x")],  # writing through a symlink
    [("symlink", "app/up", "../.."), ("file", "app/up/evil", "x")],
    [("hardlink", "app/shadow", "../../etc/passwd")],
    [("hardlink", "app/shadow", "/etc/passwd")],
    [("symlink", "app/etc", "/etc"), ("hardlink", "app/passwd", "app/etc/passwd")],  # a link through a symlink
    [("fifo", "app/fifo", None)],
])
def test_unsafe_archives_are_refused(cache: tuple[LocalSlugStore, SlugCache], tmp_path: Path,
                                     members: list[Member]) -> None:
    store, slugs = cache
    checksum = put(store, "bad", members)
    before = _snapshot(tmp_path)
    with pytest.raises(UnsafeSlug):
        slugs.ensure("bad", checksum)
    assert not slugs.is_extracted("bad")
    assert slugs.extracted() == []
    assert _snapshot(tmp_path) == before  # nothing written outside the cache
    assert not Path("/etc/evil").exists() and not Path("/tmp/evil").exists()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tmp-")]


def _snapshot(test_dir: Path) -> set[str]:
    """Everything in this test's directory outside the cache, and the names beside it. (Not what is
    inside other tests' directories: servers and connections of earlier tests may still write there.)"""
    inside = {str(p) for p in test_dir.rglob("*") if "cache" not in p.relative_to(test_dir).parts}
    return inside | {str(p) for p in test_dir.parent.iterdir()}


def test_checksum_is_verified(cache: tuple[LocalSlugStore, SlugCache]) -> None:
    store, slugs = cache
    checksum = put(store, "s", [("file", "app/a", "1")])
    with pytest.raises(SlugChecksumMismatch):
        slugs.ensure("s", "SHA256:" + "0" * 64)
    assert not slugs.is_extracted("s")
    with pytest.raises(SlugChecksumMismatch):
        slugs.ensure("s", "md5:abc")
    assert slugs.ensure("s", checksum).is_dir()


def test_missing_and_corrupt_slugs(cache: tuple[LocalSlugStore, SlugCache]) -> None:
    store, slugs = cache
    with pytest.raises(SlugNotFound):
        slugs.ensure("nope", "SHA256:" + "0" * 64)
    checksum = store.put("junk", io.BytesIO(b"this is not gzip"))
    with pytest.raises(CorruptSlug):
        slugs.ensure("junk", checksum)
    truncated = archive([("file", "app/big", os.urandom(100_000))])[:5000]
    checksum = store.put("cut", io.BytesIO(truncated))
    with pytest.raises(CorruptSlug):
        slugs.ensure("cut", checksum)


def test_concurrent_starts_extract_once(cache: tuple[LocalSlugStore, SlugCache], tmp_path: Path) -> None:
    store, _ = cache
    checksum = put(store, "s", [("file", f"app/f{i}", str(i)) for i in range(300)])
    caches = [SlugCache(tmp_path / "cache", store, uid=UID, gid=GID) for _ in range(6)]  # as separate processes
    results: list[Path] = []
    errors: list[BaseException] = []

    def run(c: SlugCache) -> Callable[[], None]:
        def go() -> None:
            try:
                results.append(c.ensure("s", checksum))
            except BaseException as exc:  # collected and re-raised by the assertion below
                errors.append(exc)
        return go

    threads = [threading.Thread(target=run(c)) for c in caches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(results)) == 1
    assert len(list((results[0] / "app").iterdir())) == 300
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == ["s"]


def test_remove(cache: tuple[LocalSlugStore, SlugCache]) -> None:
    store, slugs = cache
    checksum = put(store, "s", [("file", "app/a", "1")])
    slugs.ensure("s", checksum)
    assert slugs.remove("s") is True
    assert slugs.remove("s") is False
    assert slugs.extracted() == []
