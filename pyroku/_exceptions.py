"""The root of every error Pyroku raises on purpose.

Each component defines its own branch below :class:`PyrokuError`; boundaries (the API, the CLI)
translate these into what their users see, so no traceback reaches a user.
"""


class PyrokuError(Exception):
    """Base class of Pyroku's own errors."""
