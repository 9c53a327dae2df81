"""Which cgroup layout the host has (v1, v2, or hybrid), which engine can use it, and reading a dyno's memory.

Hybrid hosts (v1 controllers plus a cgroup2 mount at ``/sys/fs/cgroup/unified``) break crun when
any controller is attached to the v2 mount; runc copes. Pure v2 and pure v1 work with both.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pyroku.runtime._exceptions import RuntimeUnavailable
from pyroku.runtime.types import MemoryUsage

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupLayout:
    version: Literal[1, 2]  # the hierarchy holding the memory and pids controllers
    unified_mount: Path | None  # the cgroup2 mount (the root itself on pure v2)
    unified_controllers: frozenset[str]  # controllers attached to the cgroup2 mount

    @property
    def hybrid(self) -> bool:
        return self.version == 1 and self.unified_mount is not None

    @property
    def crun_compatible(self) -> bool:
        return not (self.hybrid and self.unified_controllers)

    def memory_dir(self, cgroup_path: str) -> Path:
        base = CGROUP_ROOT / "memory" if self.version == 1 else CGROUP_ROOT
        return base / cgroup_path.lstrip("/")

    def procs_file(self, cgroup_path: str) -> Path:
        base = CGROUP_ROOT / "pids" if self.version == 1 else CGROUP_ROOT
        return base / cgroup_path.lstrip("/") / "cgroup.procs"


def _mounts(mountinfo: str) -> list[tuple[Path, str, str]]:
    """(mount point, fstype, super options) of every cgroup mount."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        try:
            sep = fields.index("-")
        except ValueError:
            continue
        fstype = fields[sep + 1]
        if fstype in ("cgroup", "cgroup2"):
            found.append((Path(fields[4]), fstype, fields[sep + 3] if len(fields) > sep + 3 else ""))
    return found


def detect_layout(mountinfo: str | None = None) -> CgroupLayout:
    if mountinfo is None:
        mountinfo = Path("/proc/self/mountinfo").read_text()
    mounts = _mounts(mountinfo)
    unified = next((point for point, fstype, _ in mounts if fstype == "cgroup2"), None)
    has_v1_memory = any(fstype == "cgroup" and "memory" in opts.split(",") for _, fstype, opts in mounts)
    controllers: frozenset[str] = frozenset()
    if unified is not None:
        try:
            controllers = frozenset((unified / "cgroup.controllers").read_text().split())
        except OSError:
            controllers = frozenset()
    if has_v1_memory:
        return CgroupLayout(1, unified, controllers)
    if unified == CGROUP_ROOT:
        return CgroupLayout(2, unified, controllers)
    raise RuntimeUnavailable("no usable cgroup hierarchy: neither a v1 memory controller nor cgroup2 at /sys/fs/cgroup")


def choose_engine(preference: str, layout: CgroupLayout) -> tuple[str, str]:
    """(engine name, binary path): crun when it can handle the layout, else runc."""
    crun = shutil.which("crun")
    runc = shutil.which("runc")
    if preference == "crun":
        if crun is None:
            raise RuntimeUnavailable("crun is not installed")
        if not layout.crun_compatible:
            raise RuntimeUnavailable(
                "crun cannot run on this hybrid cgroup host: controllers "
                f"{sorted(layout.unified_controllers)} are attached to the cgroup2 mount; use runc"
            )
        return "crun", crun
    if preference == "runc":
        if runc is None:
            raise RuntimeUnavailable("runc is not installed")
        return "runc", runc
    if crun is not None and layout.crun_compatible:
        return "crun", crun
    if runc is not None:
        return "runc", runc
    raise RuntimeUnavailable("neither runc nor crun is installed (apt-get install runc)")


def _stat(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.isdigit():
            out[key] = int(value)
    return out


def _read_int(path: Path, default: int = 0) -> int:
    try:
        text = path.read_text().strip()
    except OSError:
        return default
    return int(text) if text.isdigit() else default


def memory_usage(layout: CgroupLayout, cgroup_path: str) -> MemoryUsage | None:
    """Memory charged to the cgroup; tmpfs pages (shmem) count as RSS: no swap can take them away."""
    directory = layout.memory_dir(cgroup_path)
    try:
        stat = _stat(directory / "memory.stat")
    except OSError:
        return None
    if layout.version == 1:
        shmem = stat.get("total_shmem", stat.get("shmem", 0))
        rss = stat.get("total_rss", 0) + shmem
        cache = max(stat.get("total_cache", 0) - shmem, 0)
        swap = stat.get("total_swap", 0)
        limit = _read_int(directory / "memory.limit_in_bytes")
    else:
        shmem = stat.get("shmem", 0)
        rss = stat.get("anon", 0) + shmem
        cache = max(stat.get("file", 0) - shmem, 0)
        swap = _read_int(directory / "memory.swap.current")
        limit = _read_int(directory / "memory.max")
    return MemoryUsage(rss=rss, cache=cache, swap=swap, limit=limit)
