"""Dyno sizes: the one table every component agrees on (formation, dyno manager, metering)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class DynoSize:
    name: str  # canonical display name, as Heroku writes it ("Standard-1X")
    memory_mb: int
    cpu_shares: int  # relative CPU weight; 1x = 1024
    pids_limit: int
    dedicated: bool = False

    @property
    def api_name(self) -> str:
        return self.name.lower()


DYNO_SIZES: dict[str, DynoSize] = {
    s.api_name: s
    for s in (
        DynoSize("Eco", 512, 1024, 256),
        DynoSize("Basic", 512, 1024, 256),
        DynoSize("Standard-1X", 512, 1024, 256),
        DynoSize("Standard-2X", 1024, 2048, 512),
        DynoSize("Performance-M", 2560, 12288, 16384, dedicated=True),
        DynoSize("Performance-L", 14336, 51200, 32768, dedicated=True),
    )
}

DEFAULT_SIZE = DYNO_SIZES["standard-1x"]


def find_size(name: str) -> DynoSize | None:
    """Look a size up by name, case-insensitively (`standard-2x`, `Standard-2X`, `2X`)."""
    key = name.strip().lower()
    if key in ("1x", "2x"):
        key = f"standard-{key}"
    return DYNO_SIZES.get(key)


def host_memory_mb() -> int:
    """This machine's memory: the largest dyno size it could run."""
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))
