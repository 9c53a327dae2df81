"""State of one invocation: settings, output, credentials and the API client, created lazily.

Commands get it with :func:`current_session`; nothing is read from the environment or disk until a
command needs it, so ``pyroku --help`` and ``pyroku server`` never touch ``~/.netrc``.
"""

from __future__ import annotations

import os

import click
import httpx

from pyroku.cli._client import APIClient
from pyroku.cli._exceptions import NotLoggedIn
from pyroku.cli._netrc import Credentials, read_credentials
from pyroku.cli._output import Output
from pyroku.cli._settings import Settings


class Session:
    def __init__(
        self,
        settings: Settings,
        output: Output,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.output = output
        self._transport = transport
        self._clients: list[APIClient] = []

    def stored_credentials(self) -> Credentials | None:
        return read_credentials(self.settings.netrc_path, self.settings.api_host)

    def token(self) -> str | None:
        """``PYROKU_API_KEY`` if set, else the token stored in ``~/.netrc`` for the API host."""
        if self.settings.api_key:
            return self.settings.api_key
        stored = self.stored_credentials()
        return stored.token if stored else None

    def client(self, token: str | None = None) -> APIClient:
        """An authenticated client; :class:`NotLoggedIn` when there is no token anywhere."""
        token = token or self.token()
        if not token:
            raise NotLoggedIn()
        return self._new_client(token)

    def anonymous_client(self) -> APIClient:
        return self._new_client(None)

    def _new_client(self, token: str | None) -> APIClient:
        client = APIClient(self.settings.api_url, token, timeout=self.settings.timeout, transport=self._transport)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


def current_session() -> Session:
    """The session of the running command, created on first use from ``os.environ``."""
    root = click.get_current_context().find_root()
    if not isinstance(root.obj, Session):
        settings = Settings.from_environ(os.environ)
        root.obj = Session(settings, Output.for_terminal(no_color=settings.no_color))
        root.call_on_close(root.obj.close)
    return root.obj
