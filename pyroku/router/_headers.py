"""The request head sent to a dyno: validation, hop-by-hop stripping, and Heroku's added headers.

Added at the end: ``X-Request-Id`` (the client's when it is 20-200 chars of ``[A-Za-z0-9+/=-]``,
else a new UUID v4), ``X-Forwarded-For`` (the client address appended), ``X-Forwarded-Proto``,
``X-Forwarded-Port``, ``X-Request-Start`` (epoch ms) and ``Via: 1.1 pyroku`` (appended).
"""

from __future__ import annotations

import os
import re
from typing import Final

from pyroku.router._exchange import Exchange

VIA: Final = b"1.1 pyroku"

_REQUEST_ID_OK: Final = re.compile(rb"[A-Za-z0-9+/=\-]{20,200}").fullmatch

ORDINARY: Final = 0
"""The kind of a header the router passes on untouched."""
_DROP: Final = -1
_HOST: Final = 1
_CONTENT_LENGTH: Final = 2
_TRANSFER_ENCODING: Final = 3
_CONNECTION: Final = 4
_EXPECT: Final = 5
_REQUEST_ID: Final = 6
_FORWARDED_FOR: Final = 7
_VIA: Final = 8
_UPGRADE: Final = 9

_SPECIAL: Final = {
    b"host": _HOST,
    b"content-length": _CONTENT_LENGTH,
    b"transfer-encoding": _TRANSFER_ENCODING,
    b"connection": _CONNECTION,
    b"expect": _EXPECT,
    b"x-request-id": _REQUEST_ID,
    b"x-forwarded-for": _FORWARDED_FOR,
    b"via": _VIA,
    b"upgrade": _UPGRADE,
    b"keep-alive": _DROP,
    b"proxy-connection": _DROP,
    b"te": _DROP,
    b"trailer": _DROP,
    b"x-forwarded-proto": _DROP,
    b"x-forwarded-port": _DROP,
    b"x-request-start": _DROP,
}
_COLON: Final = ord(":")
_CONNECTION_TOKENS: Final = frozenset({b"close", b"keep-alive", b"upgrade", b""})


class RequestIds:
    """UUID v4 request ids, made 256 at a time from one ``getrandom`` with C-level slicing."""

    __slots__ = ("_ids",)

    def __init__(self) -> None:
        self._ids: list[bytes] = []

    def new(self) -> bytes:
        ids = self._ids
        if not ids:
            ids = self._ids = _uuid4_batch(256)
        return ids.pop()


_UUID_LAYOUT: Final[tuple[int, ...]] = (
    0, 1, 2, 3, 4, 5, 6, 7, -1, 8, 9, 10, 11, -1, -2, 13, 14, 15, -1, -3, 17, 18, 19, -1, *range(20, 32))
"""Each character of ``xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx``: a column of the random hex, or -1 for
``-``, -2 for the version ``4``, -3 for the variant (hex column 16 mapped onto ``89ab``)."""
_VARIANT: Final = bytes.maketrans(b"0123456789abcdef", b"89ab89ab89ab89ab")


def _uuid4_batch(count: int) -> list[bytes]:
    """``count`` UUID v4s, built column by column (36 slice assignments, whatever ``count`` is)."""
    random_hex = os.urandom(16 * count).hex().encode()
    out = bytearray(b"\n" * (37 * count))
    for column, source in enumerate(_UUID_LAYOUT):
        if source >= 0:
            out[column::37] = random_hex[source::32]
        elif source == -1:
            out[column::37] = b"-" * count
        elif source == -2:
            out[column::37] = b"4" * count
        else:
            out[column::37] = random_hex[16::32].translate(_VARIANT)
    return bytes(out[:-1]).split(b"\n")


class HeaderKinds:
    """Header name as sent → its kind (``ORDINARY`` for most), remembering names seen before so
    that the common ones are not lowercased again for every message."""

    __slots__ = ("_kinds", "_seen")
    _MAX_SEEN: Final = 4096

    def __init__(self, kinds: dict[bytes, int]) -> None:
        self._kinds = kinds  # lowercase name → kind
        self._seen: dict[bytes, int] = {}

    def get(self, name: bytes) -> int:
        kind = self._seen.get(name)
        if kind is None:
            kind = self._kinds.get(name.lower(), ORDINARY)
            if len(self._seen) < self._MAX_SEEN:
                self._seen[name] = kind
        return kind


_KINDS: Final = HeaderKinds(_SPECIAL)


