"""The slug compiler: a prepared source tree in, a compiled ``app/`` and its process types out.

The work directory of one build::

    <work>/app/          the source (BUILD_DIR, mounted at /app)         owned by the build user
    <work>/env/          one file per config var (ENV_DIR)
    <work>/buildpacks/N  each buildpack, writable (packs write their `export` next to their bin/)
    <work>/control/      the driver script, the plan it follows, the results it leaves

Every buildpack script runs in one build container (:mod:`pyroku.runtime`'s build runner) from
the stack: `/app` is the build directory itself, so paths baked in at build time (a virtualenv's
scripts, for instance) are the paths the dynos see.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pyroku.build._buildpacks import DRIVER, Buildpack, bundled_buildpacks
from pyroku.build._config import BuildConfig
from pyroku.build._exceptions import BuildTimeout, CompileFailed, NoProcessTypes
from pyroku.build._procfile import merge_process_types, parse_procfile, parse_release
from pyroku.build._slug import read_small_file, remove_special_files
from pyroku.build._slugignore import SLUGIGNORE, apply_slugignore
from pyroku.runtime import BuildContainerSpec, BuildMount, BuildRunner

BUILD_DIR: Final = "/app"
_CONTROL: Final = "/tmp/control"  # noqa: S108 - inside the build container
_DRIVER_FAILURES: Final = {
    10: "A buildpack could not be fetched.",
    11: "No buildpack can build this app.",
    12: "The app is not compatible with a buildpack set for it.",
    13: "A buildpack's bin/compile failed.",
    14: "A buildpack's bin/release failed.",
}
_KILLED: Final = 15  # the driver's status for a bin/compile killed by the kernel
_ENV_NAME_OK: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

Say = Callable[[str], None]


@dataclass(frozen=True)
class CompileRequest:
    """One compile: ``work_dir/app`` already holds the source."""

    build_id: str
    work_dir: Path
    cache_dir: Path
    config_vars: Mapping[str, str]
    buildpacks: Sequence[Buildpack]  # empty: the bundled ones, first that detects
    source_version: str | None = None


@dataclass(frozen=True)
class CompiledApp:
    process_types: dict[str, str]
    detected: tuple[str, ...]  # the names the buildpacks' bin/detect printed, in order

    @property
    def description(self) -> str:
        return ", ".join(self.detected)


class SlugCompiler:
    def __init__(self, runner: BuildRunner, config: BuildConfig) -> None:
        self._runner = runner
        self._config = config

    async def compile(self, request: CompileRequest, say: Say) -> CompiledApp:
        work = request.work_dir
        app = work / "app"
        removed = await asyncio.to_thread(self._apply_slugignore, app)
        if removed:
            say(f"-----> Deleting {len(removed)} files matching .slugignore patterns.")
        await asyncio.to_thread(self._prepare, request)
        spec = BuildContainerSpec(
            name=request.build_id,
            argv=("/bin/bash", f"{_CONTROL}/driver.sh"),
            env=self._environment(request),
            mounts=self._mounts(request),
            cwd=BUILD_DIR,
            memory_mb=self._config.memory_mb,
            timeout=self._config.timeout,
        )
        ended = await self._runner.run(spec, say)
        if ended.timed_out:
            minutes = self._config.timeout / 60
            raise BuildTimeout(f"The build was stopped after running for {minutes:g} minutes, the time limit.")
        if ended.killed or ended.status == _KILLED:
            raise CompileFailed(f"The build was killed: it used more than its {self._config.memory_mb} MB of memory.")
        if ended.status != 0:
            raise CompileFailed(_DRIVER_FAILURES.get(ended.status, f"The build failed (status {ended.status})."))
        return await asyncio.to_thread(self._results, work, say)

    # -- before -------------------------------------------------------------------------------

    @staticmethod
    def _apply_slugignore(app: Path) -> list[str]:
        text = read_small_file(app / SLUGIGNORE)
        return apply_slugignore(app, text) if text else []

    def _prepare(self, request: CompileRequest) -> None:
        uid, gid = self._config.uid, self._config.gid
        work = request.work_dir
        env_dir, packs, control = work / "env", work / "buildpacks", work / "control"
        for directory in (env_dir, packs, control):
            directory.mkdir(mode=0o755)
        for name, value in request.config_vars.items():
            if name and set(name) <= _ENV_NAME_OK:
                (env_dir / name).write_text(value)
        chosen = list(request.buildpacks) or bundled_buildpacks()
        plan = []
        for index, pack in enumerate(chosen):
            directory = packs / str(index)
            directory.mkdir()
            fetch = pack.stage(directory) or ""
            plan.append(f"/tmp/buildpacks/{index}\t{pack.url}\t{fetch}\n")  # noqa: S108 - in the container
        (control / "buildpacks").write_text("".join(plan))
        (control / "mode").write_text("explicit\n" if request.buildpacks else "auto\n")
        shutil.copy(DRIVER, control / "driver.sh")
        for top in (env_dir, packs, control):
            _chown_tree(top, uid, gid)
        if not request.cache_dir.is_dir():  # what is inside was written by the build user already
            request.cache_dir.mkdir(parents=True)
            os.lchown(request.cache_dir, uid, gid)

    def _environment(self, request: CompileRequest) -> dict[str, str]:
        env = {
            "STACK": self._config.stack,
            "HOME": "/tmp/home",  # noqa: S108 - in the container; caches here stay out of the slug
            "BUILD_DIR": BUILD_DIR,
            "CI": "true",
            "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
            "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt",
        }
        if request.source_version:
            env["SOURCE_VERSION"] = request.source_version
        return env

    def _mounts(self, request: CompileRequest) -> tuple[BuildMount, ...]:
        work = request.work_dir
        mounts = [
            BuildMount(work / "app", BUILD_DIR, writable=True),
            BuildMount(request.cache_dir, "/tmp/cache", writable=True),  # noqa: S108
            BuildMount(work / "env", "/tmp/env"),  # noqa: S108
            BuildMount(work / "buildpacks", "/tmp/buildpacks", writable=True),  # noqa: S108
            BuildMount(work / "control", _CONTROL, writable=True),
        ]
        ca = self._config.ca_bundle
        if ca is not None and ca.is_file():
            mounts.append(BuildMount(ca, "/etc/ssl/certs/ca-certificates.crt"))
        return tuple(mounts)

    # -- after ----------------------------------------------------------------------------------

    def _results(self, work: Path, say: Say) -> CompiledApp:
        control = work / "control"
        detected = tuple(
            line.split("\t", 1)[1].strip() for line in (read_small_file(control / "detected") or "").splitlines()
            if "\t" in line
        )
        defaults = parse_release(read_small_file(control / "release.yml") or "")
        procfile_text = read_small_file(work / "app" / "Procfile")
        procfile = parse_procfile(procfile_text) if procfile_text is not None else {}
        types = merge_process_types(procfile, defaults)
        say("-----> Discovering process types")
        if procfile_text is not None:
            say(f"       Procfile declares types     -> {', '.join(procfile) or '(none)'}")
        extra = [t for t in defaults if t not in procfile]
        if extra:
            say(f"       Default types for buildpack -> {', '.join(extra)}")
        if not types:
            raise NoProcessTypes(
                "No process types: the app has no Procfile and its buildpacks define no default process. "
                "Add a Procfile, e.g. `web: gunicorn app:app`."
            )
        remove_special_files(work / "app")
        return CompiledApp(types, detected)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), uid, gid)
