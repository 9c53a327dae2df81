"""The Platform API (Heroku v3 shapes) as an ASGI application."""

from pyroku.api._application import build_api
from pyroku.api._context import ApiContext, Limits, PublicUrls
from pyroku.api._ratelimit import RateLimiter

__all__ = ["ApiContext", "Limits", "PublicUrls", "RateLimiter", "build_api"]
