"""History: Heroku's filters, the 1,500-line ring, and persistence across restarts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pyroku.logs import HISTORY_LINES, InvalidFilter, Logplex
from tests.logs.conftest import new_app_id, wait_until


def _fill(logplex: Logplex, app: str) -> None:
    for source, process, message in [
        ("app", "web.1", "w1"),
        ("app", "web.2", "w2"),
        ("app", "webhook.1", "hook"),
        ("heroku", "web.1", "State changed from starting to up"),
        ("heroku", "router", "at=info"),
        ("app", "api", "Release v2 created"),
        ("app", "web", "bare"),
        ("app", "run.1234", "one-off"),
    ]:
        logplex.publish(app, source, process, message)


def _messages(logplex: Logplex, app: str, **filters: object) -> list[str]:
    return [line.message for line in logplex.history(app, **filters)]  # type: ignore[arg-type]


def test_filters_match_heroku(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    _fill(logplex, app)
    assert _messages(logplex, app, source="heroku") == ["State changed from starting to up", "at=info"]
    assert _messages(logplex, app, source="app", dyno="web") == ["w1", "w2", "bare"]
    assert _messages(logplex, app, dyno="web") == ["w1", "w2", "State changed from starting to up", "bare"]
    assert _messages(logplex, app, dyno="web.1") == ["w1", "State changed from starting to up"]
    assert _messages(logplex, app, dyno="router") == ["at=info"]
    assert _messages(logplex, app, dyno="run") == ["one-off"]
    assert _messages(logplex, app, source="App") == []
    assert _messages(logplex, app, lines=2) == ["bare", "one-off"]
    assert _messages(logplex, app, lines=1, dyno="web") == ["bare"]
    assert _messages(logplex, app, lines=0) == []


def test_history_of_unknown_app_is_empty(tmp_path: Path) -> None:
    assert Logplex(tmp_path).history(new_app_id()) == []


def test_lines_must_be_a_count(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    with pytest.raises(InvalidFilter):
        logplex.history(new_app_id(), lines=-1)
    with pytest.raises(InvalidFilter):
        logplex.create_session(new_app_id(), lines=-5)


def test_ring_keeps_the_latest_1500_lines(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    for i in range(2_000):
        logplex.publish(app, "app", "web.1", f"line {i}")
    assert [line.message for line in logplex.history(app)] == [f"line {i}" for i in range(1_900, 2_000)]
    everything = logplex.history(app, lines=5_000)  # more than the ring: capped, not an error
    assert len(everything) == HISTORY_LINES
    assert everything[0].message == "line 500"
    assert everything[0].seq == 501


def test_history_survives_a_restart(tmp_path: Path) -> None:
    app, other = new_app_id(), new_app_id()
    first = Logplex(tmp_path)
    for i in range(10):
        first.publish(app, "app", "web.1", f"line {i}")
    first.publish(other, "heroku", "router", "at=info")
    asyncio.run(first.close())

    second = Logplex(tmp_path)
    assert second.history(app, lines=1500) == first.history(app, lines=1500)
    assert [line.message for line in second.history(other)] == ["at=info"]
    second.publish(app, "app", "web.1", "after restart")
    assert second.history(app, lines=1)[0].seq == 11  # numbering continues


def test_persisted_ring_is_compacted_and_keeps_1500(tmp_path: Path) -> None:
    app = new_app_id()
    logplex = Logplex(tmp_path)
    for i in range(10_000):
        logplex.publish(app, "app", "web.1", f"line {i:05d}")
        if i % 700 == 0:
            logplex.flush()
    logplex.flush()
    segment = tmp_path / "history" / f"{app}.log"
    one_line = len(b"line 00000") + len(b"web.1") + 22
    assert segment.stat().st_size < 2 * HISTORY_LINES * one_line + 8 * 64  # never past ~2x the ring
    reloaded = Logplex(tmp_path).history(app, lines=1500)
    assert [line.message for line in reloaded] == [f"line {i:05d}" for i in range(8_500, 10_000)]


def test_a_torn_last_record_is_tolerated(tmp_path: Path) -> None:
    app = new_app_id()
    logplex = Logplex(tmp_path)
    for i in range(5):
        logplex.publish(app, "app", "web.1", f"kept {i}")
    logplex.flush()
    segment = tmp_path / "history" / f"{app}.log"
    good_size = segment.stat().st_size
    for i in range(5):
        logplex.publish(app, "app", "web.1", f"torn {i}")
    logplex.flush()
    # A crash in the middle of the second append: only part of it reached the disk.
    data = segment.read_bytes()
    segment.write_bytes(data[: good_size + (len(data) - good_size) // 2])

    survivor = Logplex(tmp_path)
    assert [line.message for line in survivor.history(app)] == [f"kept {i}" for i in range(5)]
    assert segment.stat().st_size == good_size  # the torn tail was cut off
    survivor.publish(app, "app", "web.1", "after crash")
    survivor.flush()
    assert [line.message for line in Logplex(tmp_path).history(app)][-2:] == ["kept 4", "after crash"]


def test_a_corrupted_record_stops_loading_there(tmp_path: Path) -> None:
    app = new_app_id()
    logplex = Logplex(tmp_path)
    logplex.publish(app, "app", "web.1", "first")
    logplex.flush()
    logplex.publish(app, "app", "web.1", "second")
    logplex.flush()
    segment = tmp_path / "history" / f"{app}.log"
    data = bytearray(segment.read_bytes())
    data[-1] ^= 0xFF  # flip a bit in the last record: its CRC no longer matches
    segment.write_bytes(bytes(data))
    assert [line.message for line in Logplex(tmp_path).history(app)] == ["first"]


def test_forget_removes_history_and_file(tmp_path: Path) -> None:
    app = new_app_id()
    logplex = Logplex(tmp_path)
    logplex.publish(app, "app", "web.1", "secret stuff")
    logplex.flush()
    segment = tmp_path / "history" / f"{app}.log"
    assert segment.exists()
    logplex.forget(app)
    assert not segment.exists()
    assert logplex.history(app) == []
    assert Logplex(tmp_path).history(app) == []


def test_started_logplex_flushes_on_a_timer(tmp_path: Path) -> None:
    app = new_app_id()

    async def main() -> None:
        logplex = Logplex(tmp_path, flush_interval=0.01)
        await logplex.start()
        try:
            logplex.publish(app, "app", "web.1", "timer")
            segment = tmp_path / "history" / f"{app}.log"
            deadline = asyncio.get_running_loop().time() + 20
            while not segment.exists() and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.01)
            assert segment.exists()
            assert [line.message for line in Logplex(tmp_path).history(app)] == ["timer"]
        finally:
            await logplex.close()

    asyncio.run(main())


def test_history_and_publish_from_other_threads(tmp_path: Path) -> None:
    """Once started, the Logplex belongs to its loop; other threads' calls are handed to it."""
    app = new_app_id()

    async def main() -> None:
        logplex = Logplex(tmp_path)
        await logplex.start()
        try:
            def worker() -> list[str]:
                logplex.publish(app, "app", "api", "from a thread")
                wait_until(lambda: logplex.history(app), what="the line to land")
                return [line.message for line in logplex.history(app)]

            assert await asyncio.to_thread(worker) == ["from a thread"]
        finally:
            await logplex.close()

    asyncio.run(main())
