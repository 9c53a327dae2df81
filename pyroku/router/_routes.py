"""The routing table compiled for lookups, plus the per-app and per-dyno state that outlives a version.

:class:`RouteState` holds the current :class:`Routes` (hostname → :class:`AppEntry`), the
:class:`Backend` of every dyno address (its pool and quarantine), and per-app counters (in-flight
requests for H11, metrics). Updating the table swaps the compiled routes, keeps the state of
addresses and apps that remain, retires the others, and wakes requests waiting for a dyno.
"""

from __future__ import annotations

import asyncio
import random
from typing import Final

from pyroku.router._config import Limits
from pyroku.router._metrics import AppMetrics
from pyroku.router._upstream import Backend
from pyroku.router.table import AppRoute, RoutingTable

# What an app's state makes of a request before any dyno is chosen.
ROUTE: Final = "route"
WAIT: Final = "wait"  # no dyno up yet, but some are starting (or not listed yet): queue up to 75 s


class AppState:
    """Per-app counters of this router process; survives table versions."""

    __slots__ = ("app_id", "inflight", "metrics")

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.inflight = 0
        self.metrics = AppMetrics()


class Dyno:
    __slots__ = ("backend", "name")

    def __init__(self, name: str, backend: Backend) -> None:
        self.name = name.encode("ascii", "replace")  # bytes: it goes into log lines as is
        self.backend = backend


class AppEntry:
    """One app in one table version, ready for routing."""

    __slots__ = ("app_id", "cap", "decision", "route", "state", "up")

    def __init__(self, app_id: str, route: AppRoute, state: AppState, up: list[Dyno], limits: Limits) -> None:
        self.app_id = app_id
        self.route = route
        self.state = state
        self.up = up
        self.cap = limits.requests_per_dyno * max(1, len(route.dynos), route.web_quantity)
        if route.maintenance:
            self.decision = "H80"
        elif not route.released:
            self.decision = "H81"
        elif route.web_quantity <= 0:
            self.decision = "H14"
        elif up:
            self.decision = ROUTE
        elif not route.dynos or any(d.state == "starting" for d in route.dynos):
            self.decision = WAIT
        else:
            self.decision = "H10"

    def pick(self, now: float, exclude: set[Backend] | None = None) -> Dyno | None:
        """A random ``up`` dyno, avoiding quarantined ones and ``exclude`` while others remain."""
        up = self.up
        if not up:
            return None
        dyno = random.choice(up) if len(up) > 1 else up[0]
        backend = dyno.backend
        if backend.quarantined_until <= now and (exclude is None or backend not in exclude):
            return dyno
        fresh = [d for d in up if d.backend.quarantined_until <= now and (exclude is None or d.backend not in exclude)]
        if fresh:
            return random.choice(fresh)
        untried = [d for d in up if exclude is None or d.backend not in exclude]
        return random.choice(untried) if untried else None


class Routes:
    """Hostname lookups for one table version."""

    __slots__ = ("by_host", "by_id", "version", "wildcards")

    def __init__(self, version: int = 0) -> None:
        self.version = version
        self.by_host: dict[bytes, AppEntry] = {}
        self.wildcards: dict[bytes, AppEntry] = {}
        self.by_id: dict[str, AppEntry] = {}

    def lookup(self, host: bytes) -> AppEntry | None:
        """``host`` is lowercase, without port or trailing dot."""
        entry = self.by_host.get(host)
        if entry is None and self.wildcards:
            dot = host.find(b".")
            if dot > 0:
                entry = self.wildcards.get(host[dot + 1 :])
        return entry


class RouteState:
    """The live routing state of one router process."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.table = RoutingTable()
        self.routes = Routes()
        self.backends: dict[tuple[str, int], Backend] = {}
        self.apps: dict[str, AppState] = {}
        self._changed: asyncio.Future[None] | None = None

    def update(self, table: RoutingTable) -> None:
        """Switch to ``table`` and wake every request waiting for a change."""
        routes = Routes(table.version)
        backends: dict[tuple[str, int], Backend] = {}
        for app_id, app in table.apps.items():
            state = self.apps.get(app_id)
            if state is None:
                state = self.apps[app_id] = AppState(app_id)
            up = []
            for dyno in app.dynos:
                key = (dyno.host, dyno.port)
                backend = backends.get(key) or self.backends.get(key)
                if backend is None:
                    backend = Backend(dyno.host, dyno.port, self.limits.idle_connections_per_dyno)
                backends[key] = backend
                if dyno.state == "up":
                    up.append(Dyno(dyno.name, backend))
            entry = AppEntry(app_id, app, state, up, self.limits)
            routes.by_id[app_id] = entry
            for hostname in app.hostnames:
                name = hostname.lower().rstrip(".").encode("idna" if not hostname.isascii() else "ascii")
                if name.startswith(b"*."):
                    routes.wildcards.setdefault(name[2:], entry)
                else:
                    routes.by_host.setdefault(name, entry)
        for key, backend in self.backends.items():
            if key not in backends:
                backend.retire()
        for app_id in [app_id for app_id, state in self.apps.items()
                       if app_id not in table.apps and not state.inflight]:
            if not self.apps[app_id].metrics.requests:
                del self.apps[app_id]
        self.backends = backends
        self.table = table
        self.routes = routes
        changed = self._changed
        self._changed = None
        if changed is not None and not changed.done():
            changed.set_result(None)

    def changed(self) -> asyncio.Future[None]:
        """A future resolved at the next :meth:`update`."""
        if self._changed is None:
            self._changed = asyncio.get_running_loop().create_future()
        return self._changed

    def sweep(self, older_than: float) -> None:
        for backend in self.backends.values():
            if backend.idle:
                backend.sweep(older_than)
