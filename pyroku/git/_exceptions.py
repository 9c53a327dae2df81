"""Errors of the git endpoint."""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class GitEndpointError(PyrokuError):
    """Root of the git endpoint's errors."""


class RepositoryError(GitEndpointError):
    """An app's repository could not be created or read."""
