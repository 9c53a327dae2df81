"""Turning messages into safe lines, and rendering them exactly like ``heroku logs``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import pyroku.logs
from pyroku._exceptions import PyrokuError
from pyroku.logs import (
    MAX_LINE_BYTES,
    InvalidLogLine,
    LogLine,
    Logplex,
    LogsError,
    format_line,
    split_message,
)
from tests.logs.conftest import new_app_id

TS = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)


def test_public_face_lists_what_it_exports() -> None:
    assert sorted(pyroku.logs.__all__) == sorted(
        name for name in dir(pyroku.logs) if not name.startswith("_") and name not in {"types"}
    )
    assert issubclass(LogsError, PyrokuError)


def test_render_like_heroku() -> None:
    line = LogLine(TS, "app", "web.1", "message")
    assert format_line(line) == "2026-11-30T10:00:00.123456+00:00 app[web.1]: message"
    router = LogLine(TS.replace(microsecond=0), "heroku", "router", 'at=info method=GET path="/"')
    assert format_line(router) == '2026-11-30T10:00:00.000000+00:00 heroku[router]: at=info method=GET path="/"'


def test_render_without_process_omits_brackets() -> None:
    assert format_line(LogLine(TS, "app", "", "hi")) == "2026-11-30T10:00:00.123456+00:00 app: hi"


def test_render_converts_to_utc() -> None:
    paris = TS.astimezone(timezone(timedelta(hours=1)))
    assert format_line(LogLine(paris, "app", "api", "x")).startswith("2026-11-30T10:00:00.123456+00:00 ")
    naive = TS.replace(tzinfo=None)
    assert format_line(LogLine(naive, "app", "api", "x")).startswith("2026-11-30T10:00:00.123456+00:00 ")


def test_render_across_seconds_uses_the_right_second() -> None:
    # The formatter caches the seconds part; alternate between two seconds to exercise the cache.
    for _ in range(3):
        for second in (1, 2):
            stamp = TS.replace(second=second, microsecond=7)
            assert format_line(LogLine(stamp, "app", "web.1", "m")).startswith(
                f"2026-11-30T10:00:0{second}.000007+00:00"
            )


def test_one_line_per_newline() -> None:
    assert split_message("a\nb\n") == ["a", "b"]
    assert split_message("a\r\nb\r\n") == ["a", "b"]
    assert split_message("a\n\nb") == ["a", "", "b"]
    assert split_message("") == [""]
    assert split_message("\n") == [""]
    assert split_message(b"bytes line\n") == ["bytes line"]


def test_long_lines_split_into_10000_byte_chunks() -> None:
    chunks = split_message("x" * 25_000)
    assert [len(c) for c in chunks] == [10_000, 10_000, 5_000]
    assert split_message("y" * MAX_LINE_BYTES) == ["y" * MAX_LINE_BYTES]


def test_split_never_cuts_a_character() -> None:
    text = "é" * 6_001  # 12,002 bytes
    chunks = split_message(text)
    assert all(len(c.encode()) <= MAX_LINE_BYTES for c in chunks)
    assert "".join(chunks) == text
    assert len(chunks) == 2


def test_invalid_utf8_is_escaped_recognisably() -> None:
    assert split_message(b"caf\xc3\xa9 \xff\xfe end") == ["café \\xff\\xfe end"]


def test_control_characters_are_escaped_tab_kept() -> None:
    (line,) = split_message("\x1b[31mred\x1b[0m\tok\x00\x07 bell\rX\x9b")
    assert line == "\\x1b[31mred\\x1b[0m\tok\\x00\\x07 bell\\rX\\x9b"
    assert line.isprintable() is False  # the tab
    assert all(ch == "\t" or ch.isprintable() for ch in line)


def test_lone_surrogates_do_not_raise() -> None:
    (line,) = split_message("bad \udcff surrogate")
    line.encode()  # now encodable
    assert "surrogate" in line


def test_publish_never_raises_on_bad_bytes(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    logplex.publish(app, "app", "web 1\x00", b"\x00\xff\n\n\x1b" * 5000)
    lines = logplex.history(app, lines=1500)
    assert lines
    assert all(len(line.message.encode()) <= MAX_LINE_BYTES for line in lines)
    assert all(line.process == "web_1_" for line in lines)
    assert all("\x00" not in line.message and "\x1b" not in line.message for line in lines)


@pytest.mark.parametrize(
    ("app_id", "source"),
    [("", "app"), ("../etc", "app"), ("a b", "app"), (new_app_id(), "router"), (new_app_id(), "")],
)
def test_publish_rejects_bad_app_id_or_source(tmp_path: Path, app_id: str, source: str) -> None:
    with pytest.raises(InvalidLogLine):
        Logplex(tmp_path).publish(app_id, source, "web.1", "hi")


def test_publish_numbers_lines_and_keeps_timestamps(tmp_path: Path) -> None:
    logplex = Logplex(tmp_path)
    app = new_app_id()
    logplex.publish(app, "app", "web.1", "one\ntwo", timestamp=TS)
    logplex.publish(app, "heroku", "router", "three", timestamp=TS.replace(tzinfo=None))
    lines = logplex.history(app)
    assert [(line.seq, line.message) for line in lines] == [(1, "one"), (2, "two"), (3, "three")]
    assert all(line.timestamp == TS for line in lines)
