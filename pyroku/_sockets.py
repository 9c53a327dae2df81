"""Small socket helpers shared by components that must stay light (the router imports no web stack)."""

from __future__ import annotations

import socket


def connect_unix(path: str, *, send_buffer: int | None = None) -> socket.socket | None:
    """A non-blocking connection to the Unix stream socket at `path`, or None if nobody listens."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        sock.setblocking(False)
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock
