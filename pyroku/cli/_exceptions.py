"""The CLI's errors: every one becomes a single ``▸`` line on stderr and exit status 1.

Transport and HTTP errors are translated at the client boundary (:mod:`pyroku.cli._client`), git
failures where git is run (:mod:`pyroku.cli._git`), so commands only ever see these classes.
"""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class CLIError(PyrokuError):
    """An error the user should see as one line; the message is what is printed."""


class InvalidInput(CLIError):
    """Arguments that are wrong before any request is made (``config:set NOEQUALS``)."""


class NotLoggedIn(CLIError):
    """No token in ``PYROKU_API_KEY`` nor in ``~/.netrc`` for the API host."""

    def __init__(self) -> None:
        super().__init__("Not logged in. Run pyroku login.")


class CredentialsFileError(CLIError):
    """``~/.netrc`` cannot be read, parsed or written."""


class GitError(CLIError):
    """A git command that should have worked failed."""


class APIUnreachable(CLIError):
    """The API could not be reached at all (connection refused, DNS, timeout, bad URL)."""


class APIError(CLIError):
    """The API answered with an error status; ``message`` is its ``message`` field."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message


class Unauthorized(APIError):
    """HTTP 401: the token is missing, wrong, expired or revoked."""


class LogStreamError(CLIError):
    """The log stream could not be read to the end."""
