"""The router log line, byte for byte."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pyroku.router import CODES, format_line
from tests.router._support import app, backend, router, run, table

INFO = re.compile(
    r'at=info method=GET path="/a\?b=1" host=myapp\.localhost request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" '
    r"dyno=web\.1 connect=\d+ms service=\d+ms status=200 bytes=\d+ protocol=http"
)


def test_info_line_grammar(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            response = await r.get("/a?b=1")
            line = await r.line()
            assert INFO.fullmatch(line), line
            sent = int(line.rsplit("bytes=", 1)[1].split()[0])
            assert sent == len(response.raw_head) + len(response.body)
            assert r.sink.lines[-1][0] == "id-myapp"

    run(scenario)


def test_format_line_exact() -> None:
    assert format_line("GET", "/", "h.localhost", "rid", "1.2.3.4", "web.1", 1, 23, 200, 456, "https") == (
        'at=info method=GET path="/" host=h.localhost request_id=rid fwd="1.2.3.4" '
        "dyno=web.1 connect=1ms service=23ms status=200 bytes=456 protocol=https"
    )
    assert format_line("GET", "/", "h", "rid", "1.2.3.4", "", -1, -1, 503, -1, "http", "H14") == (
        'at=error code=H14 desc="No web processes running" method=GET path="/" host=h request_id=rid '
        'fwd="1.2.3.4" dyno= connect= service= status=503 bytes= protocol=http'
    )
    assert format_line("POST", '/q"x', "h", "rid", "ip", "web.2", 0, 5, 499, 0, "http", "H27") == (
        'sock=client at=warning code=H27 desc="Client Request Interrupted" method=POST path="/q%22x" host=h '
        'request_id=rid fwd="ip" dyno=web.2 connect=0ms service=5ms status=499 bytes=0 protocol=http'
    )
    assert format_line("GET", "/", "h", "r", "f", "web.1", 0, 9, 503, 10, "http", "H18").startswith(
        'sock=backend at=error code=H18 desc="Server Request Interrupted" method=GET')
    assert format_line("GET", "/", "h", "r", "f", "", -1, -1, 417, -1, "http", "H26", "bad expect").startswith(
        'at=error code=H26 desc="Request Error" cause="bad expect" method=GET')
    assert format_line("GET", "/", "h", "r", "f", "", -1, -1, 503, -1, "http", "H80").startswith(
        'at=info code=H80 desc="Maintenance mode" method=GET')


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_level_and_status(code: str) -> None:
    info = CODES[code]
    assert info.level in ("info", "warning", "error")
    assert info.status in (400, 499, 502, 503)


def test_client_supplied_values_cannot_break_the_quoting(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port))) as r:
            await r.get(headers=[("X-Forwarded-For", 'evil" status=200')], host="myapp.localhost:80 x")
            line = await r.line()
            assert 'fwd="evil%22 status=200, 127.0.0.1"' in line
            assert " host=myapp.localhost:80%20x " in line
            assert line.count('"') == 4

    run(scenario)
