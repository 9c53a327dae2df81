"""The slug store: slug archives addressed by id and checksum, and their extraction for dynos."""

from pyroku.slugs._exceptions import (
    CorruptSlug,
    InvalidSlugId,
    SlugChecksumMismatch,
    SlugError,
    SlugNotFound,
    UnsafeSlug,
)
from pyroku.slugs._extract import SlugCache
from pyroku.slugs._store import LocalSlugStore, SlugStore, check_slug_id, format_checksum, parse_checksum

__all__ = [
    "CorruptSlug",
    "InvalidSlugId",
    "LocalSlugStore",
    "SlugCache",
    "SlugChecksumMismatch",
    "SlugError",
    "SlugNotFound",
    "SlugStore",
    "UnsafeSlug",
    "check_slug_id",
    "format_checksum",
    "parse_checksum",
]
