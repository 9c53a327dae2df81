"""Turning whatever a producer wrote into safe log lines, and rendering them like Heroku.

A message becomes one line per newline it contains; each line is made safe for terminals and
line-oriented readers (invalid UTF-8 as ``\\xNN``, control characters as ``\\xNN`` escapes, tab
kept) and split into chunks of at most 10,000 UTF-8 bytes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

from pyroku.logs._exceptions import InvalidLogLine
from pyroku.logs.types import MAX_LINE_BYTES, SOURCES, LogLine

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US: Final = timedelta(microseconds=1)
MAX_PROCESS_CHARS: Final = 128  # RFC 5424 PROCID

# C0 controls except tab, DEL, and C1 controls: terminals act on them (ESC starts a sequence).
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_APP_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PROCESS_UNSAFE = re.compile(r"[^!-~]")  # RFC 5424 PRINTUSASCII


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return "\\r" if char == "\r" else f"\\x{ord(char):02x}"


def _safe(text: str) -> str:
    return text if text.isprintable() else _CONTROL.sub(_escape, text)


def _chunks(text: str) -> list[str]:
    if len(text) * 4 <= MAX_LINE_BYTES:
        return [text]
    data = text.encode()
    if len(data) <= MAX_LINE_BYTES:
        return [text]
    out = []
    start = 0
    while start < len(data):
        end = min(start + MAX_LINE_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never cut a character in two
            end -= 1
        out.append(data[start:end].decode())
        start = end
    return out


def split_message(message: str | bytes) -> list[str]:
    """The safe lines a message becomes: one per newline, each at most 10,000 UTF-8 bytes.

    A single trailing newline (``\\n`` or ``\\r\\n``) ends the message and adds no empty line.
    Never raises: undecodable bytes and lone surrogates are escaped, not rejected.
    """
    if isinstance(message, str):
        text = message
        if not text.isascii():
            try:
                text.encode()
            except UnicodeEncodeError:
                text = text.encode("utf-8", "backslashreplace").decode()
    else:
        text = bytes(message).decode("utf-8", "backslashreplace")
    if "\n" not in text:
        if text.endswith("\r"):
            text = text[:-1]
        return _chunks(_safe(text))
    parts = text.split("\n")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    out: list[str] = []
    for part in parts:
        if part.endswith("\r"):
            part = part[:-1]
        out.extend(_chunks(_safe(part)))
    return out


def clean_process(process: str) -> str:
    """A process name fit for RFC 5424 PROCID and for rendering: printable ASCII, no spaces, ≤128."""
    if len(process) <= MAX_PROCESS_CHARS and process.isascii() and process.isprintable() and (
        " " not in process
    ):
        return process
    return _PROCESS_UNSAFE.sub("_", process[:MAX_PROCESS_CHARS])


def check_app_id(app_id: str) -> str:
    if not isinstance(app_id, str) or _APP_ID.fullmatch(app_id) is None:
        raise InvalidLogLine(f"invalid app id {app_id!r}: expected a UUID")
    return app_id


def check_source(source: str) -> str:
    if source not in SOURCES:
        raise InvalidLogLine(f"invalid log source {source!r}: expected 'app' or 'heroku'")
    return source


def to_utc(timestamp: datetime) -> datetime:
    """Timestamps are stored in UTC; a naive datetime is taken to be UTC already."""
    if timestamp.tzinfo is UTC:
        return timestamp
    if timestamp.tzinfo is None:
        return timestamp.replace(tzinfo=UTC)
    return timestamp.astimezone(UTC)


def to_micros(timestamp: datetime) -> int:
    return (timestamp - EPOCH) // ONE_US


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class _TimestampFormatter:
    """RFC 3339 with microseconds and ``+00:00``; caches the part that changes once a second."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: tuple[int, str] = (-1, "")

    def __call__(self, timestamp: datetime) -> str:
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        second, micro = divmod((timestamp - EPOCH) // ONE_US, 1_000_000)
        cached_second, prefix = self._cache  # one tuple, so threads never mix two seconds
        if second != cached_second:
            prefix = from_micros(second * 1_000_000).strftime("%Y-%m-%dT%H:%M:%S")
            self._cache = (second, prefix)
        return f"{prefix}.{micro:06d}+00:00"


format_timestamp = _TimestampFormatter()


def format_seconds(timestamp: datetime) -> str:
    """RFC 3339 to the second, as in L10/L11 messages (``2015-09-15T16:22:24+00:00``)."""
    return to_utc(timestamp).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def format_line(line: LogLine) -> str:
    """Render a line as ``heroku logs`` shows it: ``<ts> <source>[<process>]: <message>``.

    Brackets are omitted when the line has no process. No trailing newline.
    """
    if line.process:
        return f"{format_timestamp(line.timestamp)} {line.source}[{line.process}]: {line.message}"
    return f"{format_timestamp(line.timestamp)} {line.source}: {line.message}"
