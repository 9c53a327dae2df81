"""The slug compiler with real build containers (runc, the stack): bundled and custom buildpacks,
the build cache, version checks, limits. Nothing here needs the network: Python packages come from
wheels in the app, Node apps have no dependencies.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pyroku.build import (
    BuildConfig,
    BuildTimeout,
    CompiledApp,
    CompileFailed,
    CompileRequest,
    LocalBuildpack,
    NoProcessTypes,
    ProcfileError,
    SlugCompiler,
    SlugLimits,
    SlugTooLarge,
    pack_slug,
)
from pyroku.build._buildpacks import Buildpack
from pyroku.runtime import BuildRuntimeConfig, NetworkConfig, RuncBuildRunner, ensure_stack, remove_firewall
from pyroku.runtime.stack import DEFAULT_STACKS_DIR
from pyroku.slugs import LocalSlugStore
from tests.build.support import make_buildpack, make_wheel, write_tree

pytestmark = pytest.mark.slow

NETWORK = NetworkConfig(subnet="10.216.192.0/18", interface_prefix="pgc", nft_table="pyroku_git_compile")

APP_PY = "import greeting\nprint(greeting.TEXT)\n"


@dataclass
class Compiler:
    compiler: SlugCompiler
    config: BuildConfig
    base: Path

    def compile(self, files: dict[str, str | bytes], *, cache: str = "app", packs: list[Buildpack] | None = None,
                config_vars: dict[str, str] | None = None, keep: bool = False) -> tuple[CompiledApp, list[str], Path]:
        build_id = str(uuid.uuid4())
        work = self.config.work_dir / build_id
        work.mkdir(mode=0o711)
        write_tree(work / "app", files)
        for path in [work / "app", *(work / "app").rglob("*")]:
            os.lchown(path, 1000, 1000)
        lines: list[str] = []
        request = CompileRequest(build_id=build_id, work_dir=work, cache_dir=self.config.cache_dir / cache,
                                 config_vars=config_vars or {}, buildpacks=packs or [])
        try:
            compiled = asyncio.run(self.compiler.compile(request, lines.append))
        except Exception as exc:
            exc.add_note("\n".join(lines))
            raise
        return compiled, lines, work

    def fails(self, files: dict[str, str | bytes], error: type[Exception], **kwargs: object) -> tuple[str, str]:
        lines: list[str] = []
        with pytest.raises(error) as caught:
            self.compile(files, **kwargs)  # type: ignore[arg-type]
        notes = getattr(caught.value, "__notes__", [])
        lines = notes[0].splitlines() if notes else []
        return str(caught.value), "\n".join(lines)


@pytest.fixture(scope="module")
def compiler() -> Iterator[Compiler]:
    if os.geteuid() != 0:
        pytest.fail("build containers need root")
    stack = ensure_stack(DEFAULT_STACKS_DIR)
    base = Path(tempfile.mkdtemp(prefix="pyroku-compile-"))
    runner = RuncBuildRunner(BuildRuntimeConfig(state_dir=base / "state", stack_dir=stack.path, network=NETWORK,
                                                cgroup_parent="/pyroku-test-build"))
    config = BuildConfig.under(base, timeout=60, memory_mb=512)
    for directory in (config.work_dir, config.cache_dir):
        directory.mkdir(parents=True)
    config.work_dir.chmod(0o711)
    yield Compiler(SlugCompiler(runner, config), config, base)
    shutil.rmtree(base, ignore_errors=True)
    remove_firewall(NETWORK.nft_table)


def test_python_app_from_a_vendored_wheel_and_the_dependency_cache(compiler: Compiler, tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path, "greeting", "1.0", "TEXT = 'hello from a wheel'\n")
    files: dict[str, str | bytes] = {
        "requirements.txt": "./vendor/greeting-1.0-py3-none-any.whl\n",
        f"vendor/{wheel.name}": wheel.read_bytes(),
        "app.py": APP_PY,
        "Procfile": "web: python app.py\nrelease: python -c 'print(1)'\n",
        ".python-version": "3.11\n",
        ".slugignore": "*.md\n",
        "README.md": "not in the slug\n",
    }
    compiled, lines, work = compiler.compile(files, cache="py")
    assert compiled.process_types == {"web": "python app.py", "release": "python -c 'print(1)'"}
    assert compiled.detected == ("Python",)
    assert "-----> Python app detected" in lines
    assert any("Using Python 3.11." in line and ".python-version asks for 3.11" in line for line in lines)
    assert "-----> Installing dependencies with pip" in lines
    assert any("Successfully installed greeting-1.0" in line for line in lines)
    assert not (work / "app" / "README.md").exists()
    venv = work / "app" / ".heroku" / "python"
    assert (venv / "lib" / "python3.11" / "site-packages" / "greeting.py").is_file()
    assert "$HOME/.heroku/python/bin" in (work / "app" / ".profile.d" / "python.sh").read_text()
    assert (work / "app" / "vendor").stat().st_uid == 1000  # built as the dyno user, never root

    store = LocalSlugStore(tmp_path / "slugs")
    packed = pack_slug(work, "slug-1", store, SlugLimits(), uid=1000, gid=1000)
    assert packed.checksum == store.checksum("slug-1") and packed.size == store.size("slug-1")
    with store.open("slug-1") as raw, tarfile.open(fileobj=raw) as tar:
        names = set(tar.getnames())
    assert {"app/Procfile", "app/app.py", "app/.heroku/python/bin/python"} <= names

    _, again, _ = compiler.compile(files, cache="py")
    assert any("Restoring the cached virtualenv" in line for line in again)
    assert not any("Installing dependencies" in line for line in again)

    changed = {**files, "requirements.txt": files["requirements.txt"] + "# changed\n"}
    _, third, _ = compiler.compile(changed, cache="py")
    assert "-----> Installing dependencies with pip" in third


def test_python_versions_other_than_the_stacks_fail_clearly(compiler: Compiler) -> None:
    message, output = compiler.fails({"runtime.txt": "python-3.9.18\n", "Procfile": "web: x\n"}, CompileFailed)
    assert "bin/compile failed" in message
    assert "Requested Python 3.9.18 (in runtime.txt) is not available." in output
    assert "provides Python 3.11." in output and "set runtime.txt to 3.11" in output
    _, output = compiler.fails({".python-version": "banana\n", "Procfile": "web: x\n"}, CompileFailed)
    assert "Invalid Python version 'banana'" in output


def test_nodejs_app_with_build_script_and_npm_start(compiler: Compiler) -> None:
    package = ('{"name": "site", "version": "1.0.0", "engines": {"node": "18.x"},'
               ' "scripts": {"build": "node -e \\"require(\'fs\').writeFileSync(\'built.txt\', \'built\')\\"",'
               ' "start": "node server.js"}}')
    lock = '{"name": "site", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {}}}'
    compiled, lines, work = compiler.compile({"package.json": package, "package-lock.json": lock,
                                              "server.js": "console.log('hi')\n"}, cache="node")
    assert compiled.process_types == {"web": "npm start"}
    assert any("Using Node.js 18." in line and "engines.node: 18.x" in line for line in lines)
    assert "-----> Running the build script: npm run build" in lines
    assert (work / "app" / "built.txt").read_text() == "built"
    _, output = compiler.fails({"package.json": '{"engines": {"node": ">=20"}}'}, CompileFailed, cache="node2")
    assert "package.json asks for Node.js '>=20' (engines.node), which is not available." in output


def test_static_site(compiler: Compiler) -> None:
    compiled, lines, work = compiler.compile({"index.html": "<h1>hi</h1>\n"})
    assert compiled.process_types == {"web": "python3 /app/.pyroku/static-server.py"}
    assert "-----> Static HTML app detected" in lines
    assert (work / "app" / ".pyroku" / "static-server.py").is_file()


def test_procfile_problems(compiler: Compiler) -> None:
    message, _ = compiler.fails({"requirements.txt": ""}, NoProcessTypes)
    assert "no Procfile" in message
    message, _ = compiler.fails({"requirements.txt": "", "Procfile": "web: ok\nnonsense\n"}, ProcfileError)
    assert message.startswith("Procfile line 2 is not 'type: command'")
    message, output = compiler.fails({"notes.txt": "?"}, CompileFailed)
    assert "No default language could be detected for this app." in output


def test_custom_buildpacks_in_order_with_env_dir_export_and_release(compiler: Compiler, tmp_path: Path) -> None:
    first = make_buildpack(tmp_path / "first", name="First", compile=(
        'cp "$ENV_DIR/GREETING" "$BUILD_DIR/greeting"\n'
        'echo "greeting in env: ${GREETING:-no}"\n'
        'echo "export FROM_FIRST=first-was-here" > "$(dirname "$0")/../export"\n'
        'id -u > "$BUILD_DIR/uid"\n'
        'touch /etc/pyroku-test 2>/dev/null && echo "stack writable" || echo "stack read-only"'))
    second = make_buildpack(tmp_path / "second", name="Second", compile='echo "$FROM_FIRST" > "$BUILD_DIR/from_first"',
                            release="printf -- '---\\ndefault_process_types:\\n  web: ./serve\\n'")
    packs: list[Buildpack] = [LocalBuildpack(first, "first"), LocalBuildpack(second, "second")]
    compiled, lines, work = compiler.compile({"x": "y"}, packs=packs, config_vars={"GREETING": "hello"})
    assert compiled.detected == ("First", "Second")
    assert compiled.process_types == {"web": "./serve"}
    assert lines.index("-----> First app detected") < lines.index("-----> Second app detected")
    assert "greeting in env: no" in lines  # config vars are files in ENV_DIR, not the environment
    assert "stack read-only" in lines
    app = work / "app"
    assert (app / "greeting").read_text() == "hello"
    assert (app / "from_first").read_text() == "first-was-here\n"
    assert (app / "uid").read_text() == "1000\n"

    picky = make_buildpack(tmp_path / "picky", name="Picky", detect="test -f \"$1/never\"")
    _, output = compiler.fails({"x": "y"}, CompileFailed, packs=[LocalBuildpack(first, "first"),
                                                              LocalBuildpack(picky, "/packs/picky")])
    assert "App not compatible with buildpack: /packs/picky" in output


def test_a_failing_compile_fails_the_build(compiler: Compiler, tmp_path: Path) -> None:
    broken = make_buildpack(tmp_path / "broken", name="Broken", compile="echo 'compiling...'; exit 3")
    message, output = compiler.fails({"x": "y"}, CompileFailed, packs=[LocalBuildpack(broken, "broken")])
    assert message == "A buildpack's bin/compile failed."
    assert "compiling..." in output
    assert "failed to compile Broken app (bin/compile exited with status 3)" in output


def test_time_and_memory_limits(compiler: Compiler, tmp_path: Path) -> None:
    slow = make_buildpack(tmp_path / "slow", name="Slow", compile="sleep 60")
    quick = replace(compiler, compiler=SlugCompiler(compiler.compiler._runner, replace(compiler.config, timeout=1)))
    message, _ = quick.fails({"x": "y"}, BuildTimeout, packs=[LocalBuildpack(slow, "slow")])
    assert "time limit" in message
    hog = make_buildpack(tmp_path / "hog", name="Hog",
                         compile="python3 -c 'x = bytearray(900 * 2**20); print(len(x))'")
    message, _ = compiler.fails({"x": "y"}, CompileFailed, packs=[LocalBuildpack(hog, "hog")])
    assert "more than its 512 MB of memory" in message


def test_oversized_slugs_fail_and_leave_nothing_stored(compiler: Compiler, tmp_path: Path) -> None:
    _, _, work = compiler.compile({"Procfile": "web: x\n", "blob.bin": os.urandom(2 * 2**20)})
    store = LocalSlugStore(tmp_path / "slugs")
    with pytest.raises(SlugTooLarge, match="over the 1 MB limit"):
        pack_slug(work, "too-big", store, SlugLimits(max_bytes=2**20, warn_bytes=2**19), uid=1000, gid=1000)
    assert not store.exists("too-big") and not list((tmp_path / "slugs").iterdir())
