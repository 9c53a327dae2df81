"""RFC 5424 syslog frames with RFC 6587 framing, as logplex speaks them on every socket.

``<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID SD MSG``: on the local ingestion socket HOST is the
app id; towards syslog drains it is the drain token; towards HTTPS drains it is the literal ``host``
and, like Heroku's logplex, the SD field is left out. APP-NAME is the source, PROCID the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from pyroku.logs._lines import format_timestamp
from pyroku.logs.types import LogLine

PRI_APP: Final = 190  # local7.info: app output
PRI_HEROKU: Final = 158  # local3.info: router, dyno manager, logplex
MAX_FRAME_BYTES: Final = 64 * 1024  # a 10,000-byte message plus any header fits with room to spare
_MAX_LENGTH_DIGITS: Final = len(str(MAX_FRAME_BYTES))


class FrameError(ValueError):
    """Bytes that are not a syslog frame (internal: the ingestion socket counts and drops them)."""


def encode(line: LogLine, hostname: str, *, structured_data: bool = True) -> bytes:
    """One octet-counted frame (``<len> <frame>``) for ``line``."""
    pri = PRI_APP if line.source == "app" else PRI_HEROKU
    sd = " -" if structured_data else ""
    frame = (
        f"<{pri}>1 {format_timestamp(line.timestamp)} {hostname} {line.source} "
        f"{line.process or '-'} -{sd} {line.message}"
    ).encode()
    return b"%d %s" % (len(frame), frame)


@dataclass(frozen=True, slots=True)
class Frame:
    hostname: str
    app_name: str
    procid: str
    timestamp: datetime | None
    message: bytes


def _skip_structured_data(frame: bytes, pos: int) -> int:
    """Index just after the SD-ELEMENTs starting at ``pos`` (which holds ``[``)."""
    end = len(frame)
    while pos < end and frame[pos] == 0x5B:  # "["
        pos += 1
        while True:
            if pos >= end:
                raise FrameError("unterminated structured data")
            char = frame[pos]
            if char == 0x5C:  # backslash escapes the next byte
                pos += 2
                continue
            if char == 0x22:  # a quoted PARAM-VALUE may contain "]"
                pos += 1
                while pos < end and frame[pos] != 0x22:
                    pos += 2 if frame[pos] == 0x5C else 1
                pos += 1
                continue
            pos += 1
            if char == 0x5D:  # "]"
                break
    return pos


def parse(frame: bytes) -> Frame:
    """Parse one RFC 5424 frame (without its length prefix). Raises :class:`FrameError`."""
    parts = frame.split(b" ", 7)
    if len(parts) < 7:
        raise FrameError("too few header fields")
    head = parts[0]
    if not (head.startswith(b"<") and head.endswith(b">1") and head[1:-2].isdigit()):
        raise FrameError("bad PRI or version")
    sd = parts[6]
    if sd == b"-":
        message = parts[7] if len(parts) == 8 else b""
    elif sd.startswith(b"["):
        start = sum(len(part) + 1 for part in parts[:6])
        end = _skip_structured_data(frame, start)
        message = frame[end + 1 :]
    else:
        raise FrameError("bad structured data")
    if message.startswith(b"\xef\xbb\xbf"):
        message = message[3:]
    try:
        hostname, app_name, procid = parts[2].decode("ascii"), parts[3].decode("ascii"), parts[4].decode("ascii")
        stamp = parts[1].decode("ascii")
        timestamp = None if stamp == "-" else datetime.fromisoformat(stamp)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError
        raise FrameError(f"bad header field: {exc}") from None
    return Frame(hostname, app_name, "" if procid == "-" else procid, timestamp, message)


class FrameDecoder:
    """Splits a byte stream into frames: octet counting, or LF-terminated when a frame starts with ``<``.

    Once the stream turns out not to be framed, ``error`` says why; frames completed before that
    point are still returned, and the connection should be closed.
    """

    __slots__ = ("_buffer", "error")

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.error: str | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Frames completed by ``data``."""
        if self.error is not None:
            return []
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos = 0
        size = len(buf)
        while pos < size:
            if buf[pos] == 0x3C:  # "<": non-transparent framing (RFC 6587 3.4.2)
                newline = buf.find(b"\n", pos)
                if newline < 0:
                    if size - pos > MAX_FRAME_BYTES:
                        self.error = "unterminated frame"
                    break
                frames.append(bytes(buf[pos:newline]))
                pos = newline + 1
                continue
            space = buf.find(b" ", pos, pos + _MAX_LENGTH_DIGITS + 1)
            if space < 0:
                if size - pos > _MAX_LENGTH_DIGITS:
                    self.error = "bad frame length"
                break
            digits = buf[pos:space]
            if not digits.isdigit():
                self.error = "bad frame length"
                break
            length = int(digits)
            if length > MAX_FRAME_BYTES:
                self.error = "frame too long"
                break
            end = space + 1 + length
            if end > size:
                break
            frames.append(bytes(buf[space + 1 : end]))
            pos = end
        if self.error is not None:
            buf.clear()
        elif pos:
            del buf[:pos]
        return frames
