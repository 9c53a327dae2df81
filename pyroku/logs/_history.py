"""The per-app ring of the latest 1,500 lines, persisted so it survives a restart.

Each app has one append-only segment file ``<app_id>.log``: a magic header, then chunks, one per
flush, each ``u32 length | u32 crc32 | entries``; an entry is ``u64 seq | i64 µs since epoch | u8
source | u8 process length | u32 message length | process | message``. Publishing only touches
memory; a timer appends the lines published since the last flush as one chunk. When a file holds
more than twice the ring it is rewritten from the ring (temporary file + rename). A torn last chunk
(crash mid-write) fails its length or CRC check on load: it is cut off and the rest is kept.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections import deque
from pathlib import Path
from typing import Final

from pyroku.logs._lines import from_micros, to_micros
from pyroku.logs.types import HISTORY_LINES, LogLine

logger = logging.getLogger("pyroku.logs")

MAGIC: Final = b"PYROKU-LOGS 1\n"
_CHUNK = struct.Struct("<II")
_ENTRY = struct.Struct("<QqBBI")
_SOURCE_CODES: Final = {"app": 0, "heroku": 1}
_SOURCE_NAMES: Final = ("app", "heroku")


def _encode(lines: list[LogLine]) -> bytes:
    parts: list[bytes] = []
    pack = _ENTRY.pack
    codes = _SOURCE_CODES
    for line in lines:
        process = line.process.encode()
        message = line.message.encode()
        parts.append(pack(line.seq, to_micros(line.timestamp), codes[line.source], len(process), len(message)))
        parts.append(process)
        parts.append(message)
    body = b"".join(parts)
    return _CHUNK.pack(len(body), zlib.crc32(body)) + body


def _decode(body: bytes, out: deque[LogLine]) -> int:
    pos = 0
    count = 0
    unpack = _ENTRY.unpack_from
    while pos < len(body):
        seq, micros, source, process_len, message_len = unpack(body, pos)
        pos += _ENTRY.size
        process = body[pos : pos + process_len].decode()
        pos += process_len
        message = body[pos : pos + message_len].decode()
        pos += message_len
        out.append(LogLine(from_micros(micros), _SOURCE_NAMES[source], process, message, seq))
        count += 1
    return count


class AppHistory:
    """The in-memory ring of one app plus what its segment file needs to know."""

    __slots__ = ("file_lines", "lines", "next_seq", "rewrite", "unsaved")

    def __init__(self, lines: deque[LogLine], next_seq: int, file_lines: int) -> None:
        self.lines = lines
        self.next_seq = next_seq
        self.file_lines = file_lines  # entries in the segment file, to know when to compact
        self.unsaved = 0  # newest lines not yet in the file
        self.rewrite = False  # the file is suspect (failed write): rewrite it whole next flush


class HistoryStore:
    """Segment files of all apps under one directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, app_id: str) -> Path:
        return self.directory / f"{app_id}.log"

    def load(self, app_id: str) -> AppHistory:
        path = self._path(app_id)
        ring: deque[LogLine] = deque(maxlen=HISTORY_LINES)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return AppHistory(ring, 1, 0)
        except OSError:
            logger.exception("cannot read log history %s; starting empty", path)
            return AppHistory(ring, 1, 0)
        if not data.startswith(MAGIC):
            logger.warning("log history %s has an unknown format; moving it aside", path)
            history = AppHistory(ring, 1, 0)
            try:
                os.replace(path, path.with_suffix(".unreadable"))
            except OSError:
                history.rewrite = True
            return history
        pos = good = len(MAGIC)
        count = 0
        while pos + _CHUNK.size <= len(data):
            length, crc = _CHUNK.unpack_from(data, pos)
            body = data[pos + _CHUNK.size : pos + _CHUNK.size + length]
            if len(body) < length or zlib.crc32(body) != crc:
                break
            try:
                count += _decode(body, ring)
            except (struct.error, UnicodeDecodeError, IndexError):
                break
            pos = good = pos + _CHUNK.size + length
        history = AppHistory(ring, ring[-1].seq + 1 if ring else 1, count)
        if good < len(data):
            logger.warning("log history %s: dropping a torn record of %d bytes", path, len(data) - good)
            try:
                os.truncate(path, good)
            except OSError:
                history.rewrite = True
        return history

    def save(self, app_id: str, history: AppHistory) -> None:
        """Persist the lines published since the last save (or the whole ring, to compact)."""
        fresh = min(history.unsaved, len(history.lines))
        if not fresh and not history.rewrite:
            return
        path = self._path(app_id)
        try:
            if history.rewrite or history.file_lines + fresh > 2 * HISTORY_LINES:
                lines = list(history.lines)
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(MAGIC + _encode(lines) if lines else MAGIC)
                os.replace(tmp, path)
                history.file_lines = len(lines)
            else:
                lines = list(history.lines)[-fresh:]
                with path.open("ab") as file:
                    chunk = _encode(lines)
                    file.write(MAGIC + chunk if file.tell() == 0 else chunk)
                history.file_lines += fresh
            history.rewrite = False
        except OSError:
            logger.exception("cannot write log history %s", path)
            history.rewrite = True
        history.unsaved = 0

    def remove(self, app_id: str) -> None:
        for path in (self._path(app_id), self._path(app_id).with_suffix(".tmp")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                logger.exception("cannot remove log history %s", path)
