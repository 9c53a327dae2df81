"""The server's settings, built once from flags and environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
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


def _paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(p) for p in text.split(":") if p.strip())


@dataclass(frozen=True)
class BuildSettings:
    """How builds run: limits, where buildpacks may come from on this host, and the build
    containers' own network (a subnet, interface prefix and nftables table apart from the dynos')."""

    timeout: float = 15 * 60.0
    max_concurrent: int = 2
    memory_mb: int = 2048
    slug_max_mb: int = 500
    slug_warn_mb: int = 300
    buildpack_dirs: tuple[Path, ...] = ()
    subnet: str = "10.212.0.0/16"
    interface_prefix: str = "pkb"
    nft_table: str = "pyroku_build"

    @classmethod
    def from_env(cls, **overrides: float | int) -> BuildSettings:
        env = os.environ
        settings = cls(
            memory_mb=int(env.get("PYROKU_BUILD_MEMORY_MB", cls.memory_mb)),
            slug_warn_mb=int(env.get("PYROKU_SLUG_WARN_MB", cls.slug_warn_mb)),
            buildpack_dirs=_paths(env.get("PYROKU_BUILDPACK_DIRS", "")),
            subnet=env.get("PYROKU_BUILD_SUBNET", cls.subnet),
            interface_prefix=env.get("PYROKU_BUILD_INTERFACE_PREFIX", cls.interface_prefix),
            nft_table=env.get("PYROKU_BUILD_NFT_TABLE", cls.nft_table),
        )
        return replace(settings, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    api_host: str = "127.0.0.1"
    api_port: int = 5000
    router_port: int = 8080
    router_https_port: int = 8443  # 0: no HTTPS listener
    domain: str = "localhost"
    database_url: str | None = None
    rate_limit: int = 4500  # API requests per account per hour
    admin_email: str | None = None
    admin_password: str | None = None
    runtime: Literal["runc", "none"] = "runc"
    runtime_dir: Path = Path("/run/pyroku/runtime")
    rendezvous_port: int = 0  # 0: any free port
    dyno_network: DynoNetwork = DynoNetwork()
    builds: BuildSettings = BuildSettings()
    tls_port: int = 0  # HTTPS for the API and git: 0 is off
    tls_cert: Path | None = None  # the operator's own certificate (else one from the platform CA)
    tls_key: Path | None = None
    dynos: ManagerConfig | None = None  # the dyno manager's timings; None: Heroku's defaults

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'pyroku.sqlite3'}"
