"""``.slugignore``: paths deleted from the source before the buildpacks run.

The syntax is ``.gitignore``'s without negation: ``#`` comments, ``*``/``?``/``[...]`` globs that
never cross ``/``, ``**`` that does, a trailing ``/`` for directories only, and a pattern with a
``/`` (other than a trailing one) anchored at the app's root; otherwise it matches a name at any depth.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

SLUGIGNORE = ".slugignore"


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    anchored: bool
    directories_only: bool

    def matches(self, relative: str, is_dir: bool) -> bool:
        if self.directories_only and not is_dir:
            return False
        target = relative if self.anchored else relative.rsplit("/", 1)[-1]
        return self.regex.fullmatch(target) is not None


def _glob_regex(glob: str) -> str:
    out = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = glob[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body.replace(chr(92), chr(92) * 2)}]")
                i = end
        elif char == "\\" and i + 1 < len(glob):
            i += 1
            out.append(re.escape(glob[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def parse_slugignore(text: str) -> list[_Pattern]:
    patterns = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("!"):
            continue  # negation is not supported, as on Heroku
        directories_only = line.endswith("/")
        line = line.rstrip("/")
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            continue
        try:
            regex = re.compile(_glob_regex(line))
        except re.error:
            continue
        patterns.append(_Pattern(regex, anchored, directories_only))
    return patterns


def apply_slugignore(root: Path, text: str) -> list[str]:
    """Delete what ``text``'s patterns match under ``root`` (never following symlinks); returns the
    relative paths deleted (a deleted directory is listed once)."""
    patterns = parse_slugignore(text)
    removed: list[str] = []
    if not patterns:
        return removed
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = os.path.relpath(dirpath, root)
        base = "" if base == "." else base + "/"
        for name in list(dirnames):
            relative = base + name
            path = os.path.join(dirpath, name)
            link = os.path.islink(path)
            if any(p.matches(relative, not link) for p in patterns):
                if link:
                    os.unlink(path)
                else:
                    shutil.rmtree(path)
                dirnames.remove(name)
                removed.append(relative)
        for name in filenames:
            relative = base + name
            if any(p.matches(relative, False) for p in patterns):
                os.unlink(os.path.join(dirpath, name))
                removed.append(relative)
    return removed
