"""The Procfile (``type: command`` per line) and the process types a slug ends up with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import yaml

from pyroku.build._exceptions import CompileFailed, ProcfileError

PROCESS_TYPE: Final = re.compile(r"^[A-Za-z0-9_-]+$")
_LINE: Final = re.compile(r"^([^:]*):(.*)$")
MAX_TYPE_LENGTH: Final = 128


def parse_procfile(text: str) -> dict[str, str]:
    """Process type → command. Blank lines and ``#`` comments are skipped; anything else must be
    ``type: command`` with a type of letters, digits, ``_`` and ``-``. Raises :class:`ProcfileError`
    naming the first bad line."""
    types: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ProcfileError(f"Procfile line {number} is not 'type: command': {_shown(raw)}")
        kind, command = match.group(1).strip(), match.group(2).strip()
        if not PROCESS_TYPE.match(kind) or len(kind) > MAX_TYPE_LENGTH:
            raise ProcfileError(
                f"Procfile line {number}: invalid process type {kind!r} "
                "(use letters, digits, dashes and underscores): " + _shown(raw)
            )
        if not command:
            raise ProcfileError(f"Procfile line {number}: process type {kind!r} has no command")
        if kind in types:
            raise ProcfileError(f"Procfile line {number}: process type {kind!r} is declared twice")
        types[kind] = command
    return types


def _shown(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")


def parse_release(text: str) -> dict[str, str]:
    """``default_process_types`` from ``bin/release``'s YAML (empty output means none)."""
    if not text.strip():
        return {}
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CompileFailed(f"bin/release did not print valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CompileFailed("bin/release must print a YAML mapping")
    defaults = data.get("default_process_types") or {}
    if not isinstance(defaults, dict):
        raise CompileFailed("default_process_types from bin/release must be a mapping of type to command")
    types: dict[str, str] = {}
    for kind, command in defaults.items():
        if not isinstance(kind, str) or not PROCESS_TYPE.match(kind) or not isinstance(command, str | int):
            raise CompileFailed(f"bin/release gave an invalid default process type {kind!r}")
        if str(command).strip():
            types[kind] = str(command).strip()
    return types


def merge_process_types(procfile: Mapping[str, str], defaults: Mapping[str, str]) -> dict[str, str]:
    """The Procfile's entries, plus the buildpack's defaults for types the Procfile lacks."""
    merged = dict(procfile)
    for kind, command in defaults.items():
        merged.setdefault(kind, command)
    return merged
