"""The dyno manager's policy with a FakeRuntime and an injected clock (see fake_runtime.py):
state lines, scaling, crash backoff, R10, R12, R14, R15, cycling, preboot, adoption."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pyroku.dynos import DynoManager, ManagerConfig
from pyroku.logs import Logplex
from pyroku.state import (
    Database,
    FormationUpdate,
    Quantity,
    create_app,
    create_slug,
    create_user,
    mark_uploaded,
    release_slug,
    set_config,
    set_feature,
    slug_for_upload,
    update_formation,
)
from tests.dynos.fake_runtime import FakeRuntime

CONFIG = ManagerConfig(boot_timeout=60, stop_grace=30, backoff_base=20, backoff_max=80, backoff_reset=600,
                       cycle_base=86400, cycle_jitter=0, tick=0.005, memory_check=5, memory_warn_every=30,
                       route_propagation=0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    db: Database
    logplex: Logplex
    runtime: FakeRuntime
    clock: Clock
    manager: DynoManager
    app_id: str
    user_id: str

    def heroku_lines(self, dyno: str | None = None) -> list[str]:
        lines = self.logplex.history(self.app_id, lines=1500, source="heroku", dyno=dyno)
        return [f"{line.process}: {line.message}" for line in lines]

    def deploy(self, types: dict[str, str], commit: str = "abc1234") -> None:
        from pyroku.state import App, User

        with self.db.write() as s:
            app, user = s.get(App, self.app_id), s.get(User, self.user_id)
            assert app and user
            slug, token = create_slug(s, app, types, commit=commit)
            mark_uploaded(s, slug_for_upload(s, slug.id, token), "SHA256:" + "a" * 64, 1)
            release_slug(s, app, user, slug.id)
        self.manager.app_changed(self.app_id)

    def scale(self, **quantities: int) -> None:
        from pyroku.state import App

        with self.db.write() as s:
            app = s.get(App, self.app_id)
            assert app
            update_formation(s, app, [FormationUpdate(t, Quantity(q)) for t, q in quantities.items()])
        self.manager.app_changed(self.app_id)

    def set_config(self, **config: str) -> None:
        from pyroku.state import App, User

        with self.db.write() as s:
            app, user = s.get(App, self.app_id), s.get(User, self.user_id)
            assert app and user
            set_config(s, app, user, dict(config))
        self.manager.app_changed(self.app_id)


async def until(check: Callable[[], bool], what: str = "condition") -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def in_order(lines: list[str], expected: list[str]) -> bool:
    """`expected` appears in `lines` as a subsequence."""
    remaining = iter(lines)
    return all(any(line == want for line in remaining) for want in expected)


def run(tmp_path: Path, scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        db = Database.sqlite_in(tmp_path)
        db.migrate()
        with db.write() as s:
            user = create_user(s, "o@example.com", "password-1")
            app = create_app(s, user, "managed")
            ids = (app.id, user.id)
        logplex = Logplex(tmp_path / "logs")
        runtime = FakeRuntime()
        clock = Clock()
        manager = DynoManager(db, runtime, logplex, CONFIG, clock=clock)
        await manager.start()
        try:
            await scenario(World(db, logplex, runtime, clock, manager, *ids))
        finally:
            await manager.close()
            db.dispose()

    asyncio.run(main())


def test_deploy_starts_web_and_scaling_adds_and_removes_dynos(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"web": "gunicorn app", "worker": "celery"})
        await until(lambda: w.runtime.names(w.app_id) == ["web.1"])
        await until(lambda: "web.1: State changed from starting to up" in w.heroku_lines())
        assert w.heroku_lines() == [
            "web.1: State changed from down to starting",
            "web.1: Starting process with command `gunicorn app`",
            "web.1: State changed from starting to up",
        ]
        spec = w.runtime.running(w.app_id)[0].spec
        assert spec.port and spec.command == "gunicorn app" and spec.env["PYROKU_SLUG_COMMIT"] == "abc1234"
        w.scale(web=3, worker=1)
        await until(lambda: w.runtime.names(w.app_id) == ["web.1", "web.2", "web.3", "worker.1"])
        w.scale(web=1, worker=0)
        await until(lambda: w.runtime.names(w.app_id) == ["web.1"])
        await until(lambda: "worker.1: State changed from up to down" in w.heroku_lines())
        assert w.heroku_lines("worker.1")[-3:] == [
            "worker.1: Stopping all processes with SIGTERM",
            "worker.1: Process exited with status 143",
            "worker.1: State changed from up to down",
        ]
        assert [v.name for v in w.manager.routable()[w.app_id]] == ["web.1"]

        def usage() -> dict[str, tuple[str, bool]]:
            from pyroku.state import usage_for

            with w.db.read() as s:
                return {u.dyno_name: (u.size, u.stopped_at is not None) for u in usage_for(s, w.app_id)}

        # metering: every run of a dyno is recorded with its size, closed when it stops
        await until(lambda: usage().get("worker.1") == ("Standard-1X", True), "the worker's usage closed")
        await until(lambda: usage().get("web.3") == ("Standard-1X", True), "web.3's usage closed")
        assert usage()["web.1"] == ("Standard-1X", False)

    run(tmp_path, scenario)


def test_crashes_restart_at_once_then_back_off(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"web": "app"})
        await until(lambda: "web.1: State changed from starting to up" in w.heroku_lines())
        first = w.runtime.running(w.app_id)[0]
        w.runtime.crash(first.id, status=0)  # any exit of a formation dyno is a crash
        await until(lambda: len(w.runtime.running(w.app_id)) == 1 and w.runtime.running(w.app_id)[0] is not first)
        assert w.heroku_lines()[3:7] == [
            "web.1: Process exited with status 0",
            "web.1: State changed from up to crashed",
            "web.1: State changed from crashed to starting",
            "web.1: Starting process with command `app`",
        ]
        await until(lambda: w.heroku_lines().count("web.1: State changed from starting to up") == 2)
        second = w.runtime.running(w.app_id)[0]
        w.runtime.crash(second.id, status=1)
        await until(lambda: w.heroku_lines().count("web.1: State changed from up to crashed") == 2)
        await asyncio.sleep(0.1)
        assert w.runtime.running(w.app_id) == []  # cooling off: 20 s
        assert w.manager.dynos(w.app_id)[0].state == "crashed"
        w.clock.now += 21
        await until(lambda: len(w.runtime.running(w.app_id)) == 1, "restart after the cool-off")
        third = w.runtime.running(w.app_id)[0]
        w.runtime.crash(third.id)
        await asyncio.sleep(0.1)
        w.clock.now += 21
        await asyncio.sleep(0.1)
        assert w.runtime.running(w.app_id) == []  # the next cool-off doubled to 40 s
        w.clock.now += 20
        await until(lambda: len(w.runtime.running(w.app_id)) == 1)
        w.deploy({"web": "app2"}, commit="def5678")  # a new release resets the count
        await until(lambda: w.runtime.running(w.app_id)[0].spec.command == "app2")
        w.runtime.crash(w.runtime.running(w.app_id)[0].id)
        await until(lambda: len(w.runtime.running(w.app_id)) == 1, "immediate restart after a release")

    run(tmp_path, scenario)


def test_web_dyno_that_never_binds_gets_r10(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.runtime.bind_on_start = False
        w.deploy({"web": "sleep 1000"})
        await until(lambda: len(w.runtime.running(w.app_id)) == 1)
        await asyncio.sleep(0.05)
        assert w.manager.dynos(w.app_id)[0].state == "starting"
        w.clock.now += 61
        await until(lambda: "web.1: State changed from crashed to starting" in w.heroku_lines())
        assert in_order(w.heroku_lines(), [
            "web.1: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 60 seconds of launch",
            "web.1: Stopping process with SIGKILL",
            "web.1: Process exited with status 137",
            "web.1: State changed from starting to crashed",
            "web.1: State changed from crashed to starting",  # the first crash restarts at once
        ]), w.heroku_lines()

    run(tmp_path, scenario)


def test_config_change_restarts_and_slow_exits_get_r12(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"web": "app"})
        await until(lambda: "web.1: State changed from starting to up" in w.heroku_lines())
        w.runtime.running(w.app_id)[0].stop_grace_expires = True
        w.set_config(A="1")
        await until(lambda: w.heroku_lines().count("web.1: State changed from starting to up") == 2)
        assert w.runtime.running(w.app_id)[0].spec.env["A"] == "1"
        lines = w.heroku_lines()[3:]
        # the old process is stopped while the new one starts: each side in its own order
        assert in_order(lines, [
            "web.1: Restarting",
            "web.1: State changed from up to starting",
            "web.1: Stopping all processes with SIGTERM",
            "web.1: Error R12 (Exit timeout) -> Process failed to exit within 30 seconds of SIGTERM",
            "web.1: Stopping process with SIGKILL",
            "web.1: Process exited with status 137",
        ]), lines
        assert in_order(lines, [
            "web.1: State changed from up to starting",
            "web.1: Starting process with command `app`",
            "web.1: State changed from starting to up",
        ]), lines
        assert "web.1: State changed from down to starting" not in lines

    run(tmp_path, scenario)


def test_memory_over_quota_warns_r14_and_oom_kill_is_r15(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"worker": "hog"})
        w.scale(worker=1)
        await until(lambda: len(w.runtime.running(w.app_id)) == 1)
        dyno = w.runtime.running(w.app_id)[0]
        dyno.memory = 600 * 2**20  # standard-1x: 512 MB
        w.clock.now += 6
        await until(lambda: "worker.1: Error R14 (Memory quota exceeded)" in w.heroku_lines())
        assert "worker.1: Process running mem=600MB(117.2%)" in w.heroku_lines()
        w.runtime.crash(dyno.id, status=137, oom=True)
        await until(lambda: "worker.1: Error R15 (Memory quota vastly exceeded)" in w.heroku_lines())
        await until(lambda: len(w.runtime.running(w.app_id)) == 1)

    run(tmp_path, scenario)


def test_dynos_are_cycled_daily(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"web": "app"})
        await until(lambda: "web.1: State changed from starting to up" in w.heroku_lines())
        first = w.runtime.running(w.app_id)[0]
        w.clock.now += 86400 + 1
        await until(lambda: "web.1: Cycling" in w.heroku_lines())
        await until(lambda: len(w.runtime.running(w.app_id)) == 1 and w.runtime.running(w.app_id)[0] is not first)

    run(tmp_path, scenario)


def test_preboot_starts_new_web_dynos_before_stopping_old_ones(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        from pyroku.state import App

        w.deploy({"web": "v1", "worker": "w"})
        w.scale(web=2, worker=1)
        await until(lambda: len(w.runtime.running(w.app_id)) == 3)
        with w.db.write() as s:
            app = s.get(App, w.app_id)
            assert app
            set_feature(s, app, "preboot", True)
        w.runtime.calls.clear()
        w.deploy({"web": "v2", "worker": "w"}, commit="bbbbbbb")
        await until(lambda: sorted(d.spec.command for d in w.runtime.running(w.app_id)) == ["v2", "v2", "w"])
        starts = [i for i, c in enumerate(w.runtime.calls) if c.startswith("start web")]
        stops = [i for i, c in enumerate(w.runtime.calls) if c.startswith("stop web")]
        assert len(starts) == 2 and len(stops) == 2 and max(starts) < min(stops), w.runtime.calls

    run(tmp_path, scenario)


def test_a_new_manager_adopts_running_dynos(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        w.deploy({"web": "app"})
        await until(lambda: "web.1: State changed from starting to up" in w.heroku_lines())
        await w.manager.close()
        w.runtime.calls.clear()
        successor = DynoManager(w.db, w.runtime, w.logplex, CONFIG, clock=w.clock)
        await successor.start()
        try:
            await until(lambda: [v.state for v in successor.dynos(w.app_id)] == ["up"])
            await asyncio.sleep(0.05)
            assert w.runtime.calls == []  # nothing restarted
        finally:
            await successor.close()

    run(tmp_path, scenario)


@pytest.mark.parametrize("crashes", [1, 2, 3, 4, 5])
def test_backoff_schedule(crashes: int) -> None:
    from pyroku.dynos import restart_delay

    assert restart_delay(CONFIG, crashes) == [0, 20, 40, 80, 80][crashes - 1]


def test_release_phase_gates_the_new_release(tmp_path: Path) -> None:
    async def scenario(w: World) -> None:
        from pyroku.state import App, list_releases

        def statuses() -> list[str]:
            with w.db.read() as s:
                app = s.get(App, w.app_id)
                assert app
                return [r.status for r in list_releases(s, app)]

        w.deploy({"web": "v1"})
        await until(lambda: w.runtime.names(w.app_id) == ["web.1"])
        w.deploy({"web": "v2", "release": "migrate"}, commit="2222222")
        await until(lambda: "release.3" in w.runtime.names(w.app_id), "the release phase dyno")
        assert [d.spec.command for d in w.runtime.running(w.app_id) if d.spec.dyno_name == "web.1"] == ["v1"]
        assert statuses() == ["succeeded", "succeeded", "pending"]
        phase = next(d for d in w.runtime.running(w.app_id) if d.spec.dyno_name == "release.3")
        assert phase.spec.command == "migrate" and phase.spec.release_version == 3
        w.runtime.crash(phase.id, status=1)  # the release command fails
        await until(lambda: statuses()[-1] == "failed", "the release to fail")
        await asyncio.sleep(0.05)
        assert [d.spec.command for d in w.runtime.running(w.app_id)] == ["v1"]  # still the old release
        w.deploy({"web": "v3", "release": "migrate"}, commit="3333333")
        await until(lambda: "release.4" in w.runtime.names(w.app_id))
        phase = next(d for d in w.runtime.running(w.app_id) if d.spec.dyno_name == "release.4")
        w.runtime.crash(phase.id, status=0)
        await until(lambda: [d.spec.command for d in w.runtime.running(w.app_id)] == ["v3"], "v3 to go live")
        assert statuses() == ["succeeded", "succeeded", "failed", "succeeded"]
        history = w.logplex.history(w.app_id, lines=1500)
        messages = [f"{line.source}[{line.process}]: {line.message}" for line in history]
        assert "app[api]: Running release v3 commands" in messages
        assert "app[api]: Release v3 command failed" in messages
        assert "heroku[release.4]: Process exited with status 0" in messages

    run(tmp_path, scenario)
