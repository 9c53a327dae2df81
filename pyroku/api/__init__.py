"""The Platform API (Heroku v3 shapes) as an ASGI application."""

from pyroku.api._application import build_api
from pyroku.api._builds import blob_app, is_blob_path
from pyroku.api._context import ApiContext, Limits, PublicUrls
from pyroku.api._ratelimit import RateLimiter

__all__ = ["ApiContext", "Limits", "PublicUrls", "RateLimiter", "blob_app", "build_api", "is_blob_path"]
