"""The router's request path runs compiled by mypyc, from the sources in the tree, and the same
code interpreted (the fallback when compilation is impossible) passes the same tests.

``scripts/setup`` builds the extension modules (``scripts/build_native.py``); they shadow the
``.py`` files, so stale ones would silently run old code.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build_native.py"


def _build_native() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_native", BUILD_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_request_path_is_compiled_from_the_current_sources() -> None:
    build = _build_native()
    assert build.up_to_date(), "the compiled router modules are missing or stale: run scripts/setup"
    for name in build.MODULES:
        module = importlib.import_module(f"pyroku.router.{name}")
        assert (module.__file__ or "").endswith(".so"), f"pyroku.router.{name} runs interpreted"


def test_check_mode_reports_a_stale_build_without_building() -> None:
    build = _build_native()
    stamp = build.STAMP.read_text()
    try:
        build.STAMP.write_text("0" * 64 + "\n")
        result = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--check"], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 1
        assert "missing or stale (run scripts/setup)" in result.stderr
    finally:
        build.STAMP.write_text(stamp)
    assert build.up_to_date()


def test_the_router_tests_pass_interpreted_too() -> None:
    env = dict(os.environ, PYROKU_ROUTER_INTERPRETED="1")
    probe = subprocess.run([sys.executable, "-c", "import pyroku.router._client as m; print(m.__file__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert probe.stdout.strip().endswith("_client.py")  # the switch works: what follows runs interpreted
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests/router",
         f"--ignore={Path(__file__).relative_to(REPO)}"],
        cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
