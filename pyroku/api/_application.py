"""The ASGI application of the Platform API."""

from __future__ import annotations

from fastapi import FastAPI

from pyroku import __version__
from pyroku.api import _accounts, _apps, _builds, _certs, _domains, _dynos, _logs, _slugs
from pyroku.api._context import ApiContext
from pyroku.api._errors import install_error_handlers
from pyroku.api._middleware import ApiConventions
from pyroku.api._render import STACK
from pyroku.build import BuildService
from pyroku.sizes import DYNO_SIZES


def build_api(ctx: ApiContext, builds: BuildService | None = None) -> FastAPI:
    """The API; without `builds` (a server that runs no builds) the build endpoints answer 422."""
    api = FastAPI(
        title="Pyroku Platform API",
        version=__version__,
        description="Heroku Platform API v3 compatible. Send `Accept: application/vnd.heroku+json; version=3`.",
        redoc_url=None,
    )
    api.state.ctx = ctx
    api.state.builds = builds
    install_error_handlers(api)
    api.include_router(_accounts.router)
    api.include_router(_apps.router)
    api.include_router(_domains.router)
    api.include_router(_certs.router)
    api.include_router(_logs.router)
    api.include_router(_slugs.router)
    api.include_router(_dynos.router)
    api.include_router(_builds.router)
    api.mount("/log-stream", ctx.logplex.asgi_app())

    @api.get("/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @api.get("/stacks")
    def stacks() -> list[dict[str, object]]:
        return [{**STACK, "state": "default", "default": True}]

    @api.get("/dyno-sizes")
    def dyno_sizes() -> list[dict[str, object]]:
        return [
            {"name": s.api_name, "memory": s.memory_mb / 1024, "dedicated_size": s.dedicated,
             "compute": s.cpu_shares // 1024, "dyno_units": s.cpu_shares // 1024,
             "private_space_only": False, "precise_dyno_units": s.cpu_shares / 1024}
            for s in DYNO_SIZES.values()
        ]

    api.add_middleware(ApiConventions, ctx=ctx)
    return api
