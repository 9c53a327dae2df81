"""Opening a URL in the user's browser: ``$BROWSER`` first, then ``xdg-open`` / ``open``."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping


def browser_argv(url: str, environ: Mapping[str, str]) -> list[str] | None:
    """The command that opens ``url``, or ``None`` when no browser is configured or installed."""
    configured = environ.get("BROWSER", "").split(os.pathsep)[0].strip()
    if configured:
        argv = shlex.split(configured)
        if any("%s" in arg for arg in argv):
            return [arg.replace("%s", url) for arg in argv]
        return [*argv, url]
    for opener in ("xdg-open", "open"):
        found = shutil.which(opener)
        if found:
            return [found, url]
    return None


def open_in_browser(url: str) -> bool:
    """Open ``url`` when stdout is a terminal and a browser is available; returns whether it did."""
    if not sys.stdout.isatty():
        return False
    argv = browser_argv(url, os.environ)
    if argv is None:
        return False
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return False
    return True
