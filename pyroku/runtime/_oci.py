"""The OCI runtime config (``config.json``) of one dyno, and the checks on what goes into it."""

from __future__ import annotations

import platform
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pyroku.runtime._config import RuntimeConfig
from pyroku.runtime._exceptions import InvalidDynoSpec
from pyroku.runtime.types import DynoSpec

DEFAULT_PATH: Final = "/usr/local/bin:/usr/bin:/bin"
INIT_PATH: Final = "/dev/init"  # tini, bind-mounted read-only

# Sourced in this order after config vars are set, then the command runs (as Heroku does):
# buildpack-written .profile.d scripts, then the app's .profile.
PROFILE_WRAPPER: Final = (
    'for pyroku_f in /app/.profile.d/*.sh; do if [ -r "$pyroku_f" ]; then . "$pyroku_f"; fi; done; '
    "unset pyroku_f; "
    "if [ -r /app/.profile ]; then . /app/.profile; fi; "
    'exec bash -c "$1"'
)

_DYNO_NAME = re.compile(r"[-\w]{1,128}\.[0-9]{1,10}", re.ASCII)
_ENV_NAME = re.compile(r"[^=\x00]+")
_MASKED_PATHS: Final = [
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
]
_READONLY_PATHS: Final = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

# System calls an unprivileged app never needs and that widen the kernel's attack surface.
_DENIED_SYSCALLS: Final = [
    "add_key", "keyctl", "request_key", "bpf", "userfaultfd", "perf_event_open", "kexec_load", "kexec_file_load",
    "open_by_handle_at", "init_module", "finit_module", "delete_module", "unshare", "setns", "mount", "umount2",
    "pivot_root", "swapon", "swapoff", "reboot", "acct", "quotactl", "lookup_dcookie", "fsopen", "fsmount",
    "fsconfig", "fspick", "move_mount", "open_tree", "io_uring_setup", "io_uring_enter", "io_uring_register",
]
_CLONE_NEWUSER: Final = 0x10000000
_ENOSYS: Final = 38
_EPERM: Final = 1


def validate(spec: DynoSpec) -> None:
    if not _DYNO_NAME.fullmatch(spec.dyno_name):
        raise InvalidDynoSpec(f"invalid dyno name {spec.dyno_name!r} (expected <type>.<number>, e.g. web.1)")
    if not spec.command.strip() or "\x00" in spec.command:
        raise InvalidDynoSpec("a dyno needs a command (without NUL characters)")
    if spec.port is not None and not 1024 <= spec.port <= 65535:
        raise InvalidDynoSpec(f"invalid port {spec.port}: dynos bind unprivileged ports 1024-65535")
    for name, value in spec.env.items():
        if not _ENV_NAME.fullmatch(name) or "\x00" in value:
            raise InvalidDynoSpec(f"invalid environment variable {name!r}")
    if spec.release_version < 0:
        raise InvalidDynoSpec(f"invalid release version {spec.release_version}")


def dyno_env(spec: DynoSpec) -> dict[str, str]:
    """Defaults, then the app's config vars, then what the platform guarantees."""
    env = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
    if spec.tty:
        env["TERM"] = "xterm-256color"
    env.update(spec.env)
    env.update(
        HOME="/app",
        DYNO=spec.dyno_name,
        PYROKU_APP_NAME=spec.app_name,
        PYROKU_RELEASE_VERSION=f"v{spec.release_version}",
    )
    if spec.port is not None:
        env["PORT"] = str(spec.port)
    else:
        env.pop("PORT", None)
    return env


def _seccomp() -> dict[str, Any]:
    machine = platform.machine()
    if machine in ("aarch64", "arm64"):
        arches = ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    else:
        arches = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": arches,
        "syscalls": [
            {"names": _DENIED_SYSCALLS, "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM},
            # new user namespaces would hand the app capabilities over the kernel again
            {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": _EPERM,
             "args": [{"index": 0, "value": _CLONE_NEWUSER, "valueTwo": _CLONE_NEWUSER, "op": "SCMP_CMP_MASKED_EQ"}]},
            # clone3's flags are behind a pointer seccomp cannot read: make libc fall back to clone
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": _ENOSYS},
        ],
    }


def container_mounts(
    tini: Path, tmp_mb: int, etc_files: Mapping[str, Path], *, cgroup: bool
) -> list[dict[str, Any]]:
    """The mounts every container gets (dynos and builds): kernel filesystems, a small /dev, a
    size-capped /tmp, tini at INIT_PATH and the generated /etc files, all read-only where possible."""
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",  # noqa: S108 - inside the container
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]
    if cgroup:
        mounts.append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                       "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    mounts += [
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",  # noqa: S108 - inside the container
         "options": ["nosuid", "nodev", "mode=1777", f"size={tmp_mb}m"]},
        {"destination": INIT_PATH, "type": "bind", "source": str(tini), "options": ["bind", "ro", "nosuid", "nodev"]},
    ]
    for destination, source in etc_files.items():
        mounts.append({"destination": destination, "type": "bind", "source": str(source),
                       "options": ["bind", "ro", "nosuid", "nodev", "noexec"]})
    return mounts


def container_config(
    spec: DynoSpec,
    *,
    dyno_id: str,
    config: RuntimeConfig,
    rootfs: Path,
    etc_files: Mapping[str, Path],
    cgroup_path: str,
) -> dict[str, Any]:
    """The OCI config of a dyno. Its network namespace is the one its supervisor created and runs in."""
    memory = int(spec.size.memory_mb * config.memory_limit_factor) * 2**20
    tmp_mb = config.tmp_mb or spec.size.memory_mb
    env = dyno_env(spec)
    cpu: dict[str, Any] = {"shares": spec.size.cpu_shares}
    if config.cpu_quota_per_share is not None and not spec.size.dedicated:
        period = 100_000
        cpu.update(period=period, quota=int(period * spec.size.cpu_shares / 1024 * config.cpu_quota_per_share))
    no_caps: list[str] = []
    mounts = container_mounts(config.tini, tmp_mb, etc_files, cgroup=True)
    process: dict[str, Any] = {
        "terminal": spec.tty,
        "user": {"uid": config.uid, "gid": config.gid, "additionalGids": [config.gid]},
        "args": [INIT_PATH, "-g", "--", "/bin/bash", "-c", PROFILE_WRAPPER, "dyno", spec.command],
        "env": [f"{k}={v}" for k, v in env.items()],
        "cwd": "/app",
        "capabilities": {"bounding": no_caps, "effective": no_caps, "inheritable": no_caps,
                         "permitted": no_caps, "ambient": no_caps},
        "rlimits": [
            {"type": "RLIMIT_NOFILE", "hard": config.nofile_limit, "soft": config.nofile_limit},
            {"type": "RLIMIT_CORE", "hard": 0, "soft": 0},
        ],
        "noNewPrivileges": True,
        "oomScoreAdj": 500,
    }
    if spec.tty:
        process["consoleSize"] = {"height": 24, "width": 80}
    resources: dict[str, Any] = {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": memory, "swap": memory},  # swap limit = memory + swap: no swap at all
        "cpu": cpu,
        "pids": {"limit": spec.size.pids_limit},
    }
    namespaces = [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}]
    return {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": str(rootfs), "readonly": False},
        "hostname": dyno_id,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": cgroup_path,
            "resources": resources,
            "namespaces": namespaces,
            "maskedPaths": _MASKED_PATHS,
            "readonlyPaths": _READONLY_PATHS,
            "seccomp": _seccomp(),
        },
    }
