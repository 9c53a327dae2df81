"""Parsing a dyno's response head and deciding how its body is framed.

The router parses response heads itself (not with httptools) so that it can enforce Heroku's
response limits, insist on a reason phrase (H17), and know that a response to ``HEAD`` has no
body; chunked bodies are decoded with httptools (see ``_upstream``).
"""

from __future__ import annotations

from typing import Final

from pyroku.router._config import Limits
from pyroku.router._headers import ORDINARY, HeaderKinds

# How the response body is delimited.
BODY_NONE: Final = 0
BODY_LENGTH: Final = 1
BODY_CHUNKED: Final = 2
BODY_EOF: Final = 3

_DROP: Final = -1
_CONTENT_LENGTH: Final = 1
_TRANSFER_ENCODING: Final = 2
_CONNECTION: Final = 3
_VIA: Final = 4
_SET_COOKIE: Final = 5
_UPGRADE: Final = 6
_KEEP_ALIVE: Final = 7

_SPECIAL: Final = {
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
    b"via": _VIA,
    b"set-cookie": _SET_COOKIE,
    b"upgrade": _UPGRADE,
    b"keep-alive": _KEEP_ALIVE,
    b"proxy-connection": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"proxy-authenticate": _DROP,
}


class ResponseError(Exception):
    """A response the router refuses to relay: ``code`` is H17 or H25."""

    def __init__(self, code: str, cause: str) -> None:
        super().__init__(cause)
        self.code = code
        self.cause = cause


class ResponseHead:
    """A parsed response head: the status, the header lines to relay as they are, and the framing.

    ``clean`` means the head can be relayed byte for byte (``raw``) with only the router's own lines
    appended: HTTP/1.1, nothing dropped, no ``Via`` to merge.
    """

    __slots__ = ("body", "clean", "close", "content_length", "lines", "raw", "status", "upgrade", "via")

    def __init__(self, raw: bytes, status: int) -> None:
        self.raw = raw
        self.status = status
        self.lines: list[bytes] = []
        self.content_length = -1
        self.body = BODY_EOF
        self.close = False
        self.clean = True
        self.via = b""
        self.upgrade = b""


_KINDS: Final = HeaderKinds(_SPECIAL)


_CR: Final = 13
_LF: Final = 10


def _blank(byte: int) -> bool:
    return byte == 32 or byte == 9  # space, tab


def _digits(data: bytes, start: int, end: int) -> int:
    """The decimal number ``data[start:end]`` (ASCII digits only, at least one), else -1."""
    if start >= end:
        return -1
    number = 0
    for index in range(start, end):
        digit = data[index] - 48
        if digit < 0 or digit > 9:
            return -1
        number = number * 10 + digit
    return number


def parse_response_head(head: bytes, limits: Limits, head_request: bool) -> ResponseHead:
    """Parse ``head`` (without the blank line). Raises :class:`ResponseError`."""
    # Byte values are tested with `int in bytes` and indexing: compiled, these are plain C, where
    # bytes methods and `bytes in bytes` go through argument parsing and a discarded TypeError.
    lines = head.split(b"\r\n")
    status_line = lines[0]
    if len(status_line) > limits.status_line:
        raise ResponseError("H25", "oversized status line")
    if _LF in status_line or _CR in status_line:
        raise ResponseError("H17", "bare CR or LF in the response head")
    if (
        len(status_line) < 13
        or not status_line.startswith(b"HTTP/1.")
        or status_line[8] != 32  # " "
        or status_line[12] != 32
    ):
        raise ResponseError("H17", "bad status line")
    status = _digits(status_line, 9, 12)
    if status < 0:
        raise ResponseError("H17", "bad status line")
    result = ResponseHead(head, status)
    minor = status_line[7]
    clean = True
    if minor != 49:  # "1"
        if minor != 48:  # "0"
            raise ResponseError("H17", "bad status line")
        clean = False
        close = True  # HTTP/1.0 closes unless it says keep-alive
    else:
        close = False
    content_length = -1
    chunked = False
    transfer_encoding = False
    max_line = limits.response_header_line
    long_lines = len(head) > max_line
    kinds = _KINDS
    for index in range(1, len(lines)):
        line = lines[index]
        if _LF in line or _CR in line:
            raise ResponseError("H17", "bare CR or LF in the response head")
        name, sep, value = line.partition(b":")
        if not sep or not name or _blank(name[-1]) or _blank(line[0]):
            raise ResponseError("H17", "bad header line")
        if long_lines and len(line) > max_line:
            raise ResponseError("H25", "oversized header")
        kind = kinds.get(name)
        if kind == ORDINARY:
            continue
        value = value.strip(b" \t")
        if kind == _CONTENT_LENGTH:
            length = _digits(value, 0, len(value))
            if length < 0:
                raise ResponseError("H17", "bad content-length")
            if content_length == -1:
                content_length = length
            elif content_length == length:
                clean = False  # duplicates merged: relay one
            else:
                raise ResponseError("H17", "conflicting content-length")
            continue
        clean = False
        if kind == _TRANSFER_ENCODING:
            transfer_encoding = True
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
        elif kind == _CONNECTION:
            tokens = value.lower()
            if tokens.find(b"close") >= 0:  # (find: `bytes in bytes` raises internally)
                close = True
            elif tokens.find(b"keep-alive") >= 0:
                close = False
        elif kind == _VIA:
            result.via = result.via + b", " + value if result.via else value
        elif kind == _SET_COOKIE:
            if len(value) > limits.set_cookie:
                raise ResponseError("H25", "oversized cookie")
        elif kind == _UPGRADE:
            result.upgrade = value
    relay_length = True
    if head_request or status < 200 or status == 204 or status == 304:
        result.body = BODY_NONE
        relay_length = status != 204
    elif transfer_encoding:
        result.body = BODY_CHUNKED if chunked else BODY_EOF
        relay_length = False  # Transfer-Encoding wins over Content-Length
    elif content_length >= 0:
        result.body = BODY_LENGTH if content_length else BODY_NONE
    else:
        result.body = BODY_EOF
    if not relay_length and content_length >= 0:
        clean = False
        if result.body != BODY_NONE:
            content_length = -1
    if result.body == BODY_EOF:
        close = True
    result.content_length = content_length
    result.close = close
    result.clean = clean
    if not clean:  # the lines to relay, for heads that need rewriting
        kept = result.lines
        kept.append(b"HTTP/1.1" + status_line[8:])
        length_seen = False
        for index in range(1, len(lines)):
            line = lines[index]
            kind = kinds.get(line.partition(b":")[0])
            if kind in (ORDINARY, _SET_COOKIE):
                kept.append(line)
            elif kind == _CONTENT_LENGTH and relay_length and not length_seen:
                length_seen = True
                kept.append(line)
    return result
