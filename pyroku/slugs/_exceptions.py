"""Errors of the slug store and slug extraction."""

from __future__ import annotations

from pyroku._exceptions import PyrokuError


class SlugError(PyrokuError):
    """Root of the slug store's errors."""


class InvalidSlugId(SlugError, ValueError):
    """A slug id that is not a plain name (letters, digits, ``.``, ``_``, ``-``)."""


class SlugNotFound(SlugError, KeyError):
    """No slug with that id is stored."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "slug not found"


class SlugChecksumMismatch(SlugError):
    """The stored bytes do not hash to the checksum the release names."""


class UnsafeSlug(SlugError):
    """A slug archive with members outside ``app/``, links escaping it, or device files."""


class CorruptSlug(SlugError):
    """A slug that is not a readable tar.gz archive."""
