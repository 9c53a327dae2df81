"""Configuration of the runc/crun runtime, built once at the entry point."""

from __future__ import annotations

import ipaddress
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pyroku.runtime.stack import DEFAULT_STACKS_DIR, DYNO_GID, DYNO_UID, STACK_NAME

Engine = Literal["auto", "runc", "crun"]

DEFAULT_STATE_DIR: Final = Path("/run/pyroku/runtime")
DEFAULT_SLUG_CACHE_DIR: Final = Path("/var/lib/pyroku/slug-cache")


@dataclass(frozen=True)
class NetworkConfig:
    """The private IPv4 subnet the platform owns for dynos and how it is fenced in.

    Each dyno gets a /30 of ``subnet`` (host side ``.1``, dyno ``.2``) on a veth pair named
    ``<interface_prefix><12 hex>``; one nftables table (``nft_table``, family inet) keeps dynos
    from reaching each other, the host, and ``blocked_networks``, and masquerades their outbound
    traffic when ``nat`` is set (which also turns on ``net.ipv4.ip_forward``).
    """

    subnet: str = "10.213.0.0/16"
    interface_prefix: str = "pyk"
    nft_table: str = "pyroku"
    nat: bool = True
    dns_servers: tuple[str, ...] | None = None  # None: the host's non-loopback nameservers
    blocked_networks: tuple[str, ...] = ("169.254.0.0/16",)  # link-local, cloud metadata services

    def __post_init__(self) -> None:
        net = ipaddress.IPv4Network(self.subnet, strict=True)
        if net.prefixlen > 29:
            raise ValueError(f"dyno subnet {self.subnet} is too small (at most /29)")
        if not re.fullmatch(r"[a-z][a-z0-9]{0,2}", self.interface_prefix):
            raise ValueError("interface_prefix must be 1-3 lowercase letters/digits, starting with a letter")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", self.nft_table):
            raise ValueError(f"invalid nftables table name {self.nft_table!r}")
        for blocked in self.blocked_networks:
            ipaddress.ip_network(blocked, strict=False)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def slots(self) -> int:
        return int(self.network.num_addresses // 4)


@dataclass(frozen=True)
class RuntimeConfig:
    """Where the runtime keeps things and how it builds containers.

    ``state_dir`` holds one directory per dyno (bundle, supervisor records, control socket), the
    engine's own state and address leases; it may be a tmpfs (dynos do not survive a reboot).
    ``scratch_mb``/``tmp_mb`` cap the tmpfs under the dyno's writable root and ``/tmp`` (both
    charged to the dyno's memory; ``None`` means the dyno's memory size). ``cpu_quota_per_share``
    turns CPU shares into a hard quota (1024 shares = that many CPUs); ``None`` leaves bursting
    unlimited. ``memory_limit_factor`` sets the kernel's hard limit (no swap) relative to the size's
    memory: 1.0 kills at the quota; 2.0 leaves room to warn (R14) and kill on policy (R15) first.
    ``cgroup_parent`` groups all dynos' cgroups.
    """

    state_dir: Path = DEFAULT_STATE_DIR
    stack_dir: Path = DEFAULT_STACKS_DIR / STACK_NAME
    slug_cache_dir: Path = DEFAULT_SLUG_CACHE_DIR
    engine: Engine = "auto"
    network: NetworkConfig = field(default_factory=NetworkConfig)
    cgroup_parent: str = "/pyroku"
    scratch_mb: int | None = None
    tmp_mb: int | None = None
    cpu_quota_per_share: float | None = 1.0
    memory_limit_factor: float = 1.0
    nofile_limit: int = 10_000
    uid: int = DYNO_UID
    gid: int = DYNO_GID
    tini: Path = Path("/usr/bin/tini-static")
    python: str = sys.executable
    start_timeout: float = 60.0
    slug_cache_grace: float = 600.0
    """An extracted slug no dyno has used for this long is deleted (a restart within it reuses it)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"(/[A-Za-z0-9_.-]+)+", self.cgroup_parent):
            raise ValueError(f"invalid cgroup_parent {self.cgroup_parent!r}")
        if self.uid == 0 or self.gid == 0:
            raise ValueError("dynos never run as root")
        if not 1.0 <= self.memory_limit_factor <= 4.0:
            raise ValueError("memory_limit_factor must be between 1 and 4")
        if self.slug_cache_grace < 0:
            raise ValueError("slug_cache_grace cannot be negative")
