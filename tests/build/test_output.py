"""Build output: written line by line, followed live by readers, kept for later."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from pyroku.build import BuildOutputs, SourceBlobs


def test_followers_get_what_was_written_and_what_comes_until_the_end(tmp_path: Path) -> None:
    async def scenario() -> tuple[bytes, bytes]:
        outputs = BuildOutputs(tmp_path)
        build_id = str(uuid.uuid4())
        log = outputs.open(build_id)
        log.line("-----> first")

        async def read() -> bytes:
            return b"".join([chunk async for chunk in outputs.follow(build_id)])

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0.05)
        log.line("-----> second\r\n")
        await asyncio.sleep(0.05)
        assert not reader.done()  # still following the running build
        outputs.close(build_id)
        live = await asyncio.wait_for(reader, 5)
        later = b"".join([chunk async for chunk in outputs.follow(build_id)])
        return live, later

    live, later = asyncio.run(scenario())
    assert live == later == b"-----> first\n-----> second\n"


def test_source_blob_secrets(tmp_path: Path) -> None:
    blobs = SourceBlobs(tmp_path)
    blob_id, token = blobs.create()
    assert blobs.check(blob_id, token)
    assert not blobs.check(blob_id, token + "x")
    assert not blobs.check("../../etc/passwd", token)
    expired = SourceBlobs(tmp_path, ttl=0)
    assert not expired.check(blob_id, token)
