"""Errors the router raises on purpose; all derive from :class:`RouterError`."""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class RouterError(PyrokuError):
    """Base class of router errors."""


class RoutingTableError(RouterError):
    """A routing table file is missing, unreadable or does not match the contract."""


class CertificateError(RouterError):
    """A TLS certificate or key cannot be loaded or generated."""
