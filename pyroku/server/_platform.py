"""The composition root: builds every component from the config and runs them on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import click
import uvicorn

from pyroku.api import ApiContext, PublicUrls, RateLimiter, build_api
from pyroku.dynos import DynoControl, DynoManager, DynoView, Rendezvous
from pyroku.logs import DrainSpec, Logplex
from pyroku.runtime import ContainerRuntime, NetworkConfig, RuncRuntime, RuntimeConfig
from pyroku.runtime.stack import DEFAULT_STACKS_DIR, STACK_NAME
from pyroku.server._config import ServerConfig
from pyroku.server._router_process import RouterProcess
from pyroku.server._routes import RoutesPublisher
from pyroku.slugs import LocalSlugStore
from pyroku.state import Database, list_drains

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
        self.routes = RoutesPublisher(db, data / "routes.json", config.domain, self._routable)
        self.router = RouterProcess(
            ["--table", str(data / "routes.json"), "--port", str(config.router_port), "--host", config.api_host,
             "--log-socket", str(self.logplex.socket_path), "--metrics-dir", str(data)],
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
        )

    def _routable(self) -> dict[str, list[DynoView]]:
        return self.manager.routable() if self.manager else {}

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
        server = uvicorn.Server(uvicorn.Config(
            build_api(self.api), host=self.config.api_host, port=self.config.api_port,
            log_level="warning", access_log=False, lifespan="off",
        ))

        def stop(_sig: int, _frame: object) -> None:
            # uvicorn handles the signal while serving and re-raises it when done; landing here
            # instead of the default handler lets the components below shut down cleanly.
            server.should_exit = True

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, stop)
        loop = asyncio.get_running_loop()
        await self.logplex.start()
        runtime = self._runtime()
        try:
            self._restore_drains()
            if runtime is not None:
                self.manager = DynoManager(self.db, runtime, self.logplex, self.config.dynos,
                                           on_routes_changed=self.routes.changed)
                await self.rendezvous.start()
                await self.manager.start()
                self.api.dynos = DynoControl(self.manager, loop, self.rendezvous)
            await self.routes.start()
            await self.router.start()
            await server.serve()
        finally:
            await self._shutdown(runtime)

    async def _shutdown(self, runtime: ContainerRuntime | None) -> None:
        """Stop the controller; dynos keep running for the next one to adopt."""
        with contextlib.suppress(Exception):
            await self.router.stop()
        if self.manager is not None:
            await self.manager.close()
        await self.rendezvous.close()
        if runtime is not None:
            await runtime.aclose()
        await self.logplex.close()
        self.db.dispose()
        sys.stdout.flush()


def run_platform(config: ServerConfig, db: Database) -> None:
    asyncio.run(Platform(config, db).run())
