"""The build service: builds apps into slugs and releases, one build per app at a time.

A build is recorded first (``pending``), then waits for its app's lock (pushes to one app are
serialised) and for one of ``max_concurrent`` slots (different apps build in parallel), then runs:
source → slug compiler → slug store → release. Its output goes to its log file and, line by line,
to whoever started it (a ``git push`` sees it as ``remote:`` lines). A failed build changes nothing
but its own record: the running release stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from pyroku._files import delete_tree
from pyroku.build._buildpacks import Buildpack, bundled_name, resolve_buildpack
from pyroku.build._compiler import CompiledApp, CompileRequest, SlugCompiler
from pyroku.build._config import MB, BuildConfig
from pyroku.build._exceptions import BuildError, BuildFailed, BuildsUnavailable, InvalidBuildpack
from pyroku.build._output import BuildOutputs
from pyroku.build._slug import PackedSlug, pack_slug
from pyroku.build._sources import Source, SourceBlobs
from pyroku.runtime import BuildRunner
from pyroku.slugs import SlugStore
from pyroku.state import (
    App,
    Database,
    Release,
    Slug,
    User,
    create_build,
    create_slug,
    current_config,
    discard_slug,
    fail_pending_builds,
    find_app,
    finish_build,
    list_buildpacks,
    mark_uploaded,
    release_slug,
)

log = logging.getLogger("pyroku.build")

Say = Callable[[str], None]
# (app id, release version, timeout) → lines telling how the release went live
WaitLive = Callable[[str, int, float], Awaitable[list[str]]]
_FAILED: Final = " !     "


@dataclass(frozen=True)
class BuildRequest:
    """What to build for whom. ``buildpacks`` None means the app's own list (or detection)."""

    app_id: str
    user_id: str
    source: Source
    source_url: str | None = None
    source_version: str | None = None
    source_checksum: str | None = None
    buildpacks: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BuildOutcome:
    build_id: str
    succeeded: bool
    release_version: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class _AppInfo:
    name: str
    email: str
    config: dict[str, str]
    buildpacks: list[str]


def describe_buildpack(url: str) -> dict[str, str]:
    """A buildpack as the API shows it: ``{url, name}`` (bundled ones by their ``heroku/`` name)."""
    name = bundled_name(url)
    return {"url": url, "name": f"heroku/{name}" if name else url}


def _noop(*_args: object) -> None:
    return None


