"""Per-app request metrics kept in memory and exported as JSON for ``pyroku metrics``.

Each router process counts requests, status classes, H-codes and a latency histogram (``service``
milliseconds) per app, and rewrites ``router-metrics-<worker>.json`` every few seconds; counters
start at zero when the process starts. :func:`read_metrics` merges the files of all workers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any, Final

BUCKETS_MS: Final[tuple[int, ...]] = (  # (not a fixed-size tuple type: compiled, that would be re-boxed per use)
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700,
    1000, 1500, 2000, 3000, 5000, 7000, 10_000, 15_000, 20_000, 30_000, 60_000,
)
"""Upper bounds (inclusive) of the latency buckets; one more bucket counts everything slower."""

_BUCKET_OF_MS: Final[tuple[int, ...]] = tuple(bisect_left(BUCKETS_MS, ms) for ms in range(1001))
"""The bucket of every latency up to a second, looked up rather than searched."""

FILE_PREFIX: Final = "router-metrics-"


class AppMetrics:
    """Counters of one app in one router process."""

    __slots__ = ("codes", "latency", "requests", "statuses")

    def __init__(self) -> None:
        self.requests = 0
        self.statuses = [0, 0, 0, 0, 0, 0]  # index = status // 100
        self.codes: dict[str, int] = {}
        self.latency = [0] * (len(BUCKETS_MS) + 1)

    def record(self, status: int, code: str | None, service_ms: int) -> None:
        self.requests += 1
        klass = status // 100
        if 0 < klass < 6:
            self.statuses[klass] += 1
        if code is not None:
            self.codes[code] = self.codes.get(code, 0) + 1
        if service_ms >= 0:
            fast = service_ms < len(_BUCKET_OF_MS)
            self.latency[_BUCKET_OF_MS[service_ms] if fast else bisect_left(BUCKETS_MS, service_ms)] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "status": {f"{k}xx": n for k, n in enumerate(self.statuses) if k and n},
            "codes": dict(self.codes),
            "latency_ms": {
                "buckets": list(BUCKETS_MS),
                "counts": list(self.latency),
                **percentiles(self.latency),
            },
        }


def percentiles(counts: list[int]) -> dict[str, int | None]:
    """p50/p95/p99 as the upper bound of the bucket holding them (None without samples)."""
    total = sum(counts)
    out: dict[str, int | None] = {}
    for name, fraction in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
        if not total:
            out[name] = None
            continue
        rank = fraction * total
        seen = 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= rank:
                out[name] = BUCKETS_MS[index] if index < len(BUCKETS_MS) else None
                break
    return out


def write_snapshot(path: Path, apps: dict[str, AppMetrics], worker: int,
                   extra: dict[str, Any] | None = None) -> None:
    """Atomically replace ``path`` with the current counters (``extra``: process-wide figures)."""
    body = {
        "worker": worker,
        "pid": os.getpid(),
        "updated_at": time.time(),
        **(extra or {}),
        "apps": {app_id: metrics.to_json() for app_id, metrics in apps.items() if metrics.requests},
    }
    data = json.dumps(body, separators=(",", ":")).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def metrics_path(directory: Path, worker: int) -> Path:
    return directory / f"{FILE_PREFIX}{worker}.json"


def read_metrics(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Merge every worker's snapshot in ``directory``.

    ``{"workers": n, "connections": n, "log_lines": {"shipped": n, "dropped": n}, "apps": {app_id: {
    "requests": n, "status": {"2xx": n, ...}, "codes": {"H12": n, ...}, "latency_ms": {"buckets": [...],
    "counts": [...], "p50": ms, "p95": ms, "p99": ms}}}}``; counters restart with each router process.
    """
    merged: dict[str, dict[str, Any]] = {}
    workers = 0
    connections = 0
    log_lines = {"shipped": 0, "dropped": 0}
    for path in sorted(Path(directory).glob(f"{FILE_PREFIX}*.json")):
        try:
            snapshot = json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        workers += 1
        connections += snapshot.get("connections", 0)
        for key in log_lines:
            log_lines[key] += snapshot.get("log_lines", {}).get(key, 0)
        for app_id, app in snapshot.get("apps", {}).items():
            into = merged.setdefault(app_id, {"requests": 0, "status": {}, "codes": {},
                                              "latency_ms": {"buckets": list(BUCKETS_MS),
                                                             "counts": [0] * (len(BUCKETS_MS) + 1)}})
            into["requests"] += app["requests"]
            for key in ("status", "codes"):
                for name, count in app[key].items():
                    into[key][name] = into[key].get(name, 0) + count
            counts = app["latency_ms"]["counts"]
            if len(counts) == len(into["latency_ms"]["counts"]):
                into["latency_ms"]["counts"] = [a + b for a, b in zip(into["latency_ms"]["counts"], counts,
                                                                       strict=True)]
    for app in merged.values():
        app["latency_ms"].update(percentiles(app["latency_ms"]["counts"]))
    return {"workers": workers, "connections": connections, "log_lines": log_lines, "apps": merged}
