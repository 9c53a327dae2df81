"""``PYROKU_ROUTER_INTERPRETED=1``: the request path runs from its ``.py`` files even where the
mypyc-built extension modules exist (``scripts/build_native.py``) — for debugging with full
tracebacks, and for the test that keeps the interpreted fallback passing the same tests."""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

ENV: str = "PYROKU_ROUTER_INTERPRETED"


class _SourceFirst(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if not fullname.startswith("pyroku.router.") or not path:
            return None
        loaders = (importlib.machinery.SourceFileLoader, importlib.machinery.SOURCE_SUFFIXES)
        return importlib.machinery.FileFinder(path[0], loaders).find_spec(fullname)


def install_if_asked() -> None:
    """Put the source-first finder ahead of the others when ``PYROKU_ROUTER_INTERPRETED`` is set."""
    if os.environ.get(ENV) and not any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst())
