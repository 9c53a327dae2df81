"""Per-app request metrics, exported as JSON next to the table."""

from __future__ import annotations

from pathlib import Path

from pyroku.router import read_metrics
from tests.router._support import app, backend, router, run, table


def test_metrics_count_statuses_codes_and_latency(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with backend() as dyno:
            routing = table(app("myapp", dyno.port), app("down", web_quantity=0))
            async with router(tmp_path, routing) as r:
                for _ in range(5):
                    assert (await r.get()).status == 200
                for _ in range(2):
                    assert (await r.get(host="down.localhost")).status == 503
                r.router.write_metrics()
        metrics = read_metrics(tmp_path)
        assert metrics["workers"] == 1
        up = metrics["apps"]["id-myapp"]
        assert up["requests"] == 5
        assert up["status"] == {"2xx": 5}
        assert sum(up["latency_ms"]["counts"]) == 5
        assert up["latency_ms"]["p50"] is not None
        down = metrics["apps"]["id-down"]
        assert down["codes"] == {"H14": 2}
        assert down["status"] == {"5xx": 2}
        assert sum(down["latency_ms"]["counts"]) == 0

    run(scenario)
