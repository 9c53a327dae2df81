"""What the API needs from the rest of the platform, built once by the server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request

from pyroku.api._ratelimit import RateLimiter
from pyroku.dynos import DynoControl
from pyroku.logs import Logplex
from pyroku.slugs import SlugStore
from pyroku.state import Database, DestroyedApp, Release


@dataclass(frozen=True)
class PublicUrls:
    """How users reach the platform: apps at http://APP.DOMAIN:PORT/."""

    domain: str = "localhost"
    router_port: int = 8080

    def web_url(self, app_name: str) -> str:
        port = "" if self.router_port == 80 else f":{self.router_port}"
        return f"http://{app_name}.{self.domain}{port}/"


def _ignore(_app_id: str) -> None:
    return None


def _keep(_destroyed: DestroyedApp) -> None:
    return None


@dataclass(frozen=True)
class Limits:
    slug_max_bytes: int = 500 * 1024 * 1024
    slug_warn_bytes: int = 300 * 1024 * 1024


@dataclass
class ApiContext:
    db: Database
    logplex: Logplex
    slugs: SlugStore
    upload_dir: Path
    limits: Limits = field(default_factory=Limits)
    dynos: DynoControl | None = None  # None when this server cannot run dynos
    dynos_unavailable: str = ""  # …and why
    urls: PublicUrls = field(default_factory=PublicUrls)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # Called after a committed change to an app's desired state (release, formation, domains,
    # maintenance, destroy) so the managers reconcile it now rather than at their next sweep.
    on_change: Callable[[str], None] = _ignore
    # Called after an app was destroyed, to delete what it stored outside the database.
    on_destroy: Callable[[DestroyedApp], None] = _keep

    def announce(self, app_id: str, *messages: str) -> None:
        """Platform events, as `app[api]` lines in the app's log."""
        for message in messages:
            self.logplex.publish(app_id, "app", "api", message)

    def released(self, release: Release, email: str) -> None:
        """A new release: logged as Heroku does, and the managers told."""
        self.announce(release.app_id, f"{release.description} by user {email}",
                      f"Release v{release.version} created by user {email}")
        self.on_change(release.app_id)


def context(request: Request) -> ApiContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, ApiContext)
    return ctx


def git_url(request: Request, app_name: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/{app_name}.git"


def default_hostname(request: Request, app_name: str) -> str:
    return f"{app_name}.{context(request).urls.domain}"
