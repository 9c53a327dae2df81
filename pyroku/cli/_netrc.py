"""Credentials in ``~/.netrc``, stored like the Heroku CLI does::

    machine 127.0.0.1
      login me@example.com
      password <token>

Reading uses the standard :mod:`netrc` module. Writing edits the text in place: only the entries
for our machine are removed or replaced, every other entry, comment and ``macdef`` is kept byte for
byte, and the file is replaced atomically with mode 0600.
"""

from __future__ import annotations

import netrc
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pyroku.cli._exceptions import CredentialsFileError

_TOP_LEVEL = frozenset({"machine", "default", "macdef"})
_NEEDS_QUOTES = re.compile(r'[\s"#\\]')


@dataclass(frozen=True)
class Credentials:
    login: str
    token: str


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int


def read_credentials(path: Path, machine: str) -> Credentials | None:
    """The login and token stored for ``machine``, or ``None`` when there are none."""
    if not path.exists():
        return None
    try:
        # Not ``authenticators()``: it falls back to the ``default`` entry, whose password is no token.
        entry = netrc.netrc(os.fspath(path)).hosts.get(machine)
    except (OSError, netrc.NetrcParseError) as exc:
        raise CredentialsFileError(f"Cannot read {path}: {exc}") from exc
    if entry is None or not entry[2]:
        return None
    return Credentials(login=entry[0], token=entry[2])


def write_credentials(path: Path, machine: str, credentials: Credentials) -> None:
    """Store ``credentials`` for ``machine``, replacing any entry it had."""
    text = _remove_machine(_read_text(path), machine)
    if text and not text.endswith("\n"):
        text += "\n"
    text += f"machine {_quote(machine)}\n  login {_quote(credentials.login)}\n  password {_quote(credentials.token)}\n"
    _write_text(path, text)


def remove_credentials(path: Path, machine: str) -> bool:
    """Remove every entry for ``machine``; returns whether there was one."""
    if not path.exists():
        return False
    before = _read_text(path)
    after = _remove_machine(before, machine)
    if after == before:
        return False
    _write_text(path, after)
    return True


def _quote(value: str) -> str:
    if not value:
        return '""'
    if not _NEEDS_QUOTES.search(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsFileError(f"Cannot read {path}: {exc}") from exc


def _write_text(path: Path, text: str) -> None:
    """Replace the file atomically; follows a symlinked ``~/.netrc`` to its target."""
    target = Path(os.path.realpath(path))
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=".netrc.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as tmp:
                os.fchmod(tmp.fileno(), 0o600)
                tmp.write(text)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise CredentialsFileError(f"Cannot write {path}: {exc}") from exc


def _tokens(text: str) -> list[_Token]:
    """Split netrc text into tokens with their positions, as :mod:`netrc` reads it.

    Comments (``#`` to end of line) are skipped, ``"quoted tokens"`` are one token, and the body of
    a ``macdef`` (up to the next blank line) is one token so that its words are never mistaken for
    keywords.
    """
    tokens: list[_Token] = []
    pos, size = 0, len(text)
    while pos < size:
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char == "#":
            newline = text.find("\n", pos)
            pos = size if newline < 0 else newline + 1
        elif char == '"':
            start, pos = pos, pos + 1
            while pos < size and text[pos] != '"':
                pos += 2 if text[pos] == "\\" else 1
            pos = min(pos + 1, size)
            tokens.append(_Token(text[start:pos], start, pos))
        else:
            start = pos
            while pos < size and not text[pos].isspace():
                pos += 2 if text[pos] == "\\" else 1
            pos = min(pos, size)
            tokens.append(_Token(text[start:pos], start, pos))
            if text[start:pos] == "macdef":
                pos = _skip_macro(text, pos, tokens)
    return tokens


def _skip_macro(text: str, pos: int, tokens: list[_Token]) -> int:
    """After ``macdef``: record the name token, then the body up to a blank line as one token."""
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    name = text[pos:line_end].strip()
    if name:
        name_start = text.index(name, pos)
        tokens.append(_Token(name, name_start, name_start + len(name)))
    body_start = min(line_end + 1, len(text))
    blank = text.find("\n\n", line_end)
    body_end = len(text) if blank < 0 else blank + 1
    if body_end > body_start:
        tokens.append(_Token(text[body_start:body_end], body_start, body_end))
    return body_end


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        token = token[1:-1]
    return re.sub(r"\\(.)", r"\1", token)


def _remove_machine(text: str, machine: str) -> str:
    """``text`` without the entries for ``machine`` (each from its keyword to its last token)."""
    tokens = _tokens(text)
    spans: list[tuple[int, int]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        is_ours = token.text == "machine" and index + 1 < len(tokens) and _unquote(tokens[index + 1].text) == machine
        if not is_ours:
            index += 1
            continue
        last = index + 1
        while last + 1 < len(tokens) and tokens[last + 1].text not in _TOP_LEVEL:
            last += 1
        spans.append(_line_span(text, token.start, tokens[last].end))
        index = last + 1
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return text


def _line_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` to whole lines (with a trailing comment) when no other entry shares them."""
    line_start = text.rfind("\n", 0, start) + 1
    if not text[line_start:start].strip():
        start = line_start
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    rest = text[end:line_end].strip()
    if not rest or rest.startswith("#"):
        end = min(line_end + 1, len(text))
    return start, end
