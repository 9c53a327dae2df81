"""What the API needs from the rest of the platform, built once by the server."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from pyroku.api._ratelimit import RateLimiter
from pyroku.state import Database


@dataclass(frozen=True)
class PublicUrls:
    """How users reach the platform: apps at http://APP.DOMAIN:PORT/."""

    domain: str = "localhost"
    router_port: int = 8080

    def web_url(self, app_name: str) -> str:
        port = "" if self.router_port == 80 else f":{self.router_port}"
        return f"http://{app_name}.{self.domain}{port}/"


@dataclass
class ApiContext:
    db: Database
    urls: PublicUrls = field(default_factory=PublicUrls)
    limiter: RateLimiter = field(default_factory=RateLimiter)


def context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx


def git_url(request: Request, app_name: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/{app_name}.git"


def default_hostname(request: Request, app_name: str) -> str:
    return f"{app_name}.{context(request).urls.domain}"
