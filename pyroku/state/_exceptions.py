"""Errors raised by state operations; the API maps each to a Heroku error id and status."""

from pyroku._exceptions import PyrokuError


class StateError(PyrokuError):
    """A request the state cannot satisfy; the message is shown to the user."""


class NotFound(StateError):
    pass


class Forbidden(StateError):
    pass


class InvalidParams(StateError):
    pass


class Conflict(StateError):
    pass


class Unauthorized(StateError):
    pass
