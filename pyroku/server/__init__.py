"""The `pyroku server` entry point: wires state, API and (later) the other components."""

from pyroku.server._command import server_command
from pyroku.server._config import ServerConfig

__all__ = ["ServerConfig", "server_command"]
