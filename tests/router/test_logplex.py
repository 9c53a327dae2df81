"""Request log lines reach the real logplex over its ingestion socket, as ``heroku[router]`` lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pyroku.logs import Logplex
from pyroku.router import read_metrics
from tests.router._support import app, backend, router, run, table


def test_router_lines_land_in_the_app_history(tmp_path: Path) -> None:
    async def scenario() -> None:
        logplex = Logplex(tmp_path / "logs", socket_path=tmp_path / "lp.sock")
        await logplex.start()
        try:
            async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port)), own_sink=True,
                                                 log_socket=tmp_path / "lp.sock", log_flush_interval=0.02) as r:
                for i in range(3):
                    assert (await r.get(f"/page{i}")).status == 200
                assert (await r.get(host="myapp.localhost", headers=[("Expect", "nope")])).status == 417
                deadline = asyncio.get_running_loop().time() + 5
                while len(logplex.history("id-myapp")) < 4:
                    assert asyncio.get_running_loop().time() < deadline, logplex.history("id-myapp")
                    await asyncio.sleep(0.02)
                r.router.write_metrics()
            lines = logplex.history("id-myapp")
            assert [(line.source, line.process) for line in lines] == [("heroku", "router")] * 4
            assert [line.message.split(" path=")[1].split()[0] for line in lines[:3]] == [
                '"/page0"', '"/page1"', '"/page2"']
            assert lines[0].message.startswith("at=info method=GET ")
            assert lines[3].message.startswith('at=error code=H26 desc="Request Error"')
            assert lines[0].timestamp <= lines[3].timestamp
            metrics = read_metrics(tmp_path)
            assert metrics["log_lines"] == {"shipped": 4, "dropped": 0}
        finally:
            await logplex.close()

    run(scenario)
