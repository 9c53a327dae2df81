"""Web dynos: $PORT binding as the boot check sees it, and requests from the host (the router's path)."""

from __future__ import annotations

import httpx
import pytest

from tests.runtime.conftest import Harness, eventually

pytestmark = pytest.mark.anyio


async def test_port_binding_detected_and_http_from_the_host(harness: Harness) -> None:
    handle = await harness.runtime.start(harness.spec("sleep 1; exec python3 -m http.server $PORT", port=5000))
    assert handle.address is not None
    host, port = handle.address
    assert port == 5000 and host.startswith("10.214.")
    assert not await harness.runtime.bound(handle.id, 5000)  # still sleeping
    await eventually(lambda: harness.runtime.bound(handle.id, 5000), what="$PORT to be bound")
    assert not await harness.runtime.bound(handle.id, 5001)
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://{host}:{port}/index.html")
    assert response.status_code == 200
    assert response.text == "hello from the slug\n"


async def test_ipv6_wildcard_binding_counts(harness: Harness) -> None:
    handle = await harness.runtime.start(
        harness.spec("exec python3 -m http.server --bind :: $PORT", port=5000)
    )
    await eventually(lambda: harness.runtime.bound(handle.id, 5000), what="[::]:$PORT to be bound")


async def test_loopback_binding_does_not_count(harness: Harness) -> None:
    spec = harness.spec("python3 -m http.server --bind 127.0.0.1 $PORT & sleep 1; echo up; wait", port=5000)
    handle = await harness.runtime.start(spec)
    await eventually(lambda: _said(harness, spec), what="the server to start")
    # the router could not reach a server on the dyno's loopback: not bound, R10 eventually
    assert not await harness.runtime.bound(handle.id, 5000)


async def _said(harness: Harness, spec: object) -> bool:
    return "up" in harness.output(spec)  # type: ignore[arg-type]
