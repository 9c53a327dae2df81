"""Tables, styled objects, sizes and times as the user reads them."""

from __future__ import annotations

import io

import pytest

from pyroku.cli._output import Output, format_object, format_size, format_table, format_time


def test_table_aligns_columns_without_trailing_blanks() -> None:
    assert format_table([["v10", "Set A config vars", "a@example.com"], ["v9", "Initial release", ""]]) == [
        "v10  Set A config vars  a@example.com",
        "v9   Initial release",
    ]


def test_table_with_headers_has_a_rule_and_pads_short_rows() -> None:
    assert format_table([["web", "1"], ["worker"]], headers=["Type", "Qty"]) == [
        "Type    Qty",
        "──────  ───",
        "web     1",
        "worker",
    ]
    assert format_table([]) == []


def test_object_aligns_values_and_indents_continuation_lines() -> None:
    assert format_object({"A": "1", "LONG_KEY": "two words", "MULTI": "x\ny"}) == [
        "A:        1",
        "LONG_KEY: two words",
        "MULTI:    x",
        "          y",
    ]
    assert format_object([("EMPTY", "")]) == ["EMPTY:"]


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        ("standard-1x", "Standard-1X"),
        ("Standard-2X", "Standard-2X"),
        ("basic", "Basic"),
        ("performance-m", "Performance-M"),
    ],
)
def test_format_size(size: str, shown: str) -> None:
    assert format_size(size) == shown


def test_format_time() -> None:
    assert format_time("2024-05-01T12:34:56Z") == "2024/05/01 12:34:56 +0000"
    assert format_time("2024-05-01T14:34:56+02:00") == "2024/05/01 12:34:56 +0000"
    assert format_time("yesterday") == "yesterday"
    assert format_time(None) == ""


def test_action_prints_done_with_suffix_or_a_bang_on_error() -> None:
    buffer = io.StringIO()
    out = Output(color=False, stdout=buffer)
    with out.action("Creating ⬢ myapp") as result:
        result.suffix = "v3"
    with pytest.raises(RuntimeError), out.action("Scaling dynos"):
        raise RuntimeError("boom")
    assert buffer.getvalue() == "Creating ⬢ myapp... done, v3\nScaling dynos... !\n"


def test_colour_only_when_enabled() -> None:
    plain, coloured = io.StringIO(), io.StringIO()
    Output(color=False, stdout=plain).header(Output(color=False).app("myapp"))
    Output(color=True, stdout=coloured).header(Output(color=True).app("myapp"))
    assert plain.getvalue() == "=== ⬢ myapp\n"
    assert "\x1b[" in coloured.getvalue()
