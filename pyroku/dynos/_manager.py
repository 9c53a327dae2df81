"""The dyno manager: makes each app's running dynos match its release and formation.

Desired state lives in the database (formation, current release); the runtime says what runs.
`reconcile(app)` closes the gap; timers (boot timeout, crash backoff, daily cycling, memory)
run on a tick; exits arrive from the runtime. Everything happens on one event loop; the API
calls in from its threads with `app_changed`. Dynos outlive the manager: a new one adopts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyroku.dynos._exceptions import InvalidDynoRequest, NoSuchDyno, NotDeployed
from pyroku.dynos._plan import AppPlan, ProcessPlan, load_pending, load_plans
from pyroku.dynos._policy import ManagerConfig, cycle_after, restart_delay
from pyroku.dynos._rendezvous import Rendezvous
from pyroku.logs import Logplex
from pyroku.runtime import (
    ContainerRuntime,
    ContainerRuntimeError,
    DynoExit,
    DynoSpec,
    SyslogLogTarget,
)
from pyroku.sizes import DEFAULT_SIZE, DynoSize
from pyroku.state import RELEASE_PHASE, Database, dyno_started, dyno_stopped, finish_release_phase

log = logging.getLogger("pyroku.dynos")

MB = 1024 * 1024
# Holds an attached one-off until the rendezvous says its client is there (one silent line).
AWAIT_CLIENT = "stty -echo; read -r _; stty echo; "


@dataclass
class Dyno:
    """One dyno the manager looks after (a runtime container, or a crashed slot awaiting restart)."""

    app_id: str
    app_name: str
    name: str
    release_version: int
    size: DynoSize
    command: str
    port: int | None
    handle_id: str | None = None
    state: str = "down"  # starting | up | crashed | down
    address: tuple[str, int] | None = None
    started: float = 0.0  # monotonic
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    cycle_at: float = 0.0
    restart_at: float | None = None
    stopping: bool = False
    one_off: bool = False
    exited: asyncio.Future[int | None] | None = None  # attached one-offs: the exit status, at exit
    release_for: int | None = None  # a release phase: the version it decides
    draining: bool = False  # out of the routing table, about to be stopped
    mem_checked: float = 0.0
    mem_warned: float = 0.0

    @property
    def type(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def is_web(self) -> bool:
        return self.type == "web" and not self.one_off


@dataclass(frozen=True)
class DynoView:
    """A dyno as the API and the router see it."""

    app_id: str
    name: str
    type: str
    state: str
    release_version: int
    size: str
    command: str
    address: tuple[str, int] | None
    started_at: datetime
    handle_id: str | None
    one_off: bool = False


class DynoManager:
    def __init__(
        self,
        db: Database,
        runtime: ContainerRuntime,
        logplex: Logplex,
        config: ManagerConfig | None = None,
        on_routes_changed: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._runtime = runtime
        self._logplex = logplex
        self.config = config or ManagerConfig()
        self._on_routes_changed = on_routes_changed
        self._clock = clock
        self._dynos: dict[str, list[Dyno]] = {}  # app id → its dynos
        self._crashes: dict[tuple[str, str], int] = {}  # (app, dyno name) → crashes in a row
        self._locks: dict[str, asyncio.Lock] = {}
        self._dirty: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self._wake = asyncio.Event()
        self._metering = asyncio.Lock()
        self._rng = random.Random()

    # ---- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Adopt what the runtime already runs, then reconcile every app."""
        self._loop = asyncio.get_running_loop()
        await self._adopt()
        self._spawn(self._consume_exits())
        self._spawn(self._run())
        self._dirty.update(await self._all_app_ids())
        self._wake.set()

    async def close(self) -> None:
        """Stop managing; the dynos keep running for the next manager to adopt."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def app_changed(self, app_id: str) -> None:
        """Thread-safe: the app's desired state changed; reconcile it soon."""
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._mark, app_id)

    def _mark(self, app_id: str) -> None:
        self._dirty.add(app_id)
        self._wake.set()

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run `coro` in the background, owned by the manager (cancelled by `close`)."""
        self._spawn(coro)

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- views ---------------------------------------------------------------------------------

    def dynos(self, app_id: str | None = None) -> list[DynoView]:
        apps = [app_id] if app_id is not None else list(self._dynos)
        return [_view(d) for a in apps for d in self._dynos.get(a, [])]

    def routable(self) -> dict[str, list[DynoView]]:
        """Per app, its web dynos (any state: the router waits for `starting`, sees `crashed`),
        less those being drained before a stop."""
        return {
            a: [_view(d) for d in dynos if d.is_web and not d.draining]
            for a, dynos in self._dynos.items()
        }

    # ---- the loop ------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.tick)
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            for app_id in dirty:
                self._spawn(self._reconcile_locked(app_id))
            await self._timers()

    async def _timers(self) -> None:
        now = self._clock()
        for app_id, dynos in list(self._dynos.items()):
            for dyno in list(dynos):
                if dyno.stopping:
                    continue
                if dyno.state == "starting" and dyno.is_web and dyno.handle_id:
                    await self._check_boot(dyno, now)
                elif dyno.state == "crashed" and dyno.restart_at is not None and dyno.restart_at <= now:
                    dyno.restart_at = None
                    self._dirty.add(app_id)
                elif dyno.state == "up" and dyno.cycle_at and dyno.cycle_at <= now:
                    dyno.cycle_at = 0.0
                    self._spawn(self._cycle(dyno))
                if dyno.state in ("up", "starting") and now - dyno.mem_checked >= self.config.memory_check:
                    dyno.mem_checked = now
                    await self._check_memory(dyno, now)

    async def _check_boot(self, dyno: Dyno, now: float) -> None:
        assert dyno.handle_id is not None and dyno.port is not None
        try:
            bound = await self._runtime.bound(dyno.handle_id, dyno.port)
        except ContainerRuntimeError:
            return
        if bound:
            self._set_state(dyno, "up")
            return
        if now - dyno.started >= self.config.boot_timeout:
            self._say(dyno, f"Error R10 (Boot timeout) -> Web process failed to bind to $PORT within "
                            f"{self.config.boot_timeout:g} seconds of launch")
            self._say(dyno, "Stopping process with SIGKILL")
            dyno.stopping = True
            try:
                ended = await self._runtime.kill(dyno.handle_id)
            except ContainerRuntimeError:
                ended = None
            dyno.stopping = False
            self._say(dyno, f"Process exited with status {ended.status if ended and ended.status is not None else 137}")
            await self._crashed(dyno)

    async def _check_memory(self, dyno: Dyno, now: float) -> None:
        if dyno.handle_id is None:
            return
        try:
            usage = await self._runtime.memory_usage(dyno.handle_id)
        except ContainerRuntimeError:
            return
        quota = dyno.size.memory_mb * MB
        if usage is None or usage.total <= quota or now - dyno.mem_warned < self.config.memory_warn_every:
            return
        dyno.mem_warned = now
        self._say(dyno, f"Process running mem={usage.total // MB}MB({100 * usage.total / quota:.1f}%)")
        self._say(dyno, "Error R14 (Memory quota exceeded)")

    # ---- reconciliation ------------------------------------------------------------------------

    async def _reconcile_locked(self, app_id: str) -> None:
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        async with lock:
            try:
                await self.reconcile(app_id)
            except Exception:
                log.exception("reconciling app %s failed", app_id)

    async def reconcile(self, app_id: str) -> None:
        await self._release_phase(app_id)
        plans = await asyncio.to_thread(load_plans, self._db, [app_id])
        plan = plans.get(app_id)
        desired = plan.dyno_names() if plan else {}
        dynos = self._dynos.setdefault(app_id, [])
        formation = [d for d in dynos if not d.one_off and not d.stopping]
        # dynos no longer wanted, or of another release, size or command
        stale = [d for d in formation if not _matches(d, plan, desired.get(d.name))]
        if plan is not None and any(d.release_version != plan.release_version for d in stale):
            for key in [k for k in self._crashes if k[0] == app_id]:
                del self._crashes[key]  # a new release starts the crash count again
        cooling = {d.name for d in formation if d not in stale and d.state == "crashed" and d.restart_at is not None}
        running = {d.name for d in formation if d not in stale and d.state != "crashed"}
        to_start = [name for name in desired if name not in running | cooling]
        replaced: set[str] = set()
        if plan is not None and plan.preboot and any(d.is_web for d in stale):
            # Preboot: the new web dynos are routable before the old ones get SIGTERM.
            webs = [n for n in to_start if desired[n].type == "web"]
            started = [await self._start(plan, n, desired[n], restarting=False) for n in webs]
            await self._wait_up([d for d in started if d is not None])
            replaced = set(webs)
            to_start = [n for n in to_start if n not in replaced]
            # Take the old ones out of the routing table and let the routers see it before SIGTERM,
            # so no request is sent to a dyno that is shutting down.
            for d in stale:
                if d.is_web:
                    d.draining = True
            self._routes_changed()
            await asyncio.sleep(self.config.route_propagation)
        work: list[Coroutine[Any, Any, object]] = []
        for d in stale:
            restart = d.name in desired and d.name not in replaced
            if d.state == "crashed":
                self._remove(d, to_down=d.name not in desired)
            else:
                work.append(self._stop(d, restart=restart, reason="Restarting" if restart else None))
        restarting = {d.name for d in stale if d.state != "crashed"} - replaced
        if plan is not None:
            work += [self._start(plan, n, desired[n], restarting=n in restarting) for n in to_start]
        await asyncio.gather(*work)
        self._routes_changed()
        if not self._dynos.get(app_id):
            self._dynos.pop(app_id, None)

    async def _wait_up(self, dynos: list[Dyno]) -> None:
        deadline = self._clock() + self.config.boot_timeout + 1
        while any(d.state == "starting" for d in dynos) and self._clock() < deadline:
            await asyncio.sleep(self.config.tick)

    async def _start(self, plan: AppPlan, name: str, process: ProcessPlan, *, restarting: bool) -> Dyno | None:
        """Start the dyno `name` of the plan's release: new, after a crash, or replacing one being
        stopped (`restarting`: its "up to starting" was already said)."""
        assert plan.slug_id is not None
        dynos = self._dynos.setdefault(plan.app_id, [])
        crashed = next((d for d in dynos if d.name == name and d.state == "crashed"), None)
        if crashed is not None:
            if crashed.restart_at is not None:  # still cooling off
                return None
            dynos.remove(crashed)
        port = self._rng.randint(10000, 59999) if process.type == "web" else None
        dyno = Dyno(plan.app_id, plan.app_name, name, plan.release_version, process.size, process.command, port)
        dynos.append(dyno)
        if restarting:
            dyno.state = "starting"
        else:
            self._set_state(dyno, "starting", previous="crashed" if crashed else "down")
        self._say(dyno, f"Starting process with command `{process.command}`")
        spec = DynoSpec(
            app_id=plan.app_id, app_name=plan.app_name, dyno_name=name, release_version=plan.release_version,
            slug_id=plan.slug_id, slug_checksum=plan.slug_checksum, command=process.command,
            env=_dyno_env(plan), size=process.size, port=port,
            log_target=SyslogLogTarget(str(self._logplex.socket_path)),
        )
        try:
            handle = await self._runtime.start(spec)
        except ContainerRuntimeError as exc:
            self._say(dyno, f"Error R99 (Platform error) -> {exc}")
            await self._crashed(dyno)
            return dyno
        dyno.handle_id = handle.id
        dyno.address = handle.address
        dyno.started = self._clock()
        dyno.started_at = handle.started_at
        self._metered_start(dyno)
        dyno.cycle_at = dyno.started + cycle_after(self.config, self._rng)
        if not dyno.is_web:
            self._set_state(dyno, "up")
        return dyno

    async def _stop(self, dyno: Dyno, *, restart: bool, reason: str | None = None) -> None:
        """SIGTERM, grace, SIGKILL; the dyno leaves the list (its slot restarts elsewhere)."""
        if reason:
            self._say(dyno, reason)
        dyno.stopping = True
        if restart:
            self._set_state(dyno, "starting")
        self._say(dyno, "Stopping all processes with SIGTERM")
        ended = None
        if dyno.handle_id is not None:
            try:
                ended = await self._runtime.stop(dyno.handle_id, self.config.stop_grace)
            except ContainerRuntimeError as exc:
                log.warning("stopping %s failed: %s", dyno.name, exc)
        if ended is not None and ended.grace_expired:
            self._say(dyno, f"Error R12 (Exit timeout) -> Process failed to exit within "
                            f"{self.config.stop_grace:g} seconds of SIGTERM")
            self._say(dyno, "Stopping process with SIGKILL")
        status = ended.status if ended is not None and ended.status is not None else 143
        self._say(dyno, f"Process exited with status {status}")
        if not restart:
            self._set_state(dyno, "down")
        self._remove(dyno, to_down=False)
        self._routes_changed()
        if dyno.release_for is not None:
            await self._release_phase_ended(dyno, status)

    async def _cycle(self, dyno: Dyno) -> None:
        """The daily restart; a one-off (or a release phase past its hour) just ends."""
        lock = self._locks.setdefault(dyno.app_id, asyncio.Lock())
        async with lock:
            if dyno.stopping or dyno not in self._dynos.get(dyno.app_id, []):
                return
            if dyno.one_off:
                await self._stop(dyno, restart=False, reason="Stopping: time to live reached")
                return
            await self._stop(dyno, restart=True, reason="Cycling")
            await self.reconcile(dyno.app_id)

    def _remove(self, dyno: Dyno, *, to_down: bool) -> None:
        if to_down:
            self._set_state(dyno, "down")
        if dyno.exited is not None and not dyno.exited.done():
            dyno.exited.set_result(None)
        dynos = self._dynos.get(dyno.app_id, [])
        if dyno in dynos:
            dynos.remove(dyno)
        if dyno.handle_id is not None:
            handle_id, dyno.handle_id = dyno.handle_id, None
            self._spawn(self._forget(handle_id))

    async def _forget(self, handle_id: str) -> None:
        """The dyno's container is gone: free it, and close its metering record."""
        with contextlib.suppress(ContainerRuntimeError):
            await self._runtime.remove(handle_id)
        await self._record(dyno_stopped, handle_id, datetime.now(UTC))

    def _metered_start(self, dyno: Dyno) -> None:
        assert dyno.handle_id is not None
        self._spawn(self._record(dyno_started, dyno.handle_id, dyno.app_id, dyno.name, dyno.size.name,
                                 dyno.started_at))

    async def _record(self, change: Callable[..., None], *args: object) -> None:
        """Write a metering record; one at a time, in the order asked (a stop never overtakes its start)."""
        def write() -> None:
            with self._db.write() as session:
                change(session, *args)

        async with self._metering:
            try:
                await asyncio.to_thread(write)
            except Exception:  # metering must never stop dynos from being managed
                log.exception("recording dyno usage failed")

    # ---- exits ---------------------------------------------------------------------------------

    async def _consume_exits(self) -> None:
        async for ended in self._runtime.exits():
            dyno = self._by_handle(ended.id)
            if dyno is None or dyno.stopping:
                continue  # a stop we asked for reports itself
            try:
                await self._exited(dyno, ended)
            except Exception:
                log.exception("handling the exit of %s failed", dyno.name)

    async def _exited(self, dyno: Dyno, ended: DynoExit) -> None:
        if ended.oom_killed:
            self._say(dyno, "Error R15 (Memory quota vastly exceeded)")
            self._say(dyno, "Stopping process with SIGKILL")
        status = ended.status if ended.status is not None else "unknown"
        self._say(dyno, f"Process exited with status {status}")
        if dyno.one_off:
            self._set_state(dyno, "complete")
            if dyno.exited is not None and not dyno.exited.done():
                dyno.exited.set_result(ended.status)
            self._remove(dyno, to_down=False)
            if dyno.release_for is not None:
                await self._release_phase_ended(dyno, ended.status)
            return
        await self._crashed(dyno)

    # ---- release phase -------------------------------------------------------------------------

    async def _release_phase(self, app_id: str) -> None:
        """Run the newest pending release's `release` command, once, in a one-off dyno."""
        pending = await asyncio.to_thread(load_pending, self._db, app_id)
        if pending is None or pending.slug_id is None:
            return
        if any(d.release_for == pending.release_version for d in self._dynos.get(app_id, [])):
            return  # already running
        if pending.release_command is None:  # nothing to run: nothing to wait for
            await self._finish_release(app_id, pending.release_version, True)
            return
        name = f"{RELEASE_PHASE}.{pending.release_version}"
        dyno = Dyno(app_id, pending.app_name, name, pending.release_version, DEFAULT_SIZE,
                    pending.release_command, None, one_off=True, release_for=pending.release_version)
        self._dynos.setdefault(app_id, []).append(dyno)
        self._logplex.publish(app_id, "app", "api", f"Running release v{pending.release_version} commands")
        self._set_state(dyno, "starting", previous="down")
        self._say(dyno, f"Starting process with command `{pending.release_command}`")
        spec = DynoSpec(
            app_id=app_id, app_name=pending.app_name, dyno_name=name, release_version=pending.release_version,
            slug_id=pending.slug_id, slug_checksum=pending.slug_checksum, command=pending.release_command,
            env=_dyno_env(pending), size=DEFAULT_SIZE, log_target=SyslogLogTarget(str(self._logplex.socket_path)),
        )
        try:
            handle = await self._runtime.start(spec)
        except ContainerRuntimeError as exc:
            self._say(dyno, f"Error R99 (Platform error) -> {exc}")
            self._remove(dyno, to_down=True)
            await self._release_phase_ended(dyno, None)
            return
        dyno.handle_id = handle.id
        dyno.started, dyno.started_at = self._clock(), handle.started_at
        self._metered_start(dyno)
        dyno.cycle_at = dyno.started + self.config.release_phase_timeout
        self._set_state(dyno, "up")

    async def _release_phase_ended(self, dyno: Dyno, status: int | None) -> None:
        assert dyno.release_for is not None
        succeeded = status == 0
        if not succeeded:
            self._logplex.publish(dyno.app_id, "app", "api", f"Release v{dyno.release_for} command failed")
        await self._finish_release(dyno.app_id, dyno.release_for, succeeded)

    async def _finish_release(self, app_id: str, version: int, succeeded: bool) -> None:
        def record() -> None:
            with self._db.write() as session:
                finish_release_phase(session, app_id, version, succeeded)

        await asyncio.to_thread(record)
        self._mark(app_id)

    async def _crashed(self, dyno: Dyno) -> None:
        """Any exit of a formation dyno is a crash: restart at once the first time, then back off."""
        self._set_state(dyno, "crashed")
        if dyno.handle_id is not None:
            handle_id, dyno.handle_id = dyno.handle_id, None
            self._spawn(self._forget(handle_id))
        key = (dyno.app_id, dyno.name)
        ran = self._clock() - dyno.started if dyno.started else 0.0
        crashes = 1 if ran >= self.config.backoff_reset else self._crashes.get(key, 0) + 1
        self._crashes[key] = crashes
        delay = restart_delay(self.config, crashes)
        dyno.restart_at = self._clock() + delay
        if delay == 0:
            dyno.restart_at = None
            self._mark(dyno.app_id)
        self._routes_changed()

    # ---- adoption ------------------------------------------------------------------------------

    async def _adopt(self) -> None:
        for status in await self._runtime.list():
            if status.state != "running":
                await self._forget(status.id)
                continue
            # The listing does not carry size and command: the plan fills them in below.
            dyno = Dyno(status.app_id, status.app_name, status.dyno_name, status.release_version,
                        DEFAULT_SIZE, "", None, handle_id=status.id, address=status.address,
                        state="up", started=self._clock(), started_at=status.started_at)
            dyno.cycle_at = dyno.started + cycle_after(self.config, self._rng)
            kind, _, number = status.dyno_name.partition(".")
            if kind == RELEASE_PHASE and number.isdigit():
                dyno.one_off, dyno.release_for = True, int(number)
            elif kind == "run":
                dyno.one_off = True
            self._dynos.setdefault(status.app_id, []).append(dyno)
        plans = await asyncio.to_thread(load_plans, self._db, list(self._dynos))
        for app_id, dynos in self._dynos.items():
            plan = plans.get(app_id)
            wanted = plan.dyno_names() if plan else {}
            for dyno in dynos:
                process = wanted.get(dyno.name)
                if process is not None:
                    dyno.size, dyno.command = process.size, process.command
                if dyno.is_web and dyno.address:
                    dyno.port = dyno.address[1]
                    dyno.state = "starting"  # up again once its port answers

    async def _all_app_ids(self) -> set[str]:
        plans = await asyncio.to_thread(load_plans, self._db)
        return set(plans) | set(self._dynos)

    # ---- commands ------------------------------------------------------------------------------

    def check(self, app_id: str, target: str | None) -> None:
        """Raise NoSuchDyno unless `target` names dynos of the app."""
        self._find(app_id, target)

    def _find(self, app_id: str, target: str | None) -> list[Dyno]:
        """Dynos by name (`web.1`), type (`web`), or all (None)."""
        found = [d for d in self._dynos.get(app_id, []) if not d.stopping
                 and (target is None or d.name == target or d.type == target)]
        if not found:
            raise NoSuchDyno(f"Couldn't find that dyno ({target})." if target else "No dynos to restart.")
        return found

    async def restart(self, app_id: str, target: str | None = None) -> None:
        """`ps:restart`: stop the matching dynos and start them again (one-offs just stop)."""
        async with self._locks.setdefault(app_id, asyncio.Lock()):
            matching = self._find(app_id, target)
            for dyno in matching:
                self._crashes.pop((app_id, dyno.name), None)
            work = []
            for dyno in matching:
                if dyno.state == "crashed":
                    self._remove(dyno, to_down=False)
                else:
                    work.append(self._stop(dyno, restart=not dyno.one_off, reason="Restarting"))
            await asyncio.gather(*work)
            await self.reconcile(app_id)

    async def stop(self, app_id: str, target: str) -> None:
        """`ps:stop`: one-off dynos end; formation dynos are replaced at once, as on Heroku."""
        matching = self._find(app_id, target)
        one_offs = [d for d in matching if d.one_off]
        await asyncio.gather(*(self._stop(d, restart=False) for d in one_offs))
        if len(one_offs) < len(matching):
            await self.restart(app_id, target)

    async def run(
        self,
        app_id: str,
        command: str,
        *,
        size: DynoSize | None = None,
        attach: bool = False,
        env: dict[str, str] | None = None,
        time_to_live: float | None = None,
        rendezvous: Rendezvous | None = None,
    ) -> tuple[DynoView, str | None]:
        """Start a one-off dyno `run.N`; with `attach`, also the rendezvous URL of its terminal."""
        if not command.strip():
            raise InvalidDynoRequest("A command is required.")
        plan = (await asyncio.to_thread(load_plans, self._db, [app_id])).get(app_id)
        if plan is None or plan.slug_id is None:
            raise NotDeployed("This app has no deployed code yet: git push first.")
        taken = {d.name for d in self._dynos.get(app_id, [])}
        name = next(n for n in (f"run.{self._rng.randint(1000, 9999)}" for _ in range(1000)) if n not in taken)
        dyno = Dyno(app_id, plan.app_name, name, plan.release_version, size or DEFAULT_SIZE, command, None,
                    one_off=True)
        self._dynos.setdefault(app_id, []).append(dyno)
        if attach:
            self._say(dyno, "Awaiting client")
        self._set_state(dyno, "starting", previous="down")
        self._say(dyno, f"Starting process with command `{command}`")
        spec = DynoSpec(
            app_id=app_id, app_name=plan.app_name, dyno_name=name, release_version=plan.release_version,
            slug_id=plan.slug_id, slug_checksum=plan.slug_checksum,
            # An attached command waits for its client, so no output is lost before it attaches.
            command=f"{AWAIT_CLIENT}{command}" if attach else command,
            env={**_dyno_env(plan), **(env or {})}, size=dyno.size, tty=attach,
            log_target=None if attach else SyslogLogTarget(str(self._logplex.socket_path)),
        )
        try:
            handle = await self._runtime.start(spec)
        except ContainerRuntimeError as exc:
            self._remove(dyno, to_down=True)
            raise InvalidDynoRequest(f"The dyno could not start: {exc}") from exc
        dyno.handle_id = handle.id
        dyno.started, dyno.started_at = self._clock(), handle.started_at
        self._metered_start(dyno)
        dyno.cycle_at = dyno.started + min(time_to_live or self.config.cycle_base, self.config.cycle_base)
        self._set_state(dyno, "up")
        url = None
        if attach and rendezvous is not None:
            done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
            dyno.exited = done
            handle_id = handle.id
            url = rendezvous.register(lambda: self._runtime.attach(handle_id), done, lambda: self._hangup(dyno))
        return _view(dyno), url

    async def _hangup(self, dyno: Dyno) -> None:
        if dyno in self._dynos.get(dyno.app_id, []) and not dyno.stopping:
            self._say(dyno, "Client connection closed. Sending SIGHUP to all processes")
            await self._stop(dyno, restart=False)

    # ---- helpers -------------------------------------------------------------------------------

    def _by_handle(self, handle_id: str) -> Dyno | None:
        for dynos in self._dynos.values():
            for dyno in dynos:
                if dyno.handle_id == handle_id:
                    return dyno
        return None

    def _set_state(self, dyno: Dyno, state: str, previous: str | None = None) -> None:
        before = previous or dyno.state
        dyno.state = state
        if before != state:
            self._say(dyno, f"State changed from {before} to {state}")
            self._routes_changed()

    def _say(self, dyno: Dyno, message: str) -> None:
        self._logplex.publish(dyno.app_id, "heroku", dyno.name, message)

    def _routes_changed(self) -> None:
        self._on_routes_changed()


def _view(d: Dyno) -> DynoView:
    return DynoView(d.app_id, d.name, d.type, d.state, d.release_version, d.size.name, d.command,
                    d.address, d.started_at, d.handle_id, d.one_off)


def _matches(dyno: Dyno, plan: AppPlan | None, process: ProcessPlan | None) -> bool:
    return (
        plan is not None
        and process is not None
        and dyno.release_version == plan.release_version
        and dyno.size == process.size
        and dyno.command == process.command
    )


def _dyno_env(plan: AppPlan) -> dict[str, str]:
    env = dict(plan.config)
    if plan.commit:
        env["PYROKU_SLUG_COMMIT"] = plan.commit
    return env
