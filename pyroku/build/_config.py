"""Settings of the slug compiler, built once at the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from pyroku.runtime import STACK_NAME
from pyroku.runtime.stack import DYNO_GID, DYNO_UID

MB: Final = 1024 * 1024
HOST_CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclass(frozen=True)
class SlugLimits:
    """Compressed slug size: a warning above ``warn_bytes``, a failed build above ``max_bytes``."""

    max_bytes: int = 500 * MB
    warn_bytes: int = 300 * MB

    def __post_init__(self) -> None:
        if not 0 < self.warn_bytes <= self.max_bytes:
            raise ValueError("the slug warning size must be positive and at most the maximum size")


@dataclass(frozen=True)
class BuildConfig:
    """Where builds keep their files and what each may use.

    ``work_dir`` holds one directory per running build (source, buildpacks, results), removed
    afterwards; ``cache_dir`` one cache per app, kept between builds; ``output_dir`` each build's
    output; ``sources_dir`` uploaded source tarballs (``POST /sources``). ``local_buildpack_roots``
    are the host directories buildpacks may be taken from by path or ``file://`` URL (none by
    default). ``ca_bundle`` is the CA bundle builds trust (the host's, so registries behind a
    TLS-inspecting proxy work); ``None`` keeps the stack's own.
    """

    work_dir: Path
    cache_dir: Path
    output_dir: Path
    sources_dir: Path
    timeout: float = 15 * 60.0
    memory_mb: int = 2048
    max_concurrent: int = 2
    slug_limits: SlugLimits = field(default_factory=SlugLimits)
    local_buildpack_roots: tuple[Path, ...] = ()
    ca_bundle: Path | None = HOST_CA_BUNDLE
    stack: str = STACK_NAME
    uid: int = DYNO_UID
    gid: int = DYNO_GID
    compression_level: int = 3
    live_timeout: float = 90.0  # how long a push waits for the new release's web dynos

    @classmethod
    def under(cls, data_dir: Path, **settings: object) -> BuildConfig:
        """The default layout inside the platform's data directory."""
        return cls(
            work_dir=data_dir / "build-work", cache_dir=data_dir / "build-cache",
            output_dir=data_dir / "build-output", sources_dir=data_dir / "sources",
            **settings,  # type: ignore[arg-type]
        )

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError("the build time limit must be positive")
        if self.memory_mb < 128:
            raise ValueError("builds need at least 128 MB of memory")
        if self.max_concurrent < 1:
            raise ValueError("at least one build must be able to run")
        if not 1 <= self.compression_level <= 9:
            raise ValueError("the slug compression level is 1-9")
