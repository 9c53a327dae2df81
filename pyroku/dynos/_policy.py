"""Timing policy of the dyno manager: boot and stop limits, crash backoff, daily cycling."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ManagerConfig:
    """Heroku's numbers by default; tests shorten them.

    Crash restarts: the first crash of a dyno restarts it at once; each further crash within
    `backoff_reset` seconds of the last start waits `backoff_base` seconds, doubling up to
    `backoff_max` (defaults: 20 s, 40 s, 80 s, … capped at 20 minutes — Heroku documents 10 min
    doubling to 24 h, which leaves a self-hosted app down for hours after a bad boot). A new
    release, or a dyno that stayed up for `backoff_reset` seconds, starts the count again.
    """

    boot_timeout: float = 60.0  # web dynos must bind $PORT within this (R10)
    stop_grace: float = 30.0  # SIGTERM → SIGKILL (R12)
    backoff_base: float = 20.0
    backoff_max: float = 20 * 60.0
    backoff_reset: float = 10 * 60.0
    cycle_base: float = 24 * 3600.0  # daily restart: base + uniform(0, cycle_jitter)
    cycle_jitter: float = 216 * 60.0
    tick: float = 0.25  # how often timers (boot, backoff, cycling, memory) are checked
    memory_check: float = 5.0  # R14 sampling period
    memory_warn_every: float = 30.0
    route_propagation: float = 1.0  # routers re-read the table within this; old web dynos wait it out
    release_phase_timeout: float = 3600.0  # a release command still running is stopped: release failed


_ENV = {
    "boot_timeout": "PYROKU_DYNO_BOOT_TIMEOUT",
    "stop_grace": "PYROKU_DYNO_STOP_GRACE",
    "backoff_base": "PYROKU_DYNO_BACKOFF_BASE",
    "backoff_max": "PYROKU_DYNO_BACKOFF_MAX",
    "cycle_base": "PYROKU_DYNO_CYCLE_SECONDS",
    "cycle_jitter": "PYROKU_DYNO_CYCLE_JITTER",
}


def config_from_env(environ: Mapping[str, str]) -> ManagerConfig:
    """The defaults, with any of PYROKU_DYNO_BOOT_TIMEOUT, _STOP_GRACE, _BACKOFF_BASE, _BACKOFF_MAX,
    _CYCLE_SECONDS, _CYCLE_JITTER (seconds) overriding them."""
    values: dict[str, float] = {}
    for field_name, variable in _ENV.items():
        raw = environ.get(variable)
        if raw is None:
            continue
        try:
            values[field_name] = float(raw)
        except ValueError:
            raise ValueError(f"{variable} must be a number of seconds, not {raw!r}") from None
        if values[field_name] < 0:
            raise ValueError(f"{variable} must not be negative")
    return ManagerConfig(**values)


def restart_delay(config: ManagerConfig, crashes: int) -> float:
    """Seconds to wait before restarting after the `crashes`-th crash in a row (1-based)."""
    if crashes <= 1:
        return 0.0
    return float(min(config.backoff_max, config.backoff_base * 2 ** (crashes - 2)))


def cycle_after(config: ManagerConfig, rng: random.Random | None = None) -> float:
    return config.cycle_base + (rng or random).uniform(0, config.cycle_jitter)
