"""Things build tests make: tiny wheels (so pip installs without a network), buildpacks, source trees."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path


def make_wheel(directory: Path, name: str, version: str, module_source: str) -> Path:
    """A pure-Python wheel of one module `name` (pip installs it from the file, no index needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": module_source,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: pyroku-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


def write_tree(root: Path, files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        if name in executable or name.startswith("bin/"):
            path.chmod(0o755)
    return root


def make_buildpack(root: Path, *, name: str, detect: str = "true", compile: str = "true",
                   release: str = "echo '--- {}'") -> Path:
    """A classic buildpack whose scripts are these bash snippets (detect prints `name` when it passes)."""
    write_tree(root, {
        "bin/detect": f"#!/bin/bash\nset -e\n{detect}\necho {name}\n",
        "bin/compile": f"#!/bin/bash\nset -e\nBUILD_DIR=$1 CACHE_DIR=$2 ENV_DIR=$3\n{compile}\n",
        "bin/release": f"#!/bin/bash\n{release}\n",
    })
    return root


def git_repository(root: Path, files: dict[str, str | bytes] | None = None, *, bare_copy: Path | None = None) -> Path:
    """A git repository with one commit of `files` (or of what is already in `root`)."""
    root.mkdir(parents=True, exist_ok=True)
    if files:
        write_tree(root, files)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    if bare_copy is not None:
        subprocess.run(["git", "clone", "-q", "--bare", str(root), str(bare_copy)], check=True)
        return bare_copy
    return root


def git(
    root: Path, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run git in `root`; `env`, when given, is the whole environment (plus a committer identity)."""
    full_env = {**(env if env is not None else os.environ), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, env=full_env,
                          check=check, timeout=300)
