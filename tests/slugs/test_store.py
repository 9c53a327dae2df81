"""The local slug store: put/open/exists/delete/size, checksums, and the ids it accepts."""

from __future__ import annotations

import hashlib
import io
import threading
from pathlib import Path

import pytest

from pyroku.slugs import InvalidSlugId, LocalSlugStore, SlugNotFound, SlugStore, parse_checksum


def test_local_store_implements_the_protocol(tmp_path: Path) -> None:
    assert isinstance(LocalSlugStore(tmp_path), SlugStore)


def test_put_returns_the_sha256_checksum_and_round_trips(tmp_path: Path) -> None:
    store = LocalSlugStore(tmp_path / "store")
    data = b"not really a tarball, the store does not care" * 1000
    source = tmp_path / "slug.tgz"
    source.write_bytes(data)
    checksum = store.put("a1b2-c3", source)
    assert checksum == "SHA256:" + hashlib.sha256(data).hexdigest()
    assert store.checksum("a1b2-c3") == checksum
    assert store.exists("a1b2-c3")
    assert store.size("a1b2-c3") == len(data)
    with store.open("a1b2-c3") as f:
        assert f.read() == data
    # from a file object too
    assert store.put("other", io.BytesIO(b"xyz")) == "SHA256:" + hashlib.sha256(b"xyz").hexdigest()


def test_delete_and_missing_slugs(tmp_path: Path) -> None:
    store = LocalSlugStore(tmp_path)
    store.put("s", io.BytesIO(b"x"))
    assert store.delete("s") is True
    assert store.delete("s") is False
    assert not store.exists("s")
    with pytest.raises(SlugNotFound):
        store.open("s")
    with pytest.raises(SlugNotFound):
        store.size("s")
    with pytest.raises(SlugNotFound):
        store.checksum("s")


@pytest.mark.parametrize("bad", ["", "../etc/passwd", "a/b", "..", ".hidden", "a..b", "x" * 200, "a\x00b", "ä"])
def test_slug_ids_are_plain_names(tmp_path: Path, bad: str) -> None:
    store = LocalSlugStore(tmp_path)
    with pytest.raises(InvalidSlugId):
        store.put(bad, io.BytesIO(b"x"))
    with pytest.raises(InvalidSlugId):
        store.exists(bad)


def test_readers_never_see_a_partial_slug(tmp_path: Path) -> None:
    store = LocalSlugStore(tmp_path)
    store.put("s", io.BytesIO(b"old" * 100_000))
    seen: set[bytes] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            with store.open("s") as f:
                seen.add(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(20):
            store.put("s", io.BytesIO(b"new" * 100_000))
            store.put("s", io.BytesIO(b"old" * 100_000))
    finally:
        stop.set()
        reader.join()
    assert seen <= {b"old" * 100_000, b"new" * 100_000}
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_parse_checksum() -> None:
    digest = "ab" * 32
    assert parse_checksum(f"SHA256:{digest.upper()}") == digest
    for bad in ("sha1:abc", f"SHA256:{digest[:-1]}", "SHA256:" + "zz" * 32, digest):
        with pytest.raises(ValueError):
            parse_checksum(bad)
