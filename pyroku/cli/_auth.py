"""``login``, ``logout``, ``auth:whoami``, ``auth:token``."""

from __future__ import annotations

import contextlib
import socket

import click

from pyroku.cli._client import APIClient
from pyroku.cli._exceptions import CLIError, InvalidInput, NotLoggedIn, Unauthorized
from pyroku.cli._group import ClientCommand
from pyroku.cli._netrc import Credentials, remove_credentials, write_credentials
from pyroku.cli._prompt import ask
from pyroku.cli._session import current_session

__all__ = ["login", "logout", "token", "whoami"]


def _revoke(client: APIClient) -> None:
    """Revoke the client's own token; one that is already invalid counts as revoked."""
    with contextlib.suppress(Unauthorized):
        client.delete("/oauth/authorizations/~")


@click.command("login", cls=ClientCommand)
def login() -> None:
    """Log in with your email and password; stores a token in ~/.netrc."""
    session = current_session()
    email = ask("Email").strip()
    if not email:
        raise InvalidInput("Email is required.")
    password = ask("Password", hidden=True)
    if not password:
        raise InvalidInput("Password is required.")
    body = {"description": f"Pyroku CLI login from {socket.gethostname()}", "scope": ["global"]}
    try:
        authorization = session.anonymous_client().post("/oauth/authorizations", body, auth=(email, password))
    except Unauthorized as exc:
        raise CLIError("Invalid credentials provided.") from exc
    try:
        new_token = str(authorization["access_token"]["token"])
        user_email = str((authorization.get("user") or {}).get("email") or email)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CLIError("Unexpected response from the Pyroku API: no access token") from exc

    previous = session.stored_credentials()
    write_credentials(session.settings.netrc_path, session.settings.api_host, Credentials(user_email, new_token))
    if previous is not None and previous.token != new_token:
        # Like the Heroku CLI: the token this login replaces is revoked, best effort.
        with contextlib.suppress(CLIError):
            _revoke(session.client(previous.token))
    if session.settings.api_key:
        session.output.warn("PYROKU_API_KEY is set: it is used instead of the stored credentials.")
    session.output.echo(f"Logged in as {user_email}")


@click.command("logout", cls=ClientCommand)
def logout() -> None:
    """Revoke the stored token on the server and remove it from ~/.netrc."""
    session = current_session()
    stored = session.stored_credentials()
    error: CLIError | None = None
    with session.output.action("Logging out"):
        if stored is not None:
            try:
                _revoke(session.client(stored.token))
            except CLIError as exc:
                error = exc
        remove_credentials(session.settings.netrc_path, session.settings.api_host)
    if error is not None:
        raise CLIError(f"Removed the local credentials, but could not revoke the token: {error}")


@click.command("auth:whoami", cls=ClientCommand)
def whoami() -> None:
    """Show the email of the logged-in account."""
    session = current_session()
    account = session.client().get("/account")
    session.output.echo(str(account.get("email", "")))


@click.command("auth:token", cls=ClientCommand)
def token() -> None:
    """Print the API token in use (PYROKU_API_KEY or the one from ~/.netrc)."""
    session = current_session()
    value = session.token()
    if not value:
        raise NotLoggedIn()
    session.output.echo(value)
