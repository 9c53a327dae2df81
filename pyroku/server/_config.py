"""The server's settings, built once from flags and environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pyroku.dynos import ManagerConfig


def default_data_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/pyroku")
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local/share")) / "pyroku"


@dataclass(frozen=True)
class DynoNetwork:
    """The private subnet dynos get addresses from, and the names of its host-side plumbing.
    Two servers on one machine need different values (the tests do this)."""

    subnet: str = "10.213.0.0/16"
    interface_prefix: str = "pyk"
    nft_table: str = "pyroku"

    @classmethod
    def from_env(cls) -> DynoNetwork:
        return cls(
            subnet=os.environ.get("PYROKU_DYNO_SUBNET", cls.subnet),
            interface_prefix=os.environ.get("PYROKU_DYNO_INTERFACE_PREFIX", cls.interface_prefix),
            nft_table=os.environ.get("PYROKU_DYNO_NFT_TABLE", cls.nft_table),
        )


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
    runtime: Literal["runc", "none"] = "runc"
    runtime_dir: Path = Path("/run/pyroku/runtime")
    rendezvous_port: int = 0  # 0: any free port
    dyno_network: DynoNetwork = DynoNetwork()
    dynos: ManagerConfig | None = None  # the dyno manager's timings; None: Heroku's defaults

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pyroku.sqlite3'}"
