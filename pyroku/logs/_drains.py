"""Drain workers: one per drain, buffering 1,024 lines and delivering them through a :class:`LogDrain`.

When a drain cannot keep up (receiver slow or down), the oldest buffered lines are dropped and the
next batch that goes out starts with ``heroku[logplex]: Error L10 (output buffer overflow): N
messages dropped since <ts>.``. Failed deliveries are retried with exponential backoff and jitter.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pyroku.logs._drain_url import DrainTarget
from pyroku.logs._lines import format_seconds
from pyroku.logs.types import DrainSpec, LogLine

logger = logging.getLogger("pyroku.logs")


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """How drains deliver. Defaults follow Heroku's logplex except for backoff, which starts at 1 s
    (logplex: 30 s) so a receiver that comes back is served soon, doubling up to 300 s."""

    buffer_lines: int = 1_024
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    connect_timeout: float = 5.0  # syslog drains (HTTP: http_connect_timeout)
    send_timeout: float = 4.0  # syslog: a write must drain within this
    http_connect_timeout: float = 3.0
    http_timeout: float = 5.0
    http_retries: int = 2  # extra attempts for one HTTP batch (same Logplex-Frame-Id), then it counts as dropped
    syslog_batch_bytes: int = 4 * 1024
    http_batch_bytes: int = 100 * 1024
    close_grace: float = 2.0  # on Logplex.close(), how long drains may take to flush


class DrainUnavailable(Exception):
    """Delivery failed in a way worth retrying. ``certificate_error`` is set when TLS validation failed."""

    def __init__(self, message: str, certificate_error: str | None = None) -> None:
        super().__init__(message)
        self.certificate_error = certificate_error


class DrainRejected(Exception):
    """The receiver refused the batch for good (HTTP 4xx other than 429): it is dropped."""


class LogDrain(Protocol):
    """A drain backend: delivers batches of lines to one receiver."""

    batch_bytes: int
    retries: int | None  # extra attempts per batch before it counts as dropped; None: until delivered

    async def send(self, lines: Sequence[LogLine]) -> None:
        """Deliver ``lines`` (the same sequence again on retry). Raises DrainUnavailable or DrainRejected."""
        ...

    async def aclose(self) -> None: ...


class DrainWorker:
    """Runs one drain on the event loop: buffer, batch, deliver, back off, report losses."""

    def __init__(
        self,
        app_id: str,
        spec: DrainSpec,
        target: DrainTarget,
        drain: LogDrain,
        settings: DrainSettings,
        on_certificate_error: Callable[[str, DrainTarget, str], None],
    ) -> None:
        self.app_id = app_id
        self.spec = spec
        self.target = target
        self._drain = drain
        self._settings = settings
        self._on_certificate_error = on_certificate_error
        self._buffer: deque[LogLine] = deque()
        self._dropped = 0  # not yet reported by an L10 line
        self._dropped_since: datetime | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._backing_off = False
        self.delivered = 0
        self.dropped_total = 0

    def offer(self, line: LogLine) -> None:
        buffer = self._buffer
        if len(buffer) >= self._settings.buffer_lines:
            buffer.popleft()
            self._count_dropped(1)
        buffer.append(line)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"log drain {self.spec.id} of {self.app_id}"
            )

    def cancel(self) -> asyncio.Task[None] | None:
        """Stop at once, discarding what is buffered (the drain was removed)."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
        return self._task

    async def close(self, grace: float) -> None:
        """Flush what is buffered for up to ``grace`` seconds, then stop."""
        self._stopping = True
        self._wake()
        if self._task is None:
            await self._drain.aclose()
            return
        if self._backing_off:
            self._task.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            self._task.cancel()
            await asyncio.wait({self._task})

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _count_dropped(self, count: int) -> None:
        if not self._dropped:
            self._dropped_since = datetime.now(UTC)
        self._dropped += count
        self.dropped_total += count

    def _overflow_line(self) -> LogLine:
        since = self._dropped_since or datetime.now(UTC)
        message = f"Error L10 (output buffer overflow): {self._dropped} messages dropped since {format_seconds(since)}."
        return LogLine(datetime.now(UTC), "heroku", "logplex", message)

    def _take(self) -> list[LogLine]:
        buffer = self._buffer
        limit = self._drain.batch_bytes
        batch = [buffer.popleft()]
        size = len(batch[0].message) + 100
        while buffer and size < limit:
            line = buffer.popleft()
            batch.append(line)
            size += len(line.message) + 100
        return batch

    async def _run(self) -> None:
        try:
            while True:
                try:
                    await self._deliver()
                    return
                except Exception:  # a bug, not a delivery problem: keep the drain alive, slowly
                    logger.exception("log drain %s of app %s failed", self.target.redacted, self.app_id)
                    if self._stopping:
                        return
                    await asyncio.sleep(self._settings.backoff_max / 10)
        finally:
            await self._drain.aclose()

    async def _deliver(self) -> None:
        settings = self._settings
        backoff = settings.backoff_initial
        certificate_reported = False
        while True:
            if not self._buffer and (not self._dropped or self._stopping):
                if self._stopping:
                    return
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
                continue
            # With nothing buffered but losses unreported, the batch is the L10 notice alone.
            batch = self._take() if self._buffer else []
            reported = self._dropped
            payload = [self._overflow_line(), *batch] if reported else batch
            attempts = 0
            while True:
                try:
                    await self._drain.send(payload)
                except DrainRejected as exc:
                    logger.warning("log drain %s rejected %d lines: %s", self.target.redacted, len(batch), exc)
                    self._reported(reported)
                    break
                except DrainUnavailable as exc:
                    attempts += 1
                    logger.info("log drain %s unavailable: %s", self.target.redacted, exc)
                    if exc.certificate_error is not None and not certificate_reported:
                        certificate_reported = True
                        self._on_certificate_error(self.app_id, self.target, exc.certificate_error)
                    if self._stopping:
                        return
                    retries = self._drain.retries
                    if retries is not None and attempts > retries:
                        self._count_dropped(len(batch))
                        break
                    self._backing_off = True
                    try:
                        await asyncio.sleep(backoff * random.uniform(0.75, 1.0))
                    finally:
                        self._backing_off = False
                    backoff = min(backoff * 2, settings.backoff_max)
                    if self._stopping:
                        return
                else:
                    self._reported(reported)
                    self.delivered += len(batch)
                    backoff = settings.backoff_initial
                    certificate_reported = False
                    break

    def _reported(self, count: int) -> None:
        self._dropped -= count
        if not self._dropped:
            self._dropped_since = None
