"""WebSocket (and any Upgrade) pass-through as a raw pipe, under the same timeouts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from pyroku.router import Timeouts
from tests.router._support import LOOPS, app, fields, router, run, table


async def _echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@pytest.mark.parametrize("loop", LOOPS)
def test_websocket_echo_through_the_router(tmp_path: Path, loop: str) -> None:
    async def scenario() -> None:
        async with serve(_echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            routing = table(app("myapp", port, hostnames=("127.0.0.1",)))
            async with router(tmp_path, routing) as r:
                async with connect(f"ws://127.0.0.1:{r.port}/chat", additional_headers={"X-Test": "1"}) as ws:
                    for text in ("hello", "x" * 100_000):
                        await ws.send(text)
                        assert await ws.recv() == text
                    await ws.send(b"\x00binary")
                    assert await ws.recv() == b"\x00binary"
                line = await r.line()
                assert fields(line)["status"] == "101"
                assert fields(line)["path"] == "/chat"

    run(scenario, loop)


def test_websocket_idle_is_closed(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with serve(_echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            routing = table(app("myapp", port, hostnames=("127.0.0.1",)))
            async with router(tmp_path, routing, Timeouts(idle=0.3)) as r, \
                    connect(f"ws://127.0.0.1:{r.port}/", ping_interval=None) as ws:
                await ws.send("ping")
                assert await ws.recv() == "ping"
                await asyncio.sleep(0.8)
                with pytest.raises(Exception):  # noqa: B017 - closed abnormally, any websockets error
                    await ws.send("late")
                    await asyncio.wait_for(ws.recv(), 2)

    run(scenario)


def test_upgrade_refused_by_the_dyno_is_a_normal_response(tmp_path: Path) -> None:
    async def scenario() -> None:
        from tests.router._support import backend

        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            client = await r.client()
            response = await client.request(headers=[("Connection", "Upgrade"), ("Upgrade", "websocket")])
            assert response.status == 200
            seen = dict((k.lower(), v) for k, v in response.json()["headers"])
            assert seen["upgrade"] == "websocket" and seen["connection"] == "Upgrade"
            assert response.header("connection") == "close"
            assert await client.closed()
            await client.close()

    run(scenario)
