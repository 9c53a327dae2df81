"""The slug compiler: sources built by buildpacks (classic API) in build containers into slugs and releases.

:class:`BuildService` is what the rest of the platform uses: the git endpoint and the Build API
hand it a :class:`BuildRequest` and a :class:`Source`; it serialises builds per app, runs the
:class:`SlugCompiler`, stores the slug and creates the release. Buildpacks are resolved by
:func:`resolve_buildpack` into :class:`Buildpack` objects; the bundled ones (python, nodejs,
static, procfile) live in ``pyroku/build/buildpacks``.
"""

from pyroku.build._buildpacks import (
    BUNDLED_ORDER,
    Buildpack,
    BundledBuildpack,
    LocalBuildpack,
    LocalGitBuildpack,
    RemoteBuildpack,
    bundled_buildpacks,
    bundled_name,
    resolve_buildpack,
)
from pyroku.build._compiler import CompiledApp, CompileRequest, SlugCompiler
from pyroku.build._config import BuildConfig, SlugLimits
from pyroku.build._exceptions import (
    BuildBusy,
    BuildError,
    BuildFailed,
    BuildsUnavailable,
    BuildTimeout,
    CompileFailed,
    InvalidBuildpack,
    NoProcessTypes,
    ProcfileError,
    SlugTooLarge,
    SourceError,
)
from pyroku.build._output import BuildLog, BuildOutputs
from pyroku.build._procfile import merge_process_types, parse_procfile, parse_release
from pyroku.build._service import BuildOutcome, BuildRequest, BuildService, WaitLive, describe_buildpack
from pyroku.build._slug import PackedSlug, pack_slug
from pyroku.build._slugignore import apply_slugignore, parse_slugignore
from pyroku.build._sources import GitSource, Source, SourceBlobs, TarballSource

__all__ = [
    "BUNDLED_ORDER",
    "BuildBusy",
    "BuildConfig",
    "BuildError",
    "BuildFailed",
    "BuildLog",
    "BuildOutcome",
    "BuildOutputs",
    "BuildRequest",
    "BuildService",
    "BuildTimeout",
    "Buildpack",
    "BuildsUnavailable",
    "BundledBuildpack",
    "CompileFailed",
    "CompileRequest",
    "CompiledApp",
    "GitSource",
    "InvalidBuildpack",
    "LocalBuildpack",
    "LocalGitBuildpack",
    "NoProcessTypes",
    "PackedSlug",
    "ProcfileError",
    "RemoteBuildpack",
    "SlugCompiler",
    "SlugLimits",
    "SlugTooLarge",
    "Source",
    "SourceBlobs",
    "SourceError",
    "TarballSource",
    "WaitLive",
    "apply_slugignore",
    "bundled_buildpacks",
    "bundled_name",
    "describe_buildpack",
    "merge_process_types",
    "pack_slug",
    "parse_procfile",
    "parse_release",
    "parse_slugignore",
    "resolve_buildpack",
]
