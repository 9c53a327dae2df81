"""Real containers: one cached stack build for every run, a fresh runtime (state dir) per test.

The stack is the platform's own, built once per machine into /var/lib/pyroku/stacks by
scripts/setup (about two minutes, the only step that downloads anything); the tests build it there
if it is missing. Dynos get addresses in 10.214.0.0/16 and interfaces named ``pyt*``, fenced by
the nftables table ``pyroku_test``, so tests never collide with a real Pyroku on the same host.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from pyroku.runtime import (
    DynoExit,
    DynoSpec,
    FileLogTarget,
    NetworkConfig,
    RuncRuntime,
    RuntimeConfig,
    StackInfo,
    ensure_stack,
    remove_firewall,
)
from pyroku.runtime.stack import DEFAULT_STACKS_DIR
from pyroku.sizes import DynoSize
from pyroku.slugs import LocalSlugStore

TEST_NETWORK = NetworkConfig(subnet="10.214.0.0/16", interface_prefix="pyt", nft_table="pyroku_test")
TEST_CGROUP = "/pyroku-test"
SMALL = DynoSize("Test-128M", 128, 1024, 128)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def stack() -> Iterator[StackInfo]:
    if os.geteuid() != 0:
        pytest.fail("the runtime tests run real containers and need root")
    for tool in ("runc", "tini-static", "nft", "ip", "mmdebstrap"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run scripts/setup (it installs scripts/apt-packages.txt)")
    yield ensure_stack(DEFAULT_STACKS_DIR)
    remove_firewall(TEST_NETWORK.nft_table)  # the runtimes of this session installed it


def _scratch_base() -> str | None:
    # dyno state belongs on a tmpfs (as /run is on most hosts); short paths keep socket names legal
    return "/dev/shm" if os.path.ismount("/dev/shm") else None


@pytest.fixture(scope="session")
def slug_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pyroku-slugs-", dir=_scratch_base()))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@dataclass
class Slug:
    id: str
    checksum: str


class Slugs:
    """Builds slugs (tar.gz with app/...) into one store shared by the session's runtimes."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.store = LocalSlugStore(directory / "store")
        self._count = 0

    def make(self, files: dict[str, str | bytes] | None = None, modes: dict[str, int] | None = None) -> Slug:
        files = files if files is not None else {"Procfile": "web: python3 -m http.server $PORT\n"}
        self._count += 1
        slug_id = f"slug-{os.getpid()}-{self._count}"
        archive = self.dir / f"{slug_id}.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            for name, content in files.items():
                data = content.encode() if isinstance(content, str) else content
                info = tarfile.TarInfo(f"./app/{name}")
                info.size = len(data)
                info.mode = (modes or {}).get(name, 0o644)
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
        return Slug(slug_id, self.store.put(slug_id, archive))


@pytest.fixture(scope="session")
def slugs(slug_dir: Path) -> Slugs:
    return Slugs(slug_dir)


@pytest.fixture(scope="session")
def default_slug(slugs: Slugs) -> Slug:
    return slugs.make({
        "Procfile": "web: python3 -m http.server $PORT\n",
        "index.html": "hello from the slug\n",
        ".profile.d/000-test.sh": 'export FROM_PROFILE_D=yes\nexport OVERRIDE="profile.d"\nexport ORDER="d"\n',
        ".profile": 'export OVERRIDE="profile"\nexport ORDER="${ORDER}+profile"\n',
    })


class Harness:
    """A runtime plus helpers to start dynos and read their output."""

    def __init__(self, runtime: RuncRuntime, config: RuntimeConfig, work: Path, slug: Slug, slugs: Slugs) -> None:
        self.runtime = runtime
        self.config = config
        self.work = work
        self.slug = slug
        self.slugs = slugs
        self._n = 0

    def spec(self, command: str, *, slug: Slug | None = None, **changes: object) -> DynoSpec:
        self._n += 1
        slug = slug or self.slug
        log = self.work / f"dyno-{self._n}.log"
        base = DynoSpec(
            app_id="app-test", app_name="test-app", dyno_name=f"web.{self._n}", release_version=7,
            slug_id=slug.id, slug_checksum=slug.checksum, command=command, size=SMALL,
            log_target=FileLogTarget(str(log)),
        )
        return replace(base, **changes)  # type: ignore[arg-type]

    @staticmethod
    def output(spec: DynoSpec) -> list[str]:
        """The dyno's lines, without the timestamp and process prefix."""
        assert isinstance(spec.log_target, FileLogTarget)
        try:
            text = Path(spec.log_target.path).read_text()
        except FileNotFoundError:
            return []
        return [line.split(": ", 1)[1] if ": " in line else "" for line in text.splitlines()]

    async def run(self, command: str, **changes: object) -> tuple[DynoExit, list[str]]:
        """Run a dyno to completion: (its exit, its output lines)."""
        spec = self.spec(command, **changes)  # type: ignore[arg-type]
        handle = await self.runtime.start(spec)
        exit_ = await asyncio.wait_for(self.runtime.wait(handle.id), 60)
        return exit_, self.output(spec)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def make_config(work: Path, stack: StackInfo, slug_dir: Path) -> RuntimeConfig:
    return RuntimeConfig(
        state_dir=work / "state", stack_dir=stack.path, slug_cache_dir=slug_dir / "cache",
        network=TEST_NETWORK, cgroup_parent=TEST_CGROUP,
    )


@pytest.fixture
async def harness(stack: StackInfo, slugs: Slugs, slug_dir: Path, default_slug: Slug) -> AsyncIterator[Harness]:
    work = Path(tempfile.mkdtemp(prefix="pyrt-", dir=_scratch_base()))
    config = make_config(work, stack, slug_dir)
    runtime = RuncRuntime(config, slugs.store)
    h = Harness(runtime, config, work, default_slug, slugs)
    try:
        yield h
    finally:
        try:
            await cleanup(h.runtime)
        finally:
            await h.runtime.aclose()
        # a test may have swapped in a second runtime object; a fresh one sees every dyno
        leftover = RuncRuntime(config, slugs.store)
        try:
            await cleanup(leftover)
        finally:
            await leftover.aclose()
            shutil.rmtree(work, ignore_errors=True)


async def cleanup(runtime: RuncRuntime) -> None:
    for status in await runtime.list():
        await runtime.remove(status.id)
