"""The command group that turns every failure into one ``▸`` line on stderr and exit status 1."""

from __future__ import annotations

import copy
import os
import traceback
from typing import IO, Any

import click

from pyroku.cli._exceptions import CLIError
from pyroku.cli._output import ERROR_PREFIX


class ErrorLine(click.ClickException):
    """A :class:`click.ClickException` shown as `` ▸    message`` instead of ``Error: message``."""

    exit_code = 1

    def show(self, file: IO[Any] | None = None) -> None:
        color = False if "NO_COLOR" in os.environ else None
        line = click.style(f"{ERROR_PREFIX}{self.message}", fg="red")
        click.echo(line, file=file, err=True, color=color)


def _usage_message(exc: click.UsageError) -> str:
    message = exc.format_message().strip().rstrip(".")
    path = exc.ctx.command_path if exc.ctx is not None else "pyroku"
    return f"{message} (see '{path} --help')"


def translate(exc: BaseException) -> ErrorLine | None:
    """The :class:`ErrorLine` to show for ``exc``, or ``None`` to let it through unchanged."""
    if isinstance(exc, ErrorLine | click.exceptions.NoArgsIsHelpError | click.exceptions.Exit):
        return None
    if isinstance(exc, CLIError):
        return ErrorLine(str(exc))
    if isinstance(exc, click.UsageError):
        return ErrorLine(_usage_message(exc))
    if isinstance(exc, click.ClickException):
        return ErrorLine(exc.format_message())
    if isinstance(exc, click.Abort | KeyboardInterrupt | EOFError):
        return ErrorLine("Aborted.")
    return None


class ClientCommand(click.Command):
    """A client command: even a bug ends as one line (the traceback with ``PYROKU_DEBUG=1``).

    Only client commands get this; ``pyroku server`` keeps its tracebacks for the operator's logs.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if translate(exc) is not None or isinstance(exc, ErrorLine | click.exceptions.Exit):
                raise
            if os.environ.get("PYROKU_DEBUG"):
                traceback.print_exc()
            detail = str(exc).strip().splitlines()
            text = f"{type(exc).__name__}: {detail[0]}" if detail else type(exc).__name__
            raise ErrorLine(f"Unexpected error: {text} (set PYROKU_DEBUG=1 for details)") from exc


class PyrokuGroup(click.Group):
    """Shows :class:`CLIError`, usage errors and interrupts as one line, for every subcommand."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except BaseException as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BaseException as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from exc

    def add_alias(self, command: click.Command, alias: str) -> None:
        """Register ``command`` again under ``alias``, hidden from ``--help``."""
        hidden = copy.copy(command)
        hidden.hidden = True
        self.add_command(hidden, alias)
