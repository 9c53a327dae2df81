"""The composition root: builds every component from the config and runs them on one loop."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from pyroku.api import ApiContext, PublicUrls, RateLimiter, build_api
from pyroku.logs import DrainSpec, Logplex
from pyroku.server._config import ServerConfig
from pyroku.slugs import LocalSlugStore
from pyroku.state import Database, list_drains

log = logging.getLogger("pyroku.server")


class Platform:
    """Everything `pyroku server` runs. Built synchronously; `run()` serves until stopped."""

    def __init__(self, config: ServerConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.logplex = Logplex(config.data_dir / "logs")
        self.slugs = LocalSlugStore(config.data_dir / "slugs")
        uploads = config.data_dir / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        self.api = ApiContext(
            db=db,
            logplex=self.logplex,
            slugs=self.slugs,
            upload_dir=uploads,
            urls=PublicUrls(domain=config.domain, router_port=config.router_port),
            limiter=RateLimiter(config.rate_limit),
        )

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
        await self.logplex.start()
        try:
            self._restore_drains()
            await server.serve()
        finally:
            await self.logplex.close()
            self.db.dispose()


def run_platform(config: ServerConfig, db: Database) -> None:
    asyncio.run(Platform(config, db).run())