class BuildService:
    """Runs builds on the event loop it is started on (``start()``)."""

    def __init__(
        self,
        db: Database,
        slugs: SlugStore,
        runner: BuildRunner | None,
        config: BuildConfig,
        *,
        announce: Callable[[str, str], None] = _noop,
        on_change: Callable[[str], None] = _noop,
        web_url: Callable[[str], str] = lambda name: f"http://{name}.localhost/",
        wait_live: WaitLive | None = None,
        unavailable: str = "",
    ) -> None:
        self._db = db
        self._slugs = slugs
        self._runner = runner
        self._config = config
        self._announce = announce
        self._on_change = on_change
        self._web_url = web_url
        self._wait_live = wait_live
        self.unavailable = unavailable or ("" if runner is not None else "this server runs no containers")
        self._compiler = SlugCompiler(runner, config) if runner is not None else None
        self.outputs = BuildOutputs(config.output_dir)
        self.sources = SourceBlobs(config.sources_dir)
        self._locks: dict[str, asyncio.Lock] = {}
        self._slots = asyncio.Semaphore(config.max_concurrent)
        self._tasks: set[asyncio.Task[BuildOutcome]] = set()
        for directory in (config.work_dir, config.cache_dir):
            directory.mkdir(parents=True, exist_ok=True)
        config.work_dir.chmod(0o711)

    @property
    def config(self) -> BuildConfig:
        return self._config

    async def start(self) -> None:
        """Forget what a previous server left: builds it never finished, their work directories."""
        def forget() -> int:
            with self._db.write() as session:
                return fail_pending_builds(session)

        stale = await asyncio.to_thread(forget)
        if stale:
            log.warning("marked %d builds of a previous run as failed", stale)
        for leftover in self._config.work_dir.iterdir():
            await asyncio.to_thread(shutil.rmtree, leftover, True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    # -- what callers use ------------------------------------------------------------------------

    def resolve(self, urls: list[str] | tuple[str, ...]) -> list[Buildpack]:
        """The buildpacks named; :class:`InvalidBuildpack` for one the platform cannot use."""
        return [resolve_buildpack(url, self._config.local_buildpack_roots) for url in urls]

    async def create(self, request: BuildRequest) -> str:
        """Record a pending build and open its output; returns its id."""
        if self._compiler is None:
            raise BuildsUnavailable(f"Builds are not available: {self.unavailable}.")
        if request.buildpacks is not None:
            self.resolve(request.buildpacks)

        def record() -> str:
            with self._db.write() as session:
                app = session.get(App, request.app_id)
                user = session.get(User, request.user_id)
                if app is None or user is None:
                    raise BuildError("the app or the user of this build no longer exists")
                urls = (list(request.buildpacks) if request.buildpacks is not None
                        else [b.url for b in list_buildpacks(session, app)])
                build = create_build(
                    session, app, user, stack=self._config.stack,
                    buildpacks=[describe_buildpack(u) for u in urls],
                    source_url=request.source_url, source_version=request.source_version,
                    source_checksum=request.source_checksum,
                )
                return build.id

        build_id = await asyncio.to_thread(record)
        self.outputs.open(build_id)
        return build_id

    def submit(self, build_id: str, request: BuildRequest) -> None:
        """Run a created build in the background (the Build API's way)."""
        task = asyncio.ensure_future(self.execute(build_id, request, _noop))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def execute(
        self,
        build_id: str,
        request: BuildRequest,
        say: Say,
    ) -> BuildOutcome:
        """Run a created build to its end, saying each line of its output."""
        log_file = self.outputs.live(build_id)

        def emit(line: str) -> None:
            if log_file is not None:
                log_file.line(line)
            with contextlib.suppress(Exception):
                say(line)

        outcome = BuildOutcome(build_id, False)
        try:
            async with self._app_lock(request.app_id, emit), self._slot(emit):
                outcome = await self._build(build_id, request, emit)
        except BuildFailed as exc:
            for line in str(exc).splitlines():
                emit(_FAILED + line)
            outcome = BuildOutcome(build_id, False, error=str(exc))
        except asyncio.CancelledError:
            emit(_FAILED + "Build cancelled.")
            await asyncio.shield(self._finish(build_id, request.app_id, "failed"))
            self.outputs.close(build_id)
            raise
        except Exception as exc:
            log.exception("build %s failed", build_id)
            emit(_FAILED + "Build failed because of a platform error; try again or ask your operator.")
            outcome = BuildOutcome(build_id, False, error=f"platform error: {exc}")
        if not outcome.succeeded:
            await self._finish(build_id, request.app_id, "failed")
        self.outputs.close(build_id)
        return outcome

    async def follow(self, build_id: str, *, live: bool = True) -> AsyncIterator[bytes]:
        async for chunk in self.outputs.follow(build_id, live=live):
            yield chunk

    def running(self, build_id: str) -> bool:
        return self.outputs.live(build_id) is not None

    async def purge_cache(self, app_id: str) -> None:
        """Empty the app's build cache (a build running now keeps what it already opened)."""
        await asyncio.to_thread(delete_tree, self._cache_dir(app_id))

    def forget_app(self, app_id: str, build_ids: tuple[str, ...]) -> None:
        """Delete a destroyed app's build cache and the output of its builds (blocking)."""
        delete_tree(self._cache_dir(app_id))
        for build_id in build_ids:
            self.outputs.remove(build_id)

    # -- the build -------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _app_lock(self, app_id: str, emit: Say) -> AsyncIterator[None]:
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        if lock.locked():
            emit("-----> Another build of this app is running: this one waits for it to finish")
        async with lock:
            yield

    @contextlib.asynccontextmanager
    async def _slot(self, emit: Say) -> AsyncIterator[None]:
        if self._slots.locked():
            emit(f"-----> Waiting for a build slot ({self._config.max_concurrent} builds run at a time)")
        async with self._slots:
            yield

    def _cache_dir(self, app_id: str) -> Path:
        if not app_id or "/" in app_id or app_id.startswith("."):
            raise ValueError(f"invalid app id {app_id!r}")
        return self._config.cache_dir / app_id

    async def _build(self, build_id: str, request: BuildRequest, emit: Say) -> BuildOutcome:
        assert self._compiler is not None
        config = self._config
        info = await asyncio.to_thread(self._load, request)
        urls = list(request.buildpacks) if request.buildpacks is not None else info.buildpacks
        try:
            packs = self.resolve(urls)
        except InvalidBuildpack as exc:
            raise BuildFailed(str(exc)) from exc
        self._announce(request.app_id, f"Build started by user {info.email}")
        emit(f"-----> Building on the {config.stack} stack")
        if packs:
            emit("-----> Using buildpack" + ("s:" if len(packs) > 1 else f": {packs[0].url}"))
            if len(packs) > 1:
                for number, pack in enumerate(packs, start=1):
                    emit(f"       {number}. {pack.url}")
        work = config.work_dir / build_id
        try:
            await asyncio.to_thread(self._make_work_dir, work)
            await request.source.unpack(work / "app", config.uid, config.gid)
            compiled = await self._compiler.compile(CompileRequest(
                build_id=build_id, work_dir=work, cache_dir=self._cache_dir(request.app_id),
                config_vars=info.config, buildpacks=packs, source_version=request.source_version,
            ), emit)
            emit("-----> Compressing...")
            slug_id = await asyncio.to_thread(self._register_slug, request, compiled)
            try:
                packed = await asyncio.to_thread(
                    pack_slug, work, slug_id, self._slugs, config.slug_limits,
                    uid=config.uid, gid=config.gid, level=config.compression_level,
                )
            except BaseException:
                await asyncio.shield(asyncio.to_thread(self._discard_slug, slug_id))
                raise
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, work, True))
        emit(f"       Done: {packed.size / MB:.1f}M")
        if packed.size > config.slug_limits.warn_bytes:
            emit(f"{_FAILED}Warning: Your slug size ({packed.size // MB} MB) exceeds our soft limit "
                 f"({config.slug_limits.warn_bytes // MB} MB) which may affect boot time.")
        emit("-----> Launching...")
        release = await asyncio.to_thread(self._release, build_id, request, slug_id, packed)
        self._announce(request.app_id, "Build succeeded")
        self._announce(request.app_id, f"{release.description} by user {info.email}")
        self._announce(request.app_id, f"Release v{release.version} created by user {info.email}")
        self._on_change(request.app_id)
        if release.status == "pending":
            emit(f"       Released v{release.version}: running its release phase (Procfile `release:`)")
        else:
            emit(f"       Released v{release.version}")
        emit(f"       {self._web_url(info.name)} deployed to Pyroku")
        if self._wait_live is not None:
            for line in await self._wait_live(request.app_id, release.version, config.live_timeout):
                emit(line)
        return BuildOutcome(build_id, True, release.version)

    # -- state -----------------------------------------------------------------------------------

    def _load(self, request: BuildRequest) -> _AppInfo:
        with self._db.read() as session:
            user = session.get(User, request.user_id)
            if user is None:
                raise BuildFailed("The user of this build no longer exists.")
            app = find_app(session, user, request.app_id)
            return _AppInfo(
                name=app.name, email=user.email, config=current_config(session, app),
                buildpacks=[b.url for b in list_buildpacks(session, app)],
            )

    def _make_work_dir(self, work: Path) -> None:
        work.mkdir(mode=0o711)
        (work / "app").mkdir(mode=0o755)
        os.lchown(work / "app", self._config.uid, self._config.gid)

    def _register_slug(self, request: BuildRequest, compiled: CompiledApp) -> str:
        with self._db.write() as session:
            user = session.get(User, request.user_id)
            if user is None:
                raise BuildFailed("The user of this build no longer exists.")
            app = find_app(session, user, request.app_id, lock=True)
            slug, _token = create_slug(
                session, app, compiled.process_types, commit=request.source_version,
                buildpack_provided_description=compiled.description or None,
            )
            return slug.id

    def _discard_slug(self, slug_id: str) -> None:
        with contextlib.suppress(Exception):
            self._slugs.delete(slug_id)
        with self._db.write() as session:
            discard_slug(session, slug_id)

    def _release(self, build_id: str, request: BuildRequest, slug_id: str, packed: PackedSlug) -> Release:
        with self._db.write() as session:
            user = session.get(User, request.user_id)
            if user is None:
                raise BuildFailed("The user of this build no longer exists.")
            app = find_app(session, user, request.app_id, lock=True)
            slug = _slug(session, slug_id)
            mark_uploaded(session, slug, packed.checksum, packed.size)
            release, _scaled = release_slug(session, app, user, slug_id)
            finish_build(session, build_id, "succeeded", slug_id=slug_id, release_id=release.id)
            return release

    async def _finish(self, build_id: str, app_id: str, status: str) -> None:
        def record() -> None:
            with self._db.write() as session:
                finish_build(session, build_id, status)

        try:
            await asyncio.to_thread(record)
        except Exception:
            log.exception("recording the end of build %s failed", build_id)
        if status == "failed":
            self._announce(app_id, "Build failed")


def _slug(session: Session, slug_id: str) -> Slug:
    slug = session.get(Slug, slug_id)
    if slug is None:
        raise BuildError(f"slug {slug_id} vanished")
    return slug
