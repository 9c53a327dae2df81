"""Compile the router's request path with mypyc; run by ``scripts/setup``, a no-op when up to date.

The modules below are ordinary, strictly typed Python. Compiled by mypyc they cost about a third
less CPU per proxied request, which is what takes the router past 0.6x nginx (``bench/router``).
The extension modules are written next to their sources and shadow them, so they are rebuilt
whenever a source (or mypy's version) changes: ``pyroku/router/.native-stamp`` holds the digest they
were built from. If compilation fails they are removed and the router runs the same code interpreted.

    .venv/bin/python scripts/build_native.py [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "pyroku" / "router"
MODULES = ("_client", "_config", "_context", "_exchange", "_headers", "_logline", "_metrics", "_response", "_routes",
           "_sink", "_upstream")
GROUP = "pyroku.router._native"  # the shared library: pyroku/router/_native__mypyc.*.so
STAMP = PACKAGE / ".native-stamp"
SUFFIX = sysconfig.get_config_var("EXT_SUFFIX")  # e.g. .cpython-311-x86_64-linux-gnu.so: this Python's


def sources() -> list[Path]:
    return [PACKAGE / f"{name}.py" for name in MODULES]


def digest() -> str:
    """What the extension modules must have been built from: the sources, mypy and this Python."""
    import mypy.version

    h = hashlib.sha256(f"{mypy.version.__version__} {SUFFIX}".encode())
    for path in sources():
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def built() -> list[Path]:
    """The extension modules present in the package directory."""
    return sorted(p for name in (*MODULES, "_native__mypyc") if (p := PACKAGE / f"{name}{SUFFIX}").is_file())


def up_to_date() -> bool:
    return STAMP.is_file() and STAMP.read_text().strip() == digest() and len(built()) == len(MODULES) + 1


def remove() -> None:
    for path in PACKAGE.glob("*.so"):  # this Python's and any other's
        path.unlink()
    STAMP.unlink(missing_ok=True)


def compile_modules() -> None:
    """Run mypyc through setuptools in a scratch directory; the modules land in the package."""
    with tempfile.TemporaryDirectory(prefix="pyroku-mypyc-") as scratch:
        script = (
            "import sys\n"
            "from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            f"setup(name='pyroku-native', script_args=['build_ext', '--inplace', '--parallel', '2',"
            f" '--build-temp', {scratch + '/temp'!r}, '--build-lib', {scratch + '/lib'!r}],"
            f" ext_modules=mypycify({[str(p.relative_to(REPO)) for p in sources()]!r}, opt_level='3',"
            f" group_name={GROUP!r}, target_dir={scratch + '/c'!r}))\n"
        )
        result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                                check=False)
    if result.returncode != 0:
        remove()
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
        raise SystemExit(f"build_native: mypyc failed; the router will run interpreted\n{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether the modules are current")
    args = parser.parse_args()
    if up_to_date():
        return
    if args.check:
        raise SystemExit("build_native: the compiled router modules are missing or stale (run scripts/setup)")
    remove()
    print("setup: compiling the router's request path with mypyc (about 20 s)")
    compile_modules()
    STAMP.write_text(digest() + "\n")


if __name__ == "__main__":
    main()
