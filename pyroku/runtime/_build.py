"""Build containers: one command run to completion on the stack, its output streamed line by line.

A build (the slug compiler's buildpack run) needs what a dyno does not: host directories mounted
read-write (the app being built, the build cache), a command that ends, and every line of its
output as it comes. It needs less, too: no slug layer, no supervisor outliving the controller
(a build dies with the process that asked for it). So builds run here, in the foreground:

* the stack is the container's root, **read-only** (nothing the build writes can reach it); the
  build's own writable places are bind mounts and a size-capped ``/tmp`` tmpfs;
* the network namespace is made by ``ip netns`` with a veth pair on a subnet of its own (not the
  dynos'), fenced by its own nftables table, masqueraded so package registries are reachable;
* the container runs as the dyno user, without capabilities, under a memory and pids limit, with
  tini as PID 1; ``runc run`` in the foreground passes its stdout (the build's output) to us;
* a time limit kills it; cancelling :meth:`RuncBuildRunner.run` kills it too. Whatever it held
  (engine state, namespace, address lease) is given back before ``run`` returns, and a runner
  created after a crash removes what an earlier one left.

Layout of ``state_dir``: ``runs/<name>/`` (bundle, etc files), ``engine/`` (runc ``--root``),
``leases/<slot>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from pyroku.runtime._cgroups import choose_engine, detect_layout
from pyroku.runtime._config import Engine, NetworkConfig
from pyroku.runtime._exceptions import ContainerRuntimeError, RuntimeUnavailable
from pyroku.runtime._network import Lease, Leases, delete_veth, host_dns_servers, install_firewall
from pyroku.runtime._oci import DEFAULT_PATH, INIT_PATH, _seccomp, container_mounts
from pyroku.runtime.stack import DEFAULT_STACKS_DIR, DYNO_GID, DYNO_UID, MANIFEST, STACK_NAME

logger = logging.getLogger("pyroku.runtime.build")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_DESTINATION = re.compile(r"(/[A-Za-z0-9_.@-]+)+")
_CHUNK: Final = 65536
_MAX_LINE: Final = 10_000
_KILL_WAIT: Final = 30.0


@dataclass(frozen=True)
class BuildRuntimeConfig:
    """Where build containers keep their state and what they may use.

    ``network`` is a :class:`NetworkConfig` of its own (own subnet, interface prefix and nftables
    table); ``blocked_networks`` there should include the dynos' subnet. ``tmp_mb`` caps the
    ``/tmp`` tmpfs (charged to the build's memory).
    """

    state_dir: Path
    stack_dir: Path = DEFAULT_STACKS_DIR / STACK_NAME
    network: NetworkConfig = field(default_factory=lambda: NetworkConfig(
        subnet="10.212.0.0/16", interface_prefix="pkb", nft_table="pyroku_build"))
    engine: Engine = "auto"
    cgroup_parent: str = "/pyroku-build"
    uid: int = DYNO_UID
    gid: int = DYNO_GID
    tini: Path = Path("/usr/bin/tini-static")
    tmp_mb: int = 1024
    pids_limit: int = 4096
    nofile_limit: int = 10_000

    def __post_init__(self) -> None:
        if self.uid == 0 or self.gid == 0:
            raise ValueError("builds never run as root")
        if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", self.cgroup_parent):
            raise ValueError(f"invalid cgroup_parent {self.cgroup_parent!r}")


@dataclass(frozen=True)
class BuildMount:
    """A host directory visible in the build container at ``destination``."""

    source: Path
    destination: str
    writable: bool = False


@dataclass(frozen=True)
class BuildContainerSpec:
    """One build container: ``argv`` run as the dyno user in ``cwd`` with exactly ``env``."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: tuple[BuildMount, ...] = ()
    cwd: str = "/app"
    memory_mb: int = 2048
    cpu_shares: int = 1024
    timeout: float = 900.0
    network: bool = True


@dataclass(frozen=True)
class BuildContainerExit:
    """How a build container ended: ``status`` as a shell reports it (128 + signal when killed)."""

    status: int
    timed_out: bool
    seconds: float

    @property
    def killed(self) -> bool:
        return self.status == 137


@runtime_checkable
class BuildRunner(Protocol):
    """Runs build containers (runc on this host; a Kubernetes Job later)."""

    async def run(self, spec: BuildContainerSpec, on_line: Callable[[str], None]) -> BuildContainerExit:
        """Run ``spec`` to completion, calling ``on_line`` with each output line (stdout and stderr)."""
        ...


class RuncBuildRunner:
    """:class:`BuildRunner` on this host with runc (or crun), ``ip`` and ``nft``. Needs root."""

    def __init__(self, config: BuildRuntimeConfig) -> None:
        if os.geteuid() != 0:
            raise RuntimeUnavailable("build containers need root")
        self._config = config
        layout = detect_layout()
        self.engine, self._engine_bin = choose_engine(config.engine, layout)
        ip = shutil.which("ip")
        nft = shutil.which("nft")
        if ip is None or nft is None:
            raise RuntimeUnavailable("build containers need ip (iproute2) and nft (nftables)")
        self._ip = ip
        if not config.tini.is_file():
            raise RuntimeUnavailable(f"tini not found at {config.tini} (apt-get install tini)")
        if not (config.stack_dir / MANIFEST).is_file():
            raise RuntimeUnavailable(f"no stack at {config.stack_dir}: build it with `python -m pyroku.runtime build`")
        self._runs = config.state_dir / "runs"
        self._engine_root = config.state_dir / "engine"
        for directory in (self._runs, self._engine_root):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        self._leases = Leases(config.state_dir / "leases", config.network)
        self._dns = config.network.dns_servers if config.network.dns_servers is not None else host_dns_servers()
        install_firewall(config.network, nft)
        self._remove_leftovers()

    # -- running ---------------------------------------------------------------------------------

    async def run(self, spec: BuildContainerSpec, on_line: Callable[[str], None]) -> BuildContainerExit:
        _validate(spec)
        directory = self._runs / spec.name
        directory.mkdir(mode=0o700)
        lease: Lease | None = None
        started = time.monotonic()
        try:
            netns = None
            if spec.network:
                lease = self._leases.acquire(spec.name)
                netns = lease.veth
                _write_meta(directory, {"netns": netns, "slot": lease.slot})
                await self._setup_network(lease)
            self._write_bundle(directory, spec, netns)
            return await self._run_engine(directory, spec, on_line, started)
        finally:
            await asyncio.shield(asyncio.to_thread(self._discard, directory, spec.name, lease))

    async def _run_engine(
        self, directory: Path, spec: BuildContainerSpec, on_line: Callable[[str], None], started: float
    ) -> BuildContainerExit:
        argv = [*self._engine_argv(directory), "run", "--bundle", str(directory / "bundle"), spec.name]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ContainerRuntimeError(f"cannot start {self.engine}: {exc}") from exc
        assert proc.stdout is not None
        timed_out = False
        relay = asyncio.ensure_future(_relay(proc.stdout, on_line))
        try:
            try:
                await asyncio.wait_for(asyncio.shield(relay), spec.timeout)
            except TimeoutError:
                timed_out = True
                await self._kill(directory, spec.name)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(relay, _KILL_WAIT)
            status = await asyncio.wait_for(proc.wait(), _KILL_WAIT)
        except BaseException:
            await asyncio.shield(self._kill(directory, spec.name))
            relay.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.shield(asyncio.wait_for(proc.wait(), _KILL_WAIT))
            raise
        if status < 0:
            status = 128 - status
        if status != 0 and not relay.done():
            relay.cancel()
        return BuildContainerExit(status=status, timed_out=timed_out, seconds=time.monotonic() - started)

    async def _kill(self, directory: Path, name: str) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._engine_argv(directory), "kill", name, "KILL",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _KILL_WAIT)

    # -- set-up and tear-down --------------------------------------------------------------------

    async def _setup_network(self, lease: Lease) -> None:
        ns = lease.veth
        await self._ip_run(["netns", "add", ns])
        await self._ip_run(["-batch", "-"], (
            f"link add {lease.veth} type veth peer name eth0 netns {ns}\n"
            f"addr add {lease.host_ip}/30 dev {lease.veth}\n"
            f"link set {lease.veth} up\n"
        ))
        await self._ip_run(["-n", ns, "-batch", "-"], (
            "link set lo up\n"
            f"addr add {lease.dyno_ip}/30 dev eth0\n"
            "link set eth0 up\n"
            f"route add default via {lease.host_ip} dev eth0\n"
        ))

    async def _ip_run(self, args: list[str], stdin: str = "") -> None:
        proc = await asyncio.create_subprocess_exec(
            self._ip, *args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        output, _ = await proc.communicate(stdin.encode())
        if proc.returncode != 0:
            raise ContainerRuntimeError(f"cannot set up the build's network (ip {' '.join(args)}): "
                                        f"{output.decode(errors='replace').strip()}")

    def _write_bundle(self, directory: Path, spec: BuildContainerSpec, netns: str | None) -> None:
        config = self._config
        etc: dict[str, str] = {
            "/etc/resolv.conf": "".join(f"nameserver {s}\n" for s in self._dns) or "# no nameservers\n",
            "/etc/hosts": "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
        }
        etc_files: dict[str, Path] = {}
        for destination, content in etc.items():
            path = directory / Path(destination).name
            path.write_text(content)
            path.chmod(0o644)
            etc_files[destination] = path
        (directory / "bundle").mkdir()
        oci = _container_config(spec, config, etc_files, netns)
        (directory / "bundle" / "config.json").write_text(json.dumps(oci))

    def _engine_argv(self, directory: Path) -> list[str]:
        log = str(directory / "engine.log")
        if self.engine == "crun":
            return [self._engine_bin, "--root", str(self._engine_root), "--log", f"file:{log}"]
        return [self._engine_bin, "--root", str(self._engine_root), "--log", log]

    def _discard(self, directory: Path, name: str, lease: Lease | None) -> None:
        """Give back everything a build container held (idempotent)."""
        if (self._engine_root / name).exists():
            subprocess.run([*self._engine_argv(directory), "delete", "--force", name],
                           capture_output=True, check=False)
        meta = _read_meta(directory)
        netns = meta.get("netns") if meta else None
        if lease is None and meta and isinstance(meta.get("slot"), int):
            lease = self._leases.lease(int(meta["slot"]), name)
        if isinstance(netns, str) and Path("/run/netns", netns).exists():
            subprocess.run([self._ip, "netns", "del", netns], capture_output=True, check=False)
        if lease is not None:
            delete_veth(self._ip, lease.veth)
            self._leases.release(lease.slot, name)
        shutil.rmtree(directory, ignore_errors=True)

    def _remove_leftovers(self) -> None:
        """Runs a crashed controller left behind: their containers, namespaces and leases."""
        for directory in self._runs.iterdir():
            logger.warning("removing the leftovers of build container %s", directory.name)
            self._discard(directory, directory.name, None)
        known = {p.name for p in self._runs.iterdir()}
        for slot, holder in self._leases.holders().items():
            if holder not in known:
                stale = self._leases.lease(slot, holder)
                if Path("/run/netns", stale.veth).exists():
                    subprocess.run([self._ip, "netns", "del", stale.veth], capture_output=True, check=False)
                delete_veth(self._ip, stale.veth)
                self._leases.release(slot, holder)


async def _relay(stream: asyncio.StreamReader, on_line: Callable[[str], None]) -> None:
    """Split the output into lines (``\\r`` progress updates included, overlong lines cut)."""
    partial = b""
    while chunk := await stream.read(_CHUNK):
        lines = re.split(rb"\r\n|\n|\r", partial + chunk)
        partial = lines.pop()
        while len(partial) > _MAX_LINE:
            lines.append(partial[:_MAX_LINE])
            partial = partial[_MAX_LINE:]
        for line in lines:
            on_line(line.decode(errors="replace"))
    if partial:
        on_line(partial.decode(errors="replace"))


def _validate(spec: BuildContainerSpec) -> None:
    if not _NAME.fullmatch(spec.name):
        raise ContainerRuntimeError(f"invalid build container name {spec.name!r}")
    if not spec.argv:
        raise ContainerRuntimeError("a build container needs a command")
    for mount in spec.mounts:
        if not _DESTINATION.fullmatch(mount.destination) or ".." in mount.destination.split("/"):
            raise ContainerRuntimeError(f"invalid mount destination {mount.destination!r}")
        if not mount.source.is_absolute() or not mount.source.exists():
            raise ContainerRuntimeError(f"mount source {mount.source} does not exist")
    for name, value in spec.env.items():
        if not name or "=" in name or "\x00" in name or "\x00" in value:
            raise ContainerRuntimeError(f"invalid environment variable {name!r}")
    if spec.timeout <= 0 or spec.memory_mb < 64:
        raise ContainerRuntimeError("a build container needs a positive time limit and at least 64 MB")


def _container_config(
    spec: BuildContainerSpec, config: BuildRuntimeConfig, etc_files: Mapping[str, Path], netns: str | None
) -> dict[str, Any]:
    memory = spec.memory_mb * 2**20
    no_caps: list[str] = []
    mounts = container_mounts(config.tini, config.tmp_mb, etc_files, cgroup=False)
    for mount in spec.mounts:
        mounts.append({"destination": mount.destination, "type": "bind", "source": str(mount.source),
                       "options": ["rbind", "rw" if mount.writable else "ro", "nosuid", "nodev"]})
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8", **spec.env}
    namespaces: list[dict[str, str]] = [
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"},
        {"type": "network", "path": f"/run/netns/{netns}"} if netns else {"type": "network"},
    ]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": config.uid, "gid": config.gid, "additionalGids": [config.gid]},
            "args": [INIT_PATH, "-g", "--", *spec.argv],
            "env": [f"{k}={v}" for k, v in env.items()],
            "cwd": spec.cwd,
            "capabilities": {"bounding": no_caps, "effective": no_caps, "inheritable": no_caps,
                             "permitted": no_caps, "ambient": no_caps},
            "rlimits": [
                {"type": "RLIMIT_NOFILE", "hard": config.nofile_limit, "soft": config.nofile_limit},
                {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
            ],
            "noNewPrivileges": True,
            "oomScoreAdj": 700,
        },
        "root": {"path": str(config.stack_dir), "readonly": True},
        "hostname": "build",
        "mounts": mounts,
        "linux": {
            "cgroupsPath": f"{config.cgroup_parent}/{spec.name}",
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "memory": {"limit": memory, "swap": memory},
                "cpu": {"shares": spec.cpu_shares},
                "pids": {"limit": config.pids_limit},
            },
            "namespaces": namespaces,
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
            "seccomp": _seccomp(),
        },
    }


def _write_meta(directory: Path, meta: dict[str, object]) -> None:
    (directory / "meta.json").write_text(json.dumps(meta))


def _read_meta(directory: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
