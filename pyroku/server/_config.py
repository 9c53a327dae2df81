"""The server's settings, built once from flags and environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/pyroku")
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "pyroku"


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 5000
    router_port: int = 8080
    domain: str = "localhost"
    database_url: str | None = None
    rate_limit: int = 4500  # API requests per account per hour
    admin_email: str | None = None
    admin_password: str | None = None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pyroku.sqlite3'}"
