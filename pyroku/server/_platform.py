"""The composition root: builds every component from the config and runs them on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator

import click
import uvicorn
from sqlalchemy import select
from starlette.types import ASGIApp, Receive, Scope, Send

from pyroku.api import ApiContext, PublicUrls, RateLimiter, blob_app, build_api, is_blob_path
from pyroku.build import BuildConfig, BuildService, SlugLimits
from pyroku.dynos import DynoControl, DynoManager, DynoView, Rendezvous
from pyroku.git import (
    GitEndpoint,
    PushReceiver,
    Repositories,
    TlsFiles,
    ensure_certificates,
    is_git_path,
    is_tls_path,
    operator_certificates,
    tls_info_app,
)
from pyroku.logs import DrainSpec, Logplex
from pyroku.runtime import (
    BuildRunner,
    BuildRuntimeConfig,
    ContainerRuntime,
    NetworkConfig,
    RuncBuildRunner,
    RuncRuntime,
    RuntimeConfig,
)
from pyroku.runtime.stack import DEFAULT_STACKS_DIR, STACK_NAME
from pyroku.server._config import ServerConfig
from pyroku.server._router_process import RouterProcess
from pyroku.server._routes import RoutesPublisher
from pyroku.slugs import LocalSlugStore
from pyroku.state import App, Database, DestroyedApp, Release, list_drains, list_formation

log = logging.getLogger("pyroku.server")


class Platform:
    """Everything `pyroku server` runs. Built synchronously; `run()` serves until stopped."""

    def __init__(self, config: ServerConfig, db: Database) -> None:
        self.config = config
        self.db = db
        data = config.data_dir
        self.logplex = Logplex(data / "logs")
        self.slugs = LocalSlugStore(data / "slugs")
        uploads = data / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        self.manager: DynoManager | None = None
        self.routes = RoutesPublisher(db, data / "routes.json", config.domain, self._routable, data / "certs")
        self.router = RouterProcess(
            ["--table", str(data / "routes.json"), "--port", str(config.router_port), "--host", config.api_host,
             "--log-socket", str(self.logplex.socket_path), "--metrics-dir", str(data),
             "--cert-dir", str(data / "router-certs"),
             *(["--https-port", str(config.router_https_port)] if config.router_https_port else [])],
            pid_file=data / "router.pid", log_file=data / "router.log",
        )
        self.rendezvous = Rendezvous(config.api_host, config.rendezvous_port)
        self.api = ApiContext(
            db=db,
            logplex=self.logplex,
            slugs=self.slugs,
            upload_dir=uploads,
            urls=PublicUrls(domain=config.domain, router_port=config.router_port),
            limiter=RateLimiter(config.rate_limit),
            on_change=self._app_changed,
            on_destroy=self._app_destroyed,
        )
        self._dynos_changed = asyncio.Event()
        runner = self._build_runner()
        self.builds = BuildService(
            db, self.slugs, runner, self._build_config(),
            announce=self.api.announce, on_change=self._app_changed, web_url=self.api.urls.web_url,
            wait_live=self._wait_live, unavailable=self._builds_unavailable,
        )
        self.repositories = Repositories(data / "repos")
        self.receiver = PushReceiver(data / "git.sock", self.repositories, self.builds)
        self.git = GitEndpoint(db, self.repositories, self.receiver)
        self.tls = self._tls_files()

    # ---- builds -------------------------------------------------------------------------------

    _builds_unavailable = ""

    def _build_config(self) -> BuildConfig:
        settings = self.config.builds
        mb = 1024 * 1024
        return BuildConfig.under(
            self.config.data_dir,
            timeout=settings.timeout,
            memory_mb=settings.memory_mb,
            max_concurrent=settings.max_concurrent,
            slug_limits=SlugLimits(max_bytes=settings.slug_max_mb * mb,
                                   warn_bytes=min(settings.slug_warn_mb, settings.slug_max_mb) * mb),
            local_buildpack_roots=settings.buildpack_dirs,
        )

    def _build_runner(self) -> BuildRunner | None:
        if self.config.runtime == "none":
            self._builds_unavailable = "the server was started with --runtime none"
            return None
        settings = self.config.builds
        try:
            return RuncBuildRunner(BuildRuntimeConfig(
                state_dir=self.config.runtime_dir / "builds",
                stack_dir=DEFAULT_STACKS_DIR / STACK_NAME,
                network=NetworkConfig(
                    subnet=settings.subnet, interface_prefix=settings.interface_prefix,
                    nft_table=settings.nft_table,
                    blocked_networks=("169.254.0.0/16", self.config.dyno_network.subnet),
                ),
                cgroup_parent="/" + settings.nft_table,
            ))
        except Exception as exc:  # the API still serves, and says why builds cannot run
            self._builds_unavailable = str(exc)
            click.echo(f"Builds are disabled: {exc}", err=True)
            return None

    async def _wait_live(self, app_id: str, version: int, timeout: float) -> list[str]:
        """Wait for release `version` to serve (its web dynos up) and say how it went."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._dynos_changed
            status, webs = await asyncio.to_thread(self._release_state, app_id, version)
            if status == "failed":
                return [f" !     Release v{version} failed in its release phase: the previous release keeps "
                        f"running. See `pyroku releases:output v{version}`."]
            if status == "succeeded":
                if webs == 0 or self.manager is None:
                    return []
                dynos = [d for d in self.manager.dynos(app_id) if d.type == "web" and not d.one_off
                         and d.release_version >= version]
                if any(d.state == "up" for d in dynos):
                    await asyncio.sleep(0.3)  # routers reload the published table within 250 ms
                    return []
                crashed = [d.name for d in dynos if d.state == "crashed"]
                if crashed and len(crashed) == len(dynos):
                    return [f" !     {', '.join(crashed)} crashed while starting: see `pyroku logs`."]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return [f" !     v{version} is not serving yet after {timeout:g} s: see `pyroku logs --tail`."]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))

    def _release_state(self, app_id: str, version: int) -> tuple[str, int]:
        with self.db.read() as session:
            release = session.scalar(select(Release).where(Release.app_id == app_id, Release.version == version))
            app = session.get(App, app_id)
            if release is None or app is None:
                return "failed", 0
            webs = sum(f.quantity for f in list_formation(session, app) if f.type == "web")
            return release.status, webs

    def _on_dynos_changed(self) -> None:
        self.routes.changed()
        self._dynos_changed.set()
        self._dynos_changed = asyncio.Event()

    def _serve(self) -> ASGIApp:
        """The API port: `/<app>.git/...` to the git endpoint, secret-URL blobs and build output
        beside the API, everything else to the API."""
        return _dispatch(build_api(self.api, self.builds), self.git, blob_app(self.builds, self.db),
                         tls_info_app(self.tls, self.config.tls_port))

    def _tls_files(self) -> TlsFiles | None:
        config = self.config
        if not config.tls_port:
            return None
        if config.tls_cert is not None and config.tls_key is not None:
            files = operator_certificates(config.tls_cert, config.tls_key)
        else:
            names = ["localhost", "127.0.0.1", config.api_host, config.domain]
            wildcard = ("0.0.0.0", "::")  # noqa: S104 - not names a client connects to
            files = ensure_certificates(config.data_dir / "tls", [n for n in names if n not in wildcard])
        where = f"; clients trust the platform CA {files.ca}" if files.ca else ""
        click.echo(f"HTTPS (API and git) on https://{config.api_host}:{config.tls_port}{where}")
        return files

    def _routable(self) -> dict[str, list[DynoView]]:
        return self.manager.routable() if self.manager else {}

    def _app_destroyed(self, destroyed: DestroyedApp) -> None:
        """What a destroyed app stored outside the database goes with it: its git repository, build
        cache and build output, and its slug archives. (The extracted slug trees its dynos may still
        be running from are left to the slug cache.)"""
        self.repositories.remove(destroyed.app_id)
        self.builds.forget_app(destroyed.app_id, destroyed.build_ids)
        for slug_id in destroyed.slug_ids:
            self.slugs.delete(slug_id)

    def _app_changed(self, app_id: str) -> None:
        if self.manager is not None:
            self.manager.app_changed(app_id)
        self.routes.changed()

    def _runtime(self) -> ContainerRuntime | None:
        if self.config.runtime == "none":
            self.api.dynos_unavailable = "started with --runtime none"
            return None
        net = self.config.dyno_network
        try:
            return RuncRuntime(
                RuntimeConfig(
                    state_dir=self.config.runtime_dir,
                    stack_dir=DEFAULT_STACKS_DIR / STACK_NAME,
                    slug_cache_dir=self.config.data_dir / "slug-cache",
                    network=NetworkConfig(subnet=net.subnet, interface_prefix=net.interface_prefix,
                                          nft_table=net.nft_table),
                    cgroup_parent="/" + net.nft_table,
                    # Heroku's memory model: over the size's quota is R14 (a warning the manager
                    # logs); the kernel kills at twice the quota, which the manager reports as R15.
                    memory_limit_factor=2.0,
                ),
                self.slugs,
            )
        except Exception as exc:  # any reason at all: the API still serves, and says why
            self.api.dynos_unavailable = str(exc)
            click.echo(f"Dynos are disabled: {exc}", err=True)
            return None

    def _restore_drains(self) -> None:
        with self.db.read() as session:
            by_app: dict[str, list[DrainSpec]] = {}
            for d in list_drains(session):
                by_app.setdefault(d.app_id, []).append(DrainSpec(d.id, d.url, d.token))
        for app_id, specs in by_app.items():
            self.logplex.set_drains(app_id, specs)

    async def run(self) -> None:
        app = self._serve()
        server = uvicorn.Server(uvicorn.Config(
            app, host=self.config.api_host, port=self.config.api_port,
            log_level="warning", access_log=False, lifespan="off",
            timeout_graceful_shutdown=5,  # `logs --tail` streams never end by themselves
        ))
        https: _Companion | None = None
        if self.tls is not None:
            https = _Companion(uvicorn.Config(
                app, host=self.config.api_host, port=self.config.tls_port, log_level="warning", access_log=False,
                lifespan="off", timeout_graceful_shutdown=5,
                ssl_certfile=str(self.tls.cert), ssl_keyfile=str(self.tls.key),
            ))

        def stop(_sig: int, _frame: object) -> None:
            # uvicorn handles the signal while serving and re-raises it when done; landing here
            # instead of the default handler lets the components below shut down cleanly.
            server.should_exit = True
            if https is not None:
                https.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        loop = asyncio.get_running_loop()
        await self.logplex.start()
        runtime = self._runtime()
        try:
            self._restore_drains()
            if runtime is not None:
                self.manager = DynoManager(self.db, runtime, self.logplex, self.config.dynos,
                                           on_routes_changed=self._on_dynos_changed)
                await self.rendezvous.start()
                await self.manager.start()
                self.api.dynos = DynoControl(self.manager, loop, self.rendezvous)
            await self.routes.start()
            await self.router.start()
            await self.builds.start()
            await self.receiver.start()
            serving_https = asyncio.ensure_future(https.serve()) if https is not None else None
            try:
                await server.serve()
            finally:
                if https is not None and serving_https is not None:
                    https.should_exit = True
                    with contextlib.suppress(Exception):
                        await serving_https
        finally:
            await self._shutdown(runtime)

    async def _shutdown(self, runtime: ContainerRuntime | None) -> None:
        """Stop the controller; dynos keep running for the next one to adopt."""
        with contextlib.suppress(Exception):
            await self.router.stop()
        await self.receiver.close()
        await self.builds.aclose()
        if self.manager is not None:
            await self.manager.close()
        await self.rendezvous.close()
        if runtime is not None:
            await runtime.aclose()
        await self.logplex.close()
        self.db.dispose()
        sys.stdout.flush()


class _Companion(uvicorn.Server):
    """A second listener (HTTPS) on the same loop: the main server owns the signals and stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _dispatch(
    api: ASGIApp, git: ASGIApp, blobs: ASGIApp, tls: ASGIApp
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if is_git_path(path):
            await git(scope, receive, send)
        elif is_blob_path(path):
            await blobs(scope, receive, send)
        elif is_tls_path(path):
            await tls(scope, receive, send)
        else:
            await api(scope, receive, send)

    return app


def run_platform(config: ServerConfig, db: Database) -> None:
    asyncio.run(Platform(config, db).run())
