"""What the user reads: aligned tables, ``=== headers``, ``key: value`` blocks, actions, JSON.

Colour is used only when stdout is a terminal and ``NO_COLOR`` is not set; everything else is the
same plain text, so tests and pipes see exactly what a user sees minus the escape codes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

import click

ERROR_PREFIX = " ▸    "
APP_SYMBOL = "⬢"


def format_table(rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None) -> list[str]:
    """Left-aligned columns separated by two spaces, a ``───`` rule under the headers, no trailing blanks."""
    all_rows = [list(headers)] if headers else []
    all_rows += [list(row) for row in rows]
    if not all_rows:
        return []
    columns = max(len(row) for row in all_rows)
    for row in all_rows:
        row.extend([""] * (columns - len(row)))
    widths = [max(len(row[col]) for row in all_rows) for col in range(columns)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    lines = [line(row) for row in all_rows]
    if headers:
        lines.insert(1, "  ".join("─" * width for width in widths))
    return lines


def format_object(pairs: Mapping[str, str] | Sequence[tuple[str, str]]) -> list[str]:
    """``Key:  value`` lines with values aligned, like Heroku's styled objects."""
    items = list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs)
    if not items:
        return []
    width = max(len(key) for key, _ in items) + 1
    lines = []
    for key, value in items:
        label = f"{key}:".ljust(width)
        value_lines = str(value).split("\n")
        lines.append(f"{label} {value_lines[0]}".rstrip())
        lines.extend(f"{' ' * width} {more}".rstrip() for more in value_lines[1:])
    return lines


def format_time(value: Any) -> str:
    """An API timestamp as ``2024/05/01 12:34:56 +0000``; anything unparsable is shown as is."""
    if not isinstance(value, str) or not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y/%m/%d %H:%M:%S +0000")


def format_size(size: str) -> str:
    """Dyno size as Heroku displays it: ``standard-2x`` → ``Standard-2X``."""
    first, _, rest = size.partition("-")
    return first.capitalize() + (f"-{rest.upper()}" if rest else "")


def join_names(names: Sequence[str]) -> str:
    return ", ".join(names)


class Output:
    """Writes to stdout (results) and stderr (errors, warnings)."""

    def __init__(self, *, color: bool, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.color = color
        self._stdout = stdout
        self._stderr = stderr

    @classmethod
    def for_terminal(cls, *, no_color: bool) -> Output:
        return cls(color=not no_color and sys.stdout.isatty())

    def _style(self, text: str, **styles: Any) -> str:
        return click.style(text, **styles) if self.color else text

    def app(self, name: str) -> str:
        return self._style(f"{APP_SYMBOL} {name}", fg="magenta")

    def echo(self, text: str = "", *, nl: bool = True) -> None:
        click.echo(text, file=self._stdout, nl=nl, color=self.color)

    def lines(self, lines: Sequence[str]) -> None:
        for text in lines:
            self.echo(text)

    def header(self, text: str) -> None:
        self.echo(self._style(f"=== {text}", bold=True))

    def table(self, rows: Sequence[Sequence[str]], headers: Sequence[str] | None = None) -> None:
        formatted = format_table(rows, headers)
        if headers and formatted:
            formatted[0] = self._style(formatted[0], bold=True)
        self.lines(formatted)

    def object(self, pairs: Mapping[str, str] | Sequence[tuple[str, str]]) -> None:
        self.lines(format_object(pairs))

    def json(self, data: Any) -> None:
        self.echo(json.dumps(data, indent=2, ensure_ascii=False))

    def warn(self, text: str) -> None:
        click.echo(f"{ERROR_PREFIX}{text}", file=self._stderr or sys.stderr, err=True)

    @contextmanager
    def action(self, text: str) -> Iterator[ActionResult]:
        """``Text... done[, suffix]`` on one line; ``Text... !`` when the block raises."""
        self.echo(f"{text}... ", nl=False)
        result = ActionResult()
        try:
            yield result
        except BaseException:
            self.echo(self._style("!", fg="red"))
            raise
        done = self._style("done", fg="green")
        self.echo(f"{done}, {result.suffix}" if result.suffix else done)


class ActionResult:
    """Set ``suffix`` inside an :meth:`Output.action` block to print ``done, <suffix>``."""

    def __init__(self) -> None:
        self.suffix = ""
