"""RFC 5424 frames and RFC 6587 framing as logplex writes and reads them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pyroku.logs import LogLine
from pyroku.logs._syslog import FrameDecoder, FrameError, encode, parse

TS = datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)


def test_drain_frames_follow_heroku() -> None:
    app_line = LogLine(TS, "app", "web.1", "hello ✓")
    frame = "<190>1 2026-11-30T10:00:00.123456+00:00 d.0f5e-token app web.1 - - hello ✓".encode()
    assert encode(app_line, "d.0f5e-token") == b"%d %s" % (len(frame), frame)
    router = LogLine(TS, "heroku", "router", "at=info")
    http_frame = b"<158>1 2026-11-30T10:00:00.123456+00:00 host heroku router - at=info"
    assert encode(router, "host", structured_data=False) == b"%d %s" % (len(http_frame), http_frame)
    assert encode(LogLine(TS, "app", "", "x"), "h").endswith(b" h app - - - x")


def test_parse_round_trip() -> None:
    data = encode(LogLine(TS, "heroku", "web.1", "State changed from up to down"), "app-uuid")
    _, frame = data.split(b" ", 1)
    parsed = parse(frame)
    assert (parsed.hostname, parsed.app_name, parsed.procid, parsed.timestamp, parsed.message) == (
        "app-uuid", "heroku", "web.1", TS, b"State changed from up to down"
    )


def test_parse_structured_data_nil_timestamp_and_bom() -> None:
    frame = b'<14>1 - host app - ID47 [ex@1 a="x\\]y" b="]"][ex@2 c="d"] \xef\xbb\xbfmessage here'
    parsed = parse(frame)
    assert parsed.timestamp is None
    assert parsed.procid == ""
    assert parsed.message == b"message here"
    assert parse(b"<14>1 2026-11-30T10:00:00Z h app p - -").message == b""


@pytest.mark.parametrize(
    "frame",
    [b"", b"hello world", b"<14>2 - h a p - - m", b"<x>1 - h a p - - m", b"<14>1 - h a p - junk m",
     b"<14>1 yesterday h a p - - m", b"<14>1 - h a p - [unterminated", b"<14>1 - h\xff a p - - m"],
)
def test_parse_rejects_garbage(frame: bytes) -> None:
    with pytest.raises(FrameError):
        parse(frame)


def test_decoder_reassembles_frames_fed_byte_by_byte() -> None:
    stream = b"".join(encode(LogLine(TS, "app", "web.1", f"line {i}"), "h") for i in range(3))
    stream += b"<14>1 - h app web.1 - - non-transparent\n"
    decoder = FrameDecoder()
    frames: list[bytes] = []
    for i in range(len(stream)):
        frames += decoder.feed(stream[i : i + 1])
    assert [parse(f).message for f in frames] == [b"line 0", b"line 1", b"line 2", b"non-transparent"]


@pytest.mark.parametrize("data", [b"12x <14>1", b"99999999 ", b"-5 abc", b"1234567890123"])
def test_decoder_rejects_unframed_streams(data: bytes) -> None:
    decoder = FrameDecoder()
    good = encode(LogLine(TS, "app", "web.1", "good"), "h")
    assert [parse(f).message for f in decoder.feed(good + data)] == [b"good"]
    assert decoder.error is not None
    assert decoder.feed(good) == []
