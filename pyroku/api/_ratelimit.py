"""Per-account token buckets, like Heroku's: a burst of `capacity`, refilled over an hour."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, capacity: int = 4500, period: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._rate = capacity / period
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refill(self, key: str) -> _Bucket:
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.capacity), now)
        else:
            bucket.tokens = min(float(self.capacity), bucket.tokens + (now - bucket.stamp) * self._rate)
            bucket.stamp = now
        return bucket

    def take(self, key: str) -> tuple[bool, int]:
        """Spend one request; returns (allowed, remaining)."""
        with self._lock:
            bucket = self._refill(key)
            if bucket.tokens < 1:
                return False, 0
            bucket.tokens -= 1
            return True, int(bucket.tokens)

    def remaining(self, key: str) -> int:
        with self._lock:
            return int(self._refill(key).tokens)
