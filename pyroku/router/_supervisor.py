"""Several router processes on one port (SO_REUSEPORT), kept alive like gunicorn's arbiter.

Signal handlers only enqueue; the loop reaps exited workers, restarts them with a backoff when
they die young, and on SIGTERM/SIGINT stops them: SIGTERM, the grace period, then SIGKILL.
"""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyroku.router._config import RouterConfig
from pyroku.router._server import run_worker
from pyroku.router._tls import ensure_default_cert

logger = logging.getLogger("pyroku.router")

_YOUNG = 10.0  # a worker dying sooner than this after its start counts as a boot failure
_MAX_BACKOFF = 30.0


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = field(default=0.0)


def run(config: RouterConfig, worker_argv: Sequence[str]) -> int:
    """Serve with ``config.workers`` processes; ``worker_argv`` is the command line of a worker
    minus ``--worker-index``. Returns the exit status."""
    if config.https_port is not None:
        ensure_default_cert(config.effective_cert_dir)  # once, before workers race for it
    if config.workers <= 1:
        run_worker(config, 0)
        return 0
    return _Arbiter(config, list(worker_argv)).run()


class _Arbiter:
    def __init__(self, config: RouterConfig, argv: list[str]) -> None:
        self._config = config
        self._argv = argv
        self._signals: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._workers = [_Worker(index) for index in range(config.workers)]

    def _enqueue(self, signum: int, frame: object) -> None:
        self._signals.put(signum)

    def _spawn(self, worker: _Worker) -> None:
        argv = [sys.executable, "-m", "pyroku.router", *self._argv, "--worker-index", str(worker.index)]
        worker.process = subprocess.Popen(argv)
        worker.started = time.monotonic()

    def run(self) -> int:
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(handled, self._enqueue)
        for worker in self._workers:
            self._spawn(worker)
        while True:
            now = time.monotonic()
            pending = [w.restart_at for w in self._workers if w.process is None]
            timeout = max(0.0, min(pending) - now) if pending else None
            try:
                received = self._signals.get(timeout=timeout)
            except queue.Empty:
                received = 0
            if received in (signal.SIGTERM, signal.SIGINT):
                return self._stop()
            self._reap()
            now = time.monotonic()
            for worker in self._workers:
                if worker.process is None and worker.restart_at <= now:
                    self._spawn(worker)

    def _reap(self) -> None:
        now = time.monotonic()
        for worker in self._workers:
            process = worker.process
            if process is None or process.poll() is None:
                continue
            worker.process = None
            worker.failures = worker.failures + 1 if now - worker.started < _YOUNG else 0
            delay = 0.0 if worker.failures <= 1 else min(_MAX_BACKOFF, 2.0 ** (worker.failures - 1))
            worker.restart_at = now + delay
            logger.warning("router worker %d exited with %s; restarting in %.0f s",
                           worker.index, process.returncode, delay)

    def _stop(self) -> int:
        running = [w.process for w in self._workers if w.process is not None]
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._config.timeouts.shutdown_grace + 5
        for process in running:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return 0
