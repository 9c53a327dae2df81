"""The router's settings, built once at the entry point into small frozen value objects.

Heroku's timeouts and limits are fixed; they are fields here only so tests can shorten them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

LoopKind = Literal["auto", "uvloop", "asyncio"]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. Defaults are Heroku's router timeouts."""

    connect: float = 5.0
    """TCP connect to a dyno; the dyno is then quarantined and another one tried (H19)."""
    quarantine: float = 5.0
    """How long a dyno that failed to accept a connection is skipped by this router process."""
    first_byte: float = 30.0
    """From the whole request written to the dyno until its first response byte (H12)."""
    idle: float = 55.0
    """Rolling idle window once the response started, or while the client sends its body (H15, H28)."""
    boot: float = 75.0
    """How long a request waits for a ``starting`` dyno to come ``up`` (H20)."""
    keepalive: float = 60.0
    """An idle client connection (between requests, or before the first one) is closed silently."""
    pool_idle: float = 90.0
    """A pooled keep-alive connection to a dyno is closed silently when unused this long."""
    tls_handshake: float = 10.0
    shutdown_grace: float = 10.0
    """On SIGTERM, in-flight requests get this long to finish."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Bytes and counts. Defaults are Heroku's router limits."""

    request_line: int = 8192
    header_line: int = 8192
    header_name: int = 1000
    headers: int = 1000
    response_header_line: int = 512 * 1024
    response_head: int = 1024 * 1024
    set_cookie: int = 8192
    status_line: int = 8192
    response_buffer: int = 1024 * 1024
    """Response bytes held for a slow client before the dyno is paused."""
    request_buffer: int = 64 * 1024
    """Request bytes held for a slow dyno (or while connecting) before the client is paused."""
    requests_per_dyno: int = 200
    """In-flight requests per app and router process: this many times the number of web dynos (H11)."""
    connect_attempts: int = 10
    idle_connections_per_dyno: int = 128


@dataclass(frozen=True, slots=True)
class RouterConfig:
    """Everything one router process needs. Port 0 binds a free port (tests)."""

    table_path: Path
    port: int = 8080
    host: str = "127.0.0.1"
    https_port: int | None = None
    workers: int = 1
    log_socket: Path | None = None
    """logplex's ingestion socket (Unix stream, octet-counted RFC 5424 frames)."""
    log_stdout: bool = False
    """Also print request log lines on stdout (debugging)."""
    cert_dir: Path | None = None
    """Where the default self-signed certificate is kept; default: ``router-certs`` next to the table."""
    metrics_dir: Path | None = None
    """Where ``router-metrics-<worker>.json`` is written; default: the table's directory."""
    metrics_interval: float = 5.0
    table_poll_interval: float = 0.25
    log_flush_interval: float = 0.1
    public_http_port: int | None = None
    """``X-Forwarded-Port`` for plain HTTP when a load balancer maps another port onto ours."""
    public_https_port: int | None = None
    loop: LoopKind = "auto"
    timeouts: Timeouts = field(default_factory=Timeouts)
    limits: Limits = field(default_factory=Limits)

    @property
    def effective_cert_dir(self) -> Path:
        return self.cert_dir or self.table_path.parent / "router-certs"

    @property
    def effective_metrics_dir(self) -> Path:
        return self.metrics_dir or self.table_path.parent
