"""Reading answers from the user: hidden input on a terminal, plain lines from a pipe."""

from __future__ import annotations

import sys

import click

from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._output import Output


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def ask(label: str, *, hidden: bool = False) -> str:
    """Prompt ``label: `` and return the answer without its line ending.

    On a terminal the answer to a ``hidden`` question is not echoed. From a pipe a plain line is read
    (so tests and scripts can feed answers), and the prompt ends with a newline since nothing echoes.
    """
    if stdin_is_tty():
        answer: str = click.prompt(label, hide_input=hidden, default="", show_default=False)
        return answer
    click.echo(f"{label}: ", nl=False)
    line = sys.stdin.readline()
    click.echo()
    if not line:
        raise InvalidInput(f"No {label.lower()} given: standard input is closed")
    return line.rstrip("\r\n")


def confirm_name(out: Output, name: str, confirm: str | None, *, doing: str, warning: str) -> None:
    """Before something that cannot be undone, make the user type `name` (or pass `--confirm NAME`).

    Without a terminal and without `--confirm` it refuses, saying `doing` is permanent."""
    if confirm is None:
        if not stdin_is_tty():
            raise CLIError(f"{doing} is permanent: re-run with --confirm {name}")
        out.warn(warning)
        out.warn(f"To proceed, type {name} or re-run this command with --confirm {name}")
        confirm = click.prompt("", prompt_suffix="> ", default="", show_default=False).strip() or "(empty)"
    if confirm != name:
        raise CLIError(f"Confirmation {confirm} did not match {name}. Aborted.")
