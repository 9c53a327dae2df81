"""Small file helpers shared by components."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path


def delete_tree(path: Path) -> None:
    """Delete the directory ``path``: renamed out of sight at once (a hidden sibling), then removed, so
    nobody finds it half-deleted. Nothing happens when it does not exist."""
    doomed = path.with_name(f".{path.name}.{secrets.token_hex(6)}.deleted")
    try:
        path.rename(doomed)
    except FileNotFoundError:
        return
    shutil.rmtree(doomed, ignore_errors=True)