def host_key(host: bytes) -> bytes:
    """The routing key of a Host value: lowercase, no port, no trailing dot."""
    host = host.strip().lower()
    if host.startswith(b"["):
        return host[: host.find(b"]") + 1]
    colon = host.find(b":")
    if colon >= 0:
        host = host[:colon]
    return host.rstrip(b".") if host.endswith(b".") else host


def prepare(ex: Exchange, peer: bytes, tail: bytes, ids: RequestIds) -> None:
    """Validate ``ex.headers`` and build ``ex.head``; sets ``ex.error``/``ex.cause`` instead of raising.

    ``tail`` holds the per-listener lines (``X-Forwarded-Proto``, ``X-Forwarded-Port``).
    """
    lines = [ex.method + b" " + ex.url + b" HTTP/1.1"]
    kinds = _KINDS
    hosts = 0
    host = b""
    request_id = b""
    forwarded: list[bytes] | None = None
    via: list[bytes] | None = None
    length_line = b""
    upgrade = b""
    extra_hop: set[bytes] | None = None
    for name, value in ex.headers:
        kind = kinds.get(name)
        if kind == ORDINARY:
            lines.append(name + b": " + value)
        elif kind == _HOST:
            hosts += 1
            host = value.rstrip()
            lines.append(name + b": " + value)
        elif kind == _CONTENT_LENGTH:
            value = value.rstrip()
            if value != b"0":
                ex.has_body = True
            if not length_line:  # duplicates were equal (llhttp rejects the others): keep one
                length_line = name + b": " + value
        elif kind == _TRANSFER_ENCODING:
            ex.chunked = True
            ex.has_body = True
        elif kind == _REQUEST_ID:
            if _REQUEST_ID_OK(value) is not None:
                request_id = value
        elif kind == _FORWARDED_FOR:
            value = value.rstrip()
            if value:
                if forwarded is None:
                    forwarded = [value]
                else:
                    forwarded.append(value)
        elif kind == _VIA:
            if via is None:
                via = [value.rstrip()]
            else:
                via.append(value.rstrip())
        elif kind == _CONNECTION:
            for token in value.lower().split(b","):
                token = token.strip()
                if token not in _CONNECTION_TOKENS:
                    if extra_hop is None:
                        extra_hop = set()
                    extra_hop.add(token)
        elif kind == _EXPECT:
            if value.rstrip().lower() == b"100-continue":
                ex.expect_continue = True
            else:
                ex.error, ex.cause = 417, "unsupported expect header value"
        elif kind == _UPGRADE:
            upgrade = value
    if hosts == 1:
        ex.host = host
        key = host.lower()
        if _COLON in key or key.endswith(b"."):  # (`int in bytes`: `bytes in bytes` raises internally)
            key = host_key(key)
        ex.hostkey = key
        if not key:
            ex.error, ex.cause = 400, "missing host header"
    else:
        ex.host = host
        ex.hostkey = host_key(host) if host else b""  # so that H26 reaches the app's log
        ex.error, ex.cause = 400, ("duplicate host header" if hosts > 1 else "missing host header")
    if not request_id:
        request_id = ids.new()
    ex.request_id = request_id
    fwd = ex.fwd = b", ".join(forwarded) + b", " + peer if forwarded else peer
    if extra_hop:
        lines = lines[:1] + [line for line in lines[1:] if line.partition(b":")[0].lower() not in extra_hop]
    if ex.chunked:
        lines.append(b"Transfer-Encoding: chunked")
    elif length_line:
        lines.append(length_line)
    if ex.upgrade and upgrade:
        lines.append(b"Connection: Upgrade")
        lines.append(b"Upgrade: " + upgrade)
    ex.head = b"".join((
        b"\r\n".join(lines), b"\r\nX-Request-Id: ", request_id, b"\r\nX-Forwarded-For: ", fwd, b"\r\n", tail,
        b"\r\nX-Request-Start: ", str(ex.start_ms).encode(),
        b"\r\nVia: ", b", ".join(via) + b", " + VIA if via else VIA, b"\r\n\r\n"))


def merge_content_lengths(data: bytes) -> bytes | None:
    """``data`` with duplicate, equal Content-Length headers merged (None when they differ)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].split(b"\r\n")
    kept: list[bytes] = []
    values = set()
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length":
            values.add(value.strip())
            if len(values) > 1:
                return None
            if any(k.partition(b":")[0].strip().lower() == b"content-length" for k in kept):
                continue
        kept.append(line)
    return b"\r\n".join(kept) + data[end:]
