"""Stopping, killing, waiting, failing to start, and surviving a controller restart."""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import time
from dataclasses import replace

import pytest

from pyroku.runtime import (
    ContainerRuntime,
    DynoExit,
    DynoNotFound,
    DynoStartError,
    InvalidDynoSpec,
    RuncRuntime,
)
from tests.runtime.conftest import Harness, eventually

pytestmark = pytest.mark.anyio


def test_runc_runtime_implements_the_protocol() -> None:
    assert issubclass(RuncRuntime, ContainerRuntime)


async def test_stop_with_sigterm_then_exit(harness: Harness) -> None:
    spec = harness.spec("trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done")
    handle = await harness.runtime.start(spec)
    await eventually(lambda: _said(harness, spec, "ready"), what="the dyno to start")
    exit_ = await harness.runtime.stop(handle.id, grace=20)
    assert exit_.reason == "stopped"
    assert exit_.status == 0
    assert not exit_.grace_expired
    assert "got TERM" in harness.output(spec)


async def test_stop_default_action_is_status_143(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600"))
    exit_ = await harness.runtime.stop(handle.id, grace=20)
    assert (exit_.status, exit_.reason, exit_.grace_expired) == (143, "stopped", False)


async def test_stop_escalates_to_sigkill_after_grace(harness: Harness) -> None:
    # ignores SIGTERM, and so does a detached grandchild in its own session
    spec = harness.spec(
        "trap 'echo ignoring TERM' TERM; setsid bash -c \"trap '' TERM; sleep 600\" & "
        "echo ready; while true; do sleep 0.1; done"
    )
    handle = await harness.runtime.start(spec)
    await eventually(lambda: _said(harness, spec, "ready"), what="the dyno to start")
    exit_ = await harness.runtime.stop(handle.id, grace=1)
    assert exit_.grace_expired  # the manager logs R12 for this
    assert exit_.status == 137
    assert exit_.reason == "stopped"
    assert "ignoring TERM" in harness.output(spec)


async def _said(harness: Harness, spec: object, line: str) -> bool:
    return line in harness.output(spec)  # type: ignore[arg-type]


async def test_wait_exits_and_unknown_ids(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exit 4"))
    exits = harness.runtime.exits()
    reported = await asyncio.wait_for(anext(exits), 30)
    assert reported.id == handle.id and reported.status == 4
    assert await harness.runtime.wait(handle.id) == reported
    assert (await harness.runtime.stop(handle.id)) == reported  # stopping an exited dyno is a no-op
    status = await harness.runtime.status(handle.id)
    assert status.state == "exited" and status.exit == reported and status.memory is None
    await harness.runtime.remove(handle.id)
    with pytest.raises(DynoNotFound):
        await harness.runtime.status(handle.id)
    with pytest.raises(DynoNotFound):
        await harness.runtime.stop("no-such-dyno")


async def test_dynos_survive_a_controller_restart(harness: Harness) -> None:
    running = await harness.runtime.start(harness.spec("exec sleep 600", port=5000, dyno_name="web.1"))
    finishing = await harness.runtime.start(harness.spec("read -t 2 x < /dev/zero; sleep 1; exit 5",
                                                         dyno_name="worker.1"))
    await harness.runtime.aclose()  # the controller goes away; supervisors and containers stay
    del harness.runtime
    await asyncio.sleep(3.5)  # the worker exits while no controller is watching

    runtime = RuncRuntime(harness.config, harness.slugs.store)
    harness.runtime = runtime
    statuses = {s.id: s for s in await runtime.list()}
    assert statuses[running.id].state == "running"
    assert statuses[running.id].dyno_name == "web.1"
    assert statuses[running.id].address == running.address
    assert statuses[running.id].memory is not None
    finished = statuses[finishing.id].exit
    assert statuses[finishing.id].state == "exited"
    assert finished is not None and finished.status == 5
    # the exit that happened meanwhile is still reported, once
    exits = runtime.exits()
    first = await asyncio.wait_for(anext(exits), 10)
    assert (first.id, first.status) == (finishing.id, 5)
    # and the adopted dyno is still fully under control
    assert await runtime.bound(running.id, 5000) is False
    exit_ = await runtime.stop(running.id, grace=10)
    assert (exit_.status, exit_.reason) == (143, "stopped")
    second = await asyncio.wait_for(anext(exits), 10)
    assert second == exit_


async def test_supervisor_death_is_reported_as_lost(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600", port=5000))
    state = json.loads((harness.config.state_dir / "dynos" / handle.id / "state.json").read_text())
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    exit_ = await asyncio.wait_for(harness.runtime.wait(handle.id), 30)
    assert exit_.reason == "lost"
    assert exit_.status is None
    # the orphaned container was killed and its network given back
    await eventually(lambda: _gone(state["pid"]), what="the container to be killed")
    assert not list((harness.config.state_dir / "leases").iterdir())


async def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


async def test_start_failures_leave_nothing_behind(harness: Harness) -> None:
    bad_checksum = harness.spec("true", slug_checksum="SHA256:" + "0" * 64)
    with pytest.raises(DynoStartError, match="checksum"):
        await harness.runtime.start(bad_checksum)
    missing = harness.spec("true", slug_id="no-such-slug")
    with pytest.raises(DynoStartError, match="no-such-slug"):
        await harness.runtime.start(missing)
    for bad in (harness.spec("true", dyno_name="web"), harness.spec("true", dyno_name="../x.1"),
                harness.spec("true", port=80), harness.spec(""),
                harness.spec("true", env={"A=B": "x"}), harness.spec("true", env={"A": "x\x00y"})):
        with pytest.raises(InvalidDynoSpec):
            await harness.runtime.start(bad)
    state = harness.config.state_dir
    assert list((state / "dynos").iterdir()) == []
    assert list((state / "leases").iterdir()) == []
    assert await harness.runtime.list() == []


async def test_attach_to_a_terminal(harness: Harness) -> None:
    spec = harness.spec("echo ready; read line; echo \"got:$line\"; stty size; tty; exit 2",
                        dyno_name="run.4821", tty=True)
    handle = await harness.runtime.start(spec)
    attachment = await harness.runtime.attach(handle.id)
    try:
        attachment.resize(40, 100)
        os.write(attachment.fileno(), b"hello\n")
        output = _read_until(attachment.fileno(), b"/dev/pts/0", timeout=20)
    finally:
        attachment.close()
    assert b"got:hello" in output
    assert b"40 100" in output
    exit_: DynoExit = await asyncio.wait_for(harness.runtime.wait(handle.id), 30)
    assert exit_.status == 2
    assert harness.output(spec) == []  # an attached dyno's output goes to the terminal only


async def test_attach_needs_a_terminal(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600"))
    with pytest.raises(Exception, match="terminal"):
        await harness.runtime.attach(handle.id)


def _read_until(fd: int, marker: bytes, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data += os.read(fd, 4096)
            except OSError:  # EIO: the terminal's other side is gone
                break
    return data


async def test_an_extracted_slug_outlives_its_last_dyno_for_the_grace_period(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("exec sleep 600"))
    await harness.runtime.remove(handle.id)
    assert (harness.config.slug_cache_dir / harness.slug.id).is_dir()  # a restart now would reuse it


async def test_an_extracted_slug_no_dyno_uses_is_swept(harness: Harness) -> None:
    config = replace(harness.config, slug_cache_dir=harness.work / "own-slug-cache", slug_cache_grace=0.0)
    await harness.runtime.aclose()
    runtime = harness.runtime = RuncRuntime(config, harness.slugs.store)
    tree = config.slug_cache_dir / harness.slug.id
    first = await runtime.start(harness.spec("exec sleep 600"))
    second = await runtime.start(harness.spec("exec sleep 600"))
    assert tree.is_dir()
    await runtime.remove(first.id)
    assert tree.is_dir()  # the other dyno still runs from it
    await runtime.remove(second.id)
    assert not tree.exists()
    assert [p.name for p in config.slug_cache_dir.iterdir() if not p.name.endswith(".lock")] == []
    again = await runtime.start(harness.spec("exec sleep 600"))  # a later start extracts it once more
    assert (await runtime.status(again.id)).state == "running" and tree.is_dir()
    await runtime.remove(again.id)
