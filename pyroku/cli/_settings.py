"""Configuration of one CLI invocation, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pyroku.cli._exceptions import CLIError

DEFAULT_API_URL = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class Settings:
    """Where the API is and where credentials live; built by :meth:`from_environ`."""

    api_url: str
    api_key: str | None
    netrc_path: Path
    app: str | None
    debug: bool
    no_color: bool
    timeout: float = 30.0

    @property
    def api_host(self) -> str:
        """The netrc ``machine`` name: the API URL's host name, without port (like curl and git)."""
        return urlsplit(self.api_url).hostname or ""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        api_url = (environ.get("PYROKU_API_URL") or DEFAULT_API_URL).rstrip("/")
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CLIError(f"PYROKU_API_URL must be an http:// or https:// URL, not {api_url!r}")
        home = environ.get("HOME")
        netrc_path = (Path(home) if home else Path.home()) / ".netrc"
        return cls(
            api_url=api_url,
            api_key=environ.get("PYROKU_API_KEY") or None,
            netrc_path=netrc_path,
            app=environ.get("PYROKU_APP") or None,
            debug=bool(environ.get("PYROKU_DEBUG")),
            no_color="NO_COLOR" in environ,
        )


def current_settings() -> Settings:
    return Settings.from_environ(os.environ)
