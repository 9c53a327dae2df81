"""``RuncRuntime``: dynos as OCI containers under runc or crun, each owned by a detached supervisor.

State lives in ``<state_dir>``::

    dynos/<id>/            one per dyno (0700): meta.json, supervisor.json, bundle/config.json,
                           bundle/rootfs and scratch (mount points inside the supervisor's own mount
                           namespace), etc files, control.sock, state.json, exit.json, logs
    engine/                runc/crun --root
    leases/<slot>          the /30 each dyno holds, containing its id

The controller learns of exits from a pidfd on each supervisor, so a restarted controller
re-adopts running dynos and still reports exits that happened while it was down.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import contextlib
import json
import logging
import os
import py_compile
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from pyroku.runtime import _supervisor as sup
from pyroku.runtime._attach import PtyAttachment
from pyroku.runtime._cgroups import CgroupLayout, choose_engine, detect_layout, memory_usage
from pyroku.runtime._config import RuntimeConfig
from pyroku.runtime._exceptions import (
    ContainerRuntimeError,
    DynoNotFound,
    DynoStartError,
    RuntimeTimeout,
    RuntimeUnavailable,
)
from pyroku.runtime._network import Lease, Leases, delete_veth, host_dns_servers, install_firewall, listening_ports
from pyroku.runtime._oci import container_config, validate
from pyroku.runtime.stack import MANIFEST
from pyroku.runtime.types import (
    DynoExit,
    DynoHandle,
    DynoSpec,
    DynoStatus,
    ExitReason,
    FileLogTarget,
    MemoryUsage,
    SyslogLogTarget,
)
from pyroku.slugs import SlugCache, SlugError, SlugStore

logger = logging.getLogger("pyroku.runtime")

META: Final = "meta.json"
_SUPERVISOR_SCRIPT: Final = str(Path(sup.__file__).resolve())
_NETLINK_SOURCE: Final = str(Path(sup.__file__).resolve().with_name("_netlink.py"))
_MAX_SOCKET_PATH: Final = 107
_EXIT_REASONS: Final[tuple[ExitReason, ...]] = ("exited", "stopped", "killed", "lost")


@dataclass
class _Dyno:
    """What the controller knows about one dyno."""

    id: str
    meta: dict[str, Any]
    started_at: datetime
    state: dict[str, Any] | None = None
    exit: DynoExit | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    pidfd: int | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        port = self.meta.get("port")
        return (str(self.meta["dyno_ip"]), int(port)) if port is not None and self.meta.get("dyno_ip") else None

    def status(self, memory: MemoryUsage | None) -> DynoStatus:
        return DynoStatus(
            id=self.id,
            app_id=str(self.meta["app_id"]),
            app_name=str(self.meta["app_name"]),
            dyno_name=str(self.meta["dyno_name"]),
            release_version=int(self.meta["release_version"]),
            state="exited" if self.exit is not None else "running",
            started_at=self.started_at,
            address=self.address,
            exit=self.exit,
            memory=memory,
        )


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _parse_time(text: object) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.now(UTC)


class RuncRuntime:
    """The :class:`ContainerRuntime` of one host. Needs root, runc or crun, tini, ip and nft.

    Creating one checks the host, installs the dyno firewall, and (on first use) re-adopts every
    dyno recorded in ``config.state_dir``. Use it from one event loop; ``aclose()`` it before that
    loop ends (it keeps a warm standby supervisor so that starting a dyno skips Python's start-up).
    """

    def __init__(self, config: RuntimeConfig, slugs: SlugStore) -> None:
        if os.geteuid() != 0:
            raise RuntimeUnavailable("the runc runtime needs root")
        self._config = config
        self._layout: CgroupLayout = detect_layout()
        self.engine, self._engine_bin = choose_engine(config.engine, self._layout)
        self._ip = self._need("ip", "iproute2")
        self._nft = self._need("nft", "nftables")
        if not config.tini.is_file():
            raise RuntimeUnavailable(f"tini not found at {config.tini} (apt-get install tini)")
        if not (config.stack_dir / MANIFEST).is_file():
            raise RuntimeUnavailable(
                f"no stack at {config.stack_dir}: build it with `python -m pyroku.runtime build` (scripts/setup does)"
            )
        for path in (config.stack_dir, config.slug_cache_dir, config.state_dir):
            if any(c in str(path) for c in ":,\n"):
                raise RuntimeUnavailable(f"path {path} cannot be used in overlay mount options")
        longest = config.state_dir / "dynos" / str(uuid.UUID(int=0)) / sup.CONTROL
        if len(os.fsencode(longest)) > _MAX_SOCKET_PATH:
            raise RuntimeUnavailable(f"state_dir {config.state_dir} is too long for Unix socket paths")
        self._dynos_dir = config.state_dir / "dynos"
        self._engine_root = config.state_dir / "engine"
        for directory in (self._dynos_dir, self._engine_root):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        self._leases = Leases(config.state_dir / "leases", config.network)
        self._slug_cache = SlugCache(config.slug_cache_dir, slugs, uid=config.uid, gid=config.gid)
        self._dns = config.network.dns_servers if config.network.dns_servers is not None else host_dns_servers()
        install_firewall(config.network, self._nft)
        self._supervisor = self._compile_supervisor()
        self._dynos: dict[str, _Dyno] = {}
        # Extracted slugs no dyno uses, since when (monotonic), and slugs a start() is unpacking now.
        self._slug_idle_since: dict[str, float] = {}
        self._slug_starting: collections.Counter[str] = collections.Counter()
        self._exit_queue: asyncio.Queue[DynoExit] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._adopted = False
        self._standby: asyncio.Task[asyncio.subprocess.Process] | None = None

    def _compile_supervisor(self) -> str:
        """Byte-compile the supervisor (and its netlink helper, which it imports from the same
        directory) once: run from source, every supervisor would compile itself again, costing
        time on the start path and ~1.5 MB more memory per dyno."""
        directory = self._config.state_dir
        try:
            for source, name in ((_NETLINK_SOURCE, "_netlink.pyc"), (_SUPERVISOR_SCRIPT, "supervisor.pyc")):
                tmp = directory / f".{name}.{os.getpid()}"
                py_compile.compile(source, cfile=str(tmp), doraise=True)
                os.replace(tmp, directory / name)
        except (OSError, py_compile.PyCompileError) as exc:
            logger.warning("running the dyno supervisor from source: %s", exc)
            return _SUPERVISOR_SCRIPT
        return str(directory / "supervisor.pyc")

    @staticmethod
    def _need(binary: str, package: str) -> str:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeUnavailable(f"{binary} is not installed (apt-get install {package})")
        return path

    # -- the ContainerRuntime interface ---------------------------------------------------------

    async def start(self, spec: DynoSpec) -> DynoHandle:
        validate(spec)
        self._ensure_adopted()
        self._slug_starting[spec.slug_id] += 1  # (the sweep leaves its tree alone meanwhile)
        try:
            return await self._start(spec)
        finally:
            self._slug_starting[spec.slug_id] -= 1
            if not self._slug_starting[spec.slug_id]:
                del self._slug_starting[spec.slug_id]
            await self._sweep_slug_cache()

    async def _start(self, spec: DynoSpec) -> DynoHandle:
        try:
            slug_tree = await asyncio.to_thread(self._slug_cache.ensure, spec.slug_id, spec.slug_checksum)
        except SlugError as exc:
            raise DynoStartError(f"cannot unpack slug {spec.slug_id}: {exc}") from exc
        dyno_id = str(uuid.uuid4())
        directory = self._dynos_dir / dyno_id
        directory.mkdir(mode=0o700)
        lease: Lease | None = None
        try:
            lease = self._leases.acquire(dyno_id)
            meta = self._prepare(directory, dyno_id, spec, slug_tree, lease)
            await self._launch(directory)
        except BaseException:
            await asyncio.to_thread(self._discard, directory, dyno_id, lease)
            raise
        state = _read_json(str(directory / sup.STATE)) or {}
        dyno = _Dyno(dyno_id, meta, _parse_time(state.get("started_at")), state=state)
        self._dynos[dyno_id] = dyno
        self._watch(dyno)
        return DynoHandle(id=dyno_id, dyno_name=spec.dyno_name, address=dyno.address, started_at=dyno.started_at)

    async def list(self) -> builtins.list[DynoStatus]:
        self._ensure_adopted()
        return [d.status(self._memory(d)) for d in sorted(self._dynos.values(), key=lambda d: d.started_at)]

    async def status(self, dyno_id: str) -> DynoStatus:
        dyno = self._get(dyno_id)
        return dyno.status(self._memory(dyno))

    async def stop(self, dyno_id: str, grace: float = 30.0) -> DynoExit:
        dyno = self._get(dyno_id)
        if dyno.exit is None:
            await self._command(dyno, f"stop {grace:.3f}")
        return await self._wait(dyno, timeout=grace + 30.0)

    async def kill(self, dyno_id: str) -> DynoExit:
        dyno = self._get(dyno_id)
        if dyno.exit is None:
            await self._command(dyno, "kill")
        return await self._wait(dyno, timeout=30.0)

    async def wait(self, dyno_id: str) -> DynoExit:
        return await self._wait(self._get(dyno_id), timeout=None)

    async def exits(self) -> AsyncIterator[DynoExit]:
        self._ensure_adopted()
        assert self._exit_queue is not None
        while True:
            yield await self._exit_queue.get()

    async def remove(self, dyno_id: str) -> None:
        dyno = self._get(dyno_id)
        if dyno.exit is None:
            await self.kill(dyno_id)
        self._unwatch(dyno)
        await asyncio.to_thread(self._discard, self._dynos_dir / dyno_id, dyno_id, self._lease_of(dyno))
        self._dynos.pop(dyno_id, None)
        await self._sweep_slug_cache()

    async def _sweep_slug_cache(self) -> None:
        """Delete extracted slugs that no dyno (running, exited but not removed, or starting) has used
        for ``slug_cache_grace`` seconds: old releases, destroyed apps. Trees found unused on disk
        (a controller restart) count from now. Runs after every start and remove."""
        now = time.monotonic()
        in_use = {str(d.meta.get("slug_id")) for d in self._dynos.values()} | set(self._slug_starting)
        idle = self._slug_idle_since
        for slug_id in self._slug_cache.extracted():
            if slug_id in in_use:
                idle.pop(slug_id, None)
            else:
                idle.setdefault(slug_id, now)
        doomed = [slug_id for slug_id, since in idle.items() if now - since >= self._config.slug_cache_grace]
        trash = []
        for slug_id in doomed:  # renamed away here, on the loop: a start() after this extracts it again
            del idle[slug_id]
            retired = self._slug_cache.retire(slug_id)
            if retired is not None:
                trash.append(retired)
        for directory in trash:
            await asyncio.to_thread(shutil.rmtree, directory, True)

    async def memory_usage(self, dyno_id: str) -> MemoryUsage | None:
        return self._memory(self._get(dyno_id))

    async def bound(self, dyno_id: str, port: int) -> bool:
        dyno = self._get(dyno_id)
        pid = self._live_pid(dyno)
        if pid is None or not dyno.meta.get("dyno_ip"):
            return False
        return port in listening_ports(pid, str(dyno.meta["dyno_ip"]))

    async def attach(self, dyno_id: str) -> PtyAttachment:
        dyno = self._get(dyno_id)
        if dyno.exit is not None:
            raise ContainerRuntimeError(f"dyno {dyno.meta['dyno_name']} has exited")
        if not dyno.meta.get("tty"):
            raise ContainerRuntimeError(f"dyno {dyno.meta['dyno_name']} was not started with a terminal")
        fd = await asyncio.to_thread(self._receive_terminal, dyno_id)
        return PtyAttachment(fd)

    async def aclose(self) -> None:
        await self._close_standby()
        for dyno in self._dynos.values():
            self._unwatch(dyno)
        self._dynos.clear()
        self._adopted = False

    # -- starting -------------------------------------------------------------------------------

    def _prepare(self, directory: Path, dyno_id: str, spec: DynoSpec, slug_tree: Path, lease: Lease) -> dict[str, Any]:
        config = self._config
        (directory / "bundle" / "rootfs").mkdir(parents=True)
        (directory / "scratch").mkdir()
        etc = {
            "/etc/resolv.conf": "".join(f"nameserver {s}\n" for s in self._dns) or "# no nameservers\n",
            "/etc/hosts": f"127.0.0.1\tlocalhost\n::1\tlocalhost\n{lease.dyno_ip}\t{dyno_id}\n",
            "/etc/hostname": f"{dyno_id}\n",
        }
        etc_files = {}
        for destination, content in etc.items():
            path = directory / Path(destination).name
            path.write_text(content)
            path.chmod(0o644)
            etc_files[destination] = path
        cgroup_path = f"{config.cgroup_parent}/{dyno_id}"
        oci = container_config(
            spec, dyno_id=dyno_id, config=config, rootfs=directory / "bundle" / "rootfs",
            etc_files=etc_files, cgroup_path=cgroup_path,
        )
        (directory / "bundle" / "config.json").write_text(json.dumps(oci))
        memory_dir = self._layout.memory_dir(cgroup_path)
        v1 = self._layout.version == 1
        log: dict[str, str] | None = None
        if spec.tty:
            log = None
        elif isinstance(spec.log_target, SyslogLogTarget):
            log = {"type": "syslog", "path": spec.log_target.socket_path}
        elif isinstance(spec.log_target, FileLogTarget):
            log = {"type": "file", "path": spec.log_target.path}
        supervisor = {
            "id": dyno_id,
            "engine": self._engine_argv(directory),
            "app_id": spec.app_id,
            "process": spec.dyno_name,
            "tty": spec.tty,
            "log": log,
            "lower": [str(slug_tree), str(config.stack_dir)],
            "scratch_kib": (config.scratch_mb or spec.size.memory_mb) * 1024,
            "network": {
                "veth": lease.veth, "host_ip": lease.host_ip, "dyno_ip": lease.dyno_ip,
                "lease_file": str(self._config.state_dir / "leases" / str(lease.slot)),
            },
            "cgroup_procs": str(self._layout.procs_file(cgroup_path)),
            "oom_file": str(memory_dir / ("memory.oom_control" if v1 else "memory.events")),
            "peak_file": str(memory_dir / ("memory.max_usage_in_bytes" if v1 else "memory.peak")),
        }
        sup.write_config(str(directory / sup.CONFIG), supervisor)
        meta = {
            "app_id": spec.app_id, "app_name": spec.app_name, "dyno_name": spec.dyno_name,
            "release_version": spec.release_version, "slug_id": spec.slug_id, "port": spec.port, "tty": spec.tty,
            "cgroup_path": cgroup_path, "slot": lease.slot, "veth": lease.veth, "dyno_ip": lease.dyno_ip,
            "created_at": sup.iso_now(),
        }
        sup.write_record(str(directory / META), meta)
        return meta

    def _engine_argv(self, directory: Path) -> builtins.list[str]:
        log = str(directory / sup.ENGINE_LOG)
        if self.engine == "crun":
            return [self._engine_bin, "--root", str(self._engine_root), "--log", f"file:{log}"]
        return [self._engine_bin, "--root", str(self._engine_root), "--log", log]

    async def _spawn_supervisor(self, *args: str) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                self._config.python, "-I", "-S", self._supervisor, *args,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        except OSError as exc:
            raise DynoStartError(f"cannot start a dyno supervisor: {exc}") from exc

    async def _new_standby(self) -> asyncio.subprocess.Process:
        """A supervisor already running (interpreter loaded) and waiting for its dyno."""
        proc = await self._spawn_supervisor("--standby")
        assert proc.stdout is not None
        # the supervisor forks away at once; asyncio's child watcher reaps its parent. (Not
        # proc.wait(): on 3.11 it also waits for the pipes, which the standby keeps open.)
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self._config.start_timeout)
        except TimeoutError:
            line = b""
        if line != b"ready\n":
            await _dispose(proc)
            raise DynoStartError("a dyno supervisor failed to start")
        return proc

    async def _take_standby(self) -> asyncio.subprocess.Process:
        task, self._standby = self._standby, None
        if task is not None:
            with contextlib.suppress(Exception):
                return await task
        return await self._new_standby()

    def _refill_standby(self) -> None:
        if self._standby is None and self._loop is not None:
            self._standby = self._loop.create_task(self._new_standby())

    async def _close_standby(self) -> None:
        task, self._standby = self._standby, None
        if task is None:
            return
        try:
            proc = await task  # never cancelled half-way: that would orphan its pipes
        except Exception:
            return
        await _dispose(proc)

    async def _launch(self, directory: Path) -> None:
        proc = await self._take_standby()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(f"{directory}\n".encode())
            await proc.stdin.drain()
            # one line, then the supervisor closes its stdout (or exits, on failure)
            output = await asyncio.wait_for(proc.stdout.read(), self._config.start_timeout)
        except (OSError, TimeoutError) as exc:
            raise DynoStartError(f"dyno did not start: {exc or 'timed out'}") from exc
        finally:
            await _dispose(proc)
            self._refill_standby()
        reply = output.decode(errors="replace").strip()
        if reply != "ok":
            detail = reply.removeprefix("error ").strip() or _tail(directory / "supervisor.log")
            raise DynoStartError(f"dyno failed to start: {detail}")

    def _discard(self, directory: Path, dyno_id: str, lease: Lease | None) -> None:
        """Remove everything a dyno held on the host (idempotent; the supervisor usually did most)."""
        if (self._engine_root / dyno_id).exists():
            subprocess.run([*self._engine_argv(directory), "delete", "--force", dyno_id],
                           capture_output=True, check=False)
        if lease is not None:
            delete_veth(self._ip, lease.veth)
            self._leases.release(lease.slot, dyno_id)
        shutil.rmtree(directory, ignore_errors=True)

    def _lease_of(self, dyno: _Dyno) -> Lease | None:
        slot = dyno.meta.get("slot")
        return self._leases.lease(int(slot), dyno.id) if slot is not None else None

    # -- watching -------------------------------------------------------------------------------

    def _ensure_adopted(self) -> None:
        loop = asyncio.get_running_loop()
        if self._adopted and self._loop is loop:
            return
        if self._loop is not None and self._loop is not loop:
            self._standby = None  # it belonged to the other loop; it exits when its stdin closes
            for dyno in self._dynos.values():
                self._unwatch(dyno)
            self._dynos.clear()
        self._loop = loop
        self._exit_queue = asyncio.Queue()
        self._adopted = True
        for directory in sorted(self._dynos_dir.iterdir()):
            if directory.name not in self._dynos:
                self._adopt(directory)
        known = set(self._dynos) | {p.name for p in self._dynos_dir.iterdir()}
        for slot, holder in self._leases.holders().items():
            if holder not in known:
                stale = self._leases.lease(slot, holder)
                delete_veth(self._ip, stale.veth)
                self._leases.release(slot, holder)

    def _adopt(self, directory: Path) -> None:
        dyno_id = directory.name
        meta = _read_json(str(directory / META))
        state = _read_json(str(directory / sup.STATE))
        if meta is None or state is None:
            # a start in progress (leave it alone for a while) or one that crashed half-way
            if time.time() - directory.stat().st_mtime > self._config.start_timeout + 30:
                lease = self._leases.lease(int(meta["slot"]), dyno_id) if meta and "slot" in meta else None
                self._discard(directory, dyno_id, lease)
            return
        dyno = _Dyno(dyno_id, meta, _parse_time(state.get("started_at")), state=state)
        self._dynos[dyno_id] = dyno
        if not self._watch(dyno):
            self._on_supervisor_exit(dyno)

    def _watch(self, dyno: _Dyno) -> bool:
        """Watch the dyno's supervisor through a pidfd; False if it is already gone."""
        state = dyno.state or {}
        pid = state.get("supervisor_pid")
        if not isinstance(pid, int):
            return False
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return False
        if sup.process_start_time(pid) != state.get("supervisor_start"):
            os.close(pidfd)  # that pid belongs to somebody else now
            return False
        dyno.pidfd = pidfd
        assert self._loop is not None
        self._loop.add_reader(pidfd, self._on_supervisor_exit, dyno)
        return True

    def _unwatch(self, dyno: _Dyno) -> None:
        if dyno.pidfd is not None:
            with contextlib.suppress(Exception):
                if self._loop is not None and not self._loop.is_closed():
                    self._loop.remove_reader(dyno.pidfd)
            os.close(dyno.pidfd)
            dyno.pidfd = None

    def _on_supervisor_exit(self, dyno: _Dyno) -> None:
        self._unwatch(dyno)
        if dyno.exit is not None:
            return
        directory = self._dynos_dir / dyno.id
        record = _read_json(str(directory / sup.EXIT))
        if record is None:
            record = self._lost(dyno, directory)
        reason = record.get("reason")
        status = record.get("status")
        max_memory = record.get("max_memory")
        dyno.exit = DynoExit(
            id=dyno.id,
            dyno_name=str(dyno.meta["dyno_name"]),
            app_id=str(dyno.meta["app_id"]),
            status=status if isinstance(status, int) else None,
            reason=_reason(reason),
            oom_killed=bool(record.get("oom_killed")),
            grace_expired=bool(record.get("grace_expired")),
            exited_at=_parse_time(record.get("exited_at")),
            max_memory=max_memory if isinstance(max_memory, int) else None,
        )
        dyno.exited.set()
        if self._exit_queue is not None:
            self._exit_queue.put_nowait(dyno.exit)

    def _lost(self, dyno: _Dyno, directory: Path) -> dict[str, Any]:
        """The supervisor died without recording an exit: kill what is left and record it as lost."""
        logger.warning("supervisor of dyno %s died; killing its container", dyno.id)
        pid = self._live_pid(dyno)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
        lease = self._lease_of(dyno)
        subprocess.run([*self._engine_argv(directory), "delete", "--force", dyno.id], capture_output=True, check=False)
        if lease is not None:
            delete_veth(self._ip, lease.veth)
            self._leases.release(lease.slot, dyno.id)
        reason: ExitReason = "lost"
        record: dict[str, Any] = {
            "status": None, "reason": reason, "oom_killed": False, "grace_expired": False,
            "max_memory": None, "exited_at": sup.iso_now(),
        }
        with contextlib.suppress(OSError):
            sup.write_record(str(directory / sup.EXIT), record)
        return record

    # -- helpers --------------------------------------------------------------------------------

    def _get(self, dyno_id: str) -> _Dyno:
        self._ensure_adopted()
        dyno = self._dynos.get(dyno_id)
        if dyno is None:
            raise DynoNotFound(f"no dyno {dyno_id}")
        return dyno

    def _live_pid(self, dyno: _Dyno) -> int | None:
        """The container init's host PID while it runs (checked against its start time)."""
        if dyno.exit is not None or dyno.state is None:
            return None
        pid = dyno.state.get("pid")
        if not isinstance(pid, int) or sup.process_start_time(pid) != dyno.state.get("pid_start"):
            return None
        return pid

    def _memory(self, dyno: _Dyno) -> MemoryUsage | None:
        if dyno.exit is not None:
            return None
        return memory_usage(self._layout, str(dyno.meta["cgroup_path"]))

    async def _command(self, dyno: _Dyno, command: str) -> None:
        """Send a command to the dyno's supervisor. No answer means it is on its way out (the dyno
        has exited): then wait for that exit to be seen."""
        try:
            reply = await self._exchange(str(self._dynos_dir / dyno.id / sup.CONTROL), command)
        except (OSError, TimeoutError):
            reply = ""
        if not reply:
            try:
                await asyncio.wait_for(dyno.exited.wait(), 10)
            except TimeoutError:
                raise ContainerRuntimeError(f"the supervisor of dyno {dyno.id} does not answer") from None
        elif reply != "ok":
            raise ContainerRuntimeError(f"the supervisor of dyno {dyno.id} refused {command!r}: {reply}")

    @staticmethod
    async def _exchange(path: str, command: str) -> str:
        reader, writer = await asyncio.open_unix_connection(path)
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return line.decode(errors="replace").strip()

    async def _wait(self, dyno: _Dyno, timeout: float | None) -> DynoExit:
        if dyno.exit is None:
            try:
                await asyncio.wait_for(dyno.exited.wait(), timeout)
            except TimeoutError:
                raise RuntimeTimeout(f"dyno {dyno.id} did not exit within {timeout:.0f} s") from None
        assert dyno.exit is not None
        return dyno.exit

    def _receive_terminal(self, dyno_id: str) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(10)
            try:
                conn.connect(str(self._dynos_dir / dyno_id / sup.CONTROL))
                conn.sendall(b"attach\n")
                message, fds, _flags, _addr = socket.recv_fds(conn, 256, 1)
            except OSError as exc:
                raise ContainerRuntimeError(f"cannot attach to dyno {dyno_id}: {exc}") from exc
        if not fds:
            raise ContainerRuntimeError(f"cannot attach to dyno {dyno_id}: {message.decode(errors='replace').strip()}")
        return fds[0]


async def _dispose(proc: asyncio.subprocess.Process) -> None:
    """Close a supervisor's pipes (a standby exits on end of file) and let asyncio finish with it."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(proc.stdout.read(), 5)
        await asyncio.wait_for(proc.wait(), 5)


def _reason(value: object) -> ExitReason:
    for reason in _EXIT_REASONS:
        if value == reason:
            return reason
    return "exited"


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no details"
    return lines[-1] if lines else "no details"
