"""Errors of the dyno manager's commands; the API shows their messages."""

from pyroku._exceptions import PyrokuError


class DynoError(PyrokuError):
    pass


class NoSuchDyno(DynoError):
    pass


class NotDeployed(DynoError):
    pass


class InvalidDynoRequest(DynoError):
    pass
