"""Memory, process and scratch-space limits from the dyno size, enforced per dyno."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from pyroku.runtime import RuncRuntime
from pyroku.sizes import DynoSize
from tests.runtime.conftest import Harness, cleanup, eventually

pytestmark = pytest.mark.anyio

TINY = DynoSize("Test-64M", 64, 1024, 48)


async def test_memory_limit_oom_kills_only_that_dyno(harness: Harness) -> None:
    neighbour = await harness.runtime.start(harness.spec("exec sleep 600"))
    hog = harness.spec(
        "python3 -c 'import time\nchunks = []\nwhile True: chunks.append(bytearray(8 * 2**20)); time.sleep(0.001)'",
        size=TINY,
    )
    handle = await harness.runtime.start(hog)
    exit_ = await asyncio.wait_for(harness.runtime.wait(handle.id), 60)
    assert exit_.status == 137
    assert exit_.oom_killed
    assert exit_.max_memory is not None and exit_.max_memory <= 64 * 2**20 + 2**20
    status = await harness.runtime.status(neighbour.id)
    assert status.state == "running"
    usage = await harness.runtime.memory_usage(neighbour.id)
    assert usage is not None and usage.limit == 128 * 2**20


async def test_memory_usage_counts_tmpfs_writes(harness: Harness) -> None:
    handle = await harness.runtime.start(
        harness.spec("head -c 40000000 /dev/zero > /tmp/blob && head -c 20000000 /dev/zero > /app/blob "
                     "&& echo written && exec sleep 600")
    )
    # the dyno's writes live in its own memory (tmpfs), never on the host's disk
    await eventually(lambda: _rss_above(harness, handle.id, 55_000_000), what="tmpfs writes to be charged")


async def _rss_above(harness: Harness, dyno_id: str, threshold: int) -> bool:
    usage = await harness.runtime.memory_usage(dyno_id)
    return usage is not None and usage.rss > threshold


async def test_fork_bomb_is_contained_by_the_pids_limit(harness: Harness) -> None:
    counter = harness.spec(
        "python3 -c '\nimport os, time\nn = 0\ntry:\n"
        "    while True:\n        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        n += 1\n"
        "except OSError as e:\n    print(\"forks\", n, e.errno)\n'",
        size=TINY,
    )
    handle = await harness.runtime.start(counter)
    exit_ = await asyncio.wait_for(harness.runtime.wait(handle.id), 60)
    out = harness.output(counter)
    assert exit_.status == 0
    words = out[0].split()
    assert words[0] == "forks" and int(words[1]) < TINY.pids_limit and words[2] == "11"  # EAGAIN

    # the classic bomb: the dyno is stuck at its limit, its neighbours and the host are not
    bomb = await harness.runtime.start(harness.spec("bomb() { bomb | bomb & }; bomb; exec sleep 600", size=TINY))
    neighbour_exit, neighbour_out = await harness.run("echo alive")
    assert neighbour_out == ["alive"] and neighbour_exit.status == 0
    exit_ = await asyncio.wait_for(harness.runtime.kill(bomb.id), 60)
    assert exit_.status == 137
    assert exit_.reason == "killed"


async def test_scratch_space_is_capped(harness: Harness) -> None:
    config = replace(harness.config, state_dir=harness.work / "capped", scratch_mb=16, tmp_mb=16)
    runtime = RuncRuntime(config, harness.slugs.store)
    try:
        spec = harness.spec(
            "head -c 40000000 /dev/zero > /tmp/blob; echo tmp=$?; rm -f /tmp/blob; "
            "head -c 40000000 /dev/zero > /app/blob; echo app=$?"
        )
        handle = await runtime.start(spec)
        exit_ = await asyncio.wait_for(runtime.wait(handle.id), 60)
        out = harness.output(spec)
        assert exit_.status == 0
        assert "tmp=1" in out and "app=1" in out
        assert sum("No space left on device" in line for line in out) == 2
    finally:
        await cleanup(runtime)
        await runtime.aclose()
