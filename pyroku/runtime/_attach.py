"""A one-off dyno's terminal as handed to the caller: the PTY master, received from the supervisor."""

from __future__ import annotations

import fcntl
import os
import struct
import termios


class PtyAttachment:
    """Owns a duplicate of the dyno's PTY master; read and write it raw (non-blocking)."""

    def __init__(self, fd: int) -> None:
        os.set_inheritable(fd, False)
        os.set_blocking(fd, False)
        self._fd = fd

    def fileno(self) -> int:
        if self._fd < 0:
            raise ValueError("attachment is closed")
        return self._fd

    def resize(self, rows: int, cols: int) -> None:
        fcntl.ioctl(self.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> PtyAttachment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
