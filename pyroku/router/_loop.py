"""Event loop factory: uvloop when installed (and asked for), else the stock asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pyroku.router._config import LoopKind
from pyroku.router._exceptions import RouterError


def loop_factory(kind: LoopKind = "auto") -> Callable[[], asyncio.AbstractEventLoop]:
    if kind != "asyncio":
        try:
            import uvloop
        except ImportError as exc:
            if kind == "uvloop":
                raise RouterError("uvloop is not installed") from exc
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop
