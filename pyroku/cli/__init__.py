"""The ``pyroku`` command: talks to the Platform API over HTTP only."""

from pyroku.cli._main import main

__all__ = ["main"]
