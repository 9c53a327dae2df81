"""Dyno start latency and idle memory of the runc/crun runtime, against a bare engine run in the same run.

    sudo .venv/bin/python bench/runtime_start.py [--runs 25] [--idle 20] [--stack-dir DIR]

1. Start latency: the median time from ``RuncRuntime.start()`` to the dyno's command running (the
   command prints bash's ``$EPOCHREALTIME``), against ``<engine> run`` (foreground) of an equivalent
   bundle (same OCI config and overlay root, a fresh network namespace) timed the same way.
   Target: ratio <= 1.5.
2. Idle memory: ``--idle`` dynos running ``sleep infinity``; per dyno, the supervisor's RSS / PSS /
   private memory, tini's, and the drop of the host's MemAvailable (noisy on a busy host).
   Target: <= 10 MiB of overhead per idle dyno.

Needs root, the stack (built on first use into --stack-dir) and the runtime's dependencies. Talks to
no network: dynos are only started, never connected to.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from pyroku.runtime import FileLogTarget, NetworkConfig, RuncRuntime, RuntimeConfig, ensure_stack, remove_firewall
from pyroku.runtime._oci import container_config
from pyroku.runtime.stack import DEFAULT_STACKS_DIR
from pyroku.runtime.types import DynoSpec
from pyroku.slugs import LocalSlugStore, SlugCache

NETWORK = NetworkConfig(subnet="10.215.0.0/16", interface_prefix="pyb", nft_table="pyroku_bench")


def make_slug(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("app/Procfile", b"web: sleep infinity\n"), ("app/.profile.d/env.sh", b"export A=1\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def smaps(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        out[key] = int(value.split()[0])
    return out


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable")


class BareEngine:
    """``<engine> run`` of a bundle like a dyno's: same config, same overlay root, its own netns."""

    def __init__(self, engine: str, work: Path, spec: DynoSpec, config: RuntimeConfig, slug_tree: Path) -> None:
        self.engine = engine
        self.work = work
        self.spec = spec
        self.config = config
        self.root = work / "engine"
        self.bundle = work / "bundle"
        rootfs = self.bundle / "rootfs"
        scratch = work / "scratch"
        for directory in (self.root, rootfs, scratch):
            directory.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512m", "tmpfs", str(scratch)], check=True)
        (scratch / "upper").mkdir()
        (scratch / "work").mkdir()
        lower = f"{slug_tree}:{config.stack_dir}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={scratch}/upper,workdir={scratch}/work", str(rootfs)], check=True)
        self.mounts = [rootfs, scratch]
        self.etc = {}
        for name, text in (("resolv.conf", ""), ("hosts", "127.0.0.1 localhost\n"), ("hostname", "bare\n")):
            (work / name).write_text(text)
            self.etc[f"/etc/{name}"] = work / name

    def run_once(self) -> float:
        """Seconds from spawning the engine to the command running."""
        cid = f"bare-{uuid.uuid4().hex[:12]}"
        oci = container_config(self.spec, dyno_id=cid, config=self.config, rootfs=self.bundle / "rootfs",
                               etc_files=self.etc, cgroup_path=f"/pyroku-bench/{cid}")
        oci["linux"]["namespaces"].append({"type": "network"})
        (self.bundle / "config.json").write_text(json.dumps(oci))
        started = time.time()
        result = subprocess.run([self.engine, "--root", str(self.root), "run", "--bundle", str(self.bundle), cid],
                                stdin=subprocess.DEVNULL, capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"bare run failed: {result.stderr.decode(errors='replace')}")
        return float(result.stdout.split()[-1]) - started

    def close(self) -> None:
        for mount in self.mounts:
            subprocess.run(["umount", str(mount)], check=False)


async def start_latency(runtime: RuncRuntime, spec: DynoSpec, logs: Path) -> float:
    log = logs / f"{uuid.uuid4().hex}.log"
    spec = DynoSpec(**{**spec.__dict__, "log_target": FileLogTarget(str(log))})
    started = time.time()
    handle = await runtime.start(spec)
    await runtime.wait(handle.id)
    await runtime.remove(handle.id)
    return float(log.read_text().split()[-1]) - started


async def main(args: argparse.Namespace) -> int:
    stack = ensure_stack(args.stack_dir, progress=lambda msg: print(msg, file=sys.stderr))
    work = Path(tempfile.mkdtemp(prefix="pyroku-bench-", dir="/dev/shm"))  # state on tmpfs, as /run is
    store = LocalSlugStore(work / "slugs")
    make_slug(work / "slug.tgz")
    checksum = store.put("bench", work / "slug.tgz")
    config = RuntimeConfig(state_dir=work / "state", stack_dir=stack.path, slug_cache_dir=work / "slug-cache",
                           network=NETWORK, cgroup_parent="/pyroku-bench")
    runtime = RuncRuntime(config, store)
    slug_tree = SlugCache(config.slug_cache_dir, store, uid=config.uid, gid=config.gid).ensure("bench", checksum)
    spec = DynoSpec(app_id="bench", app_name="bench", dyno_name="web.1", release_version=1, slug_id="bench",
                    slug_checksum=checksum, command="echo $EPOCHREALTIME", port=5000)
    bare = BareEngine(shutil.which(runtime.engine) or runtime.engine, work / "bare", spec, config, slug_tree)
    logs = work / "logs"
    logs.mkdir()
    print(f"engine: {runtime.engine}; stack {stack.name}: {stack.size_bytes / 2**20:.0f} MiB, "
          f"built in {stack.build_seconds:.0f} s")
    try:
        ours: list[float] = []
        reference: list[float] = []
        for i in range(args.runs + 3):  # three warm-up rounds
            a = await start_latency(runtime, spec, logs)
            b = bare.run_once()
            if i >= 3:
                ours.append(a)
                reference.append(b)
        ours_ms = statistics.median(ours) * 1000
        bare_ms = statistics.median(reference) * 1000
        print(f"start -> command running, median of {args.runs}: pyroku {ours_ms:.1f} ms "
              f"(p90 {sorted(ours)[int(len(ours) * 0.9)] * 1000:.1f}), bare {runtime.engine} run {bare_ms:.1f} ms "
              f"(p90 {sorted(reference)[int(len(reference) * 0.9)] * 1000:.1f})")
        print(f"ratio: {ours_ms / bare_ms:.2f}x (target <= 1.5x)")

        await idle_memory(runtime, spec, args.idle, work)
    finally:
        bare.close()
        for status in await runtime.list():
            await runtime.remove(status.id)
        await runtime.aclose()
        shutil.rmtree(work, ignore_errors=True)
        remove_firewall(NETWORK.nft_table)
    return 0


async def idle_memory(runtime: RuncRuntime, spec: DynoSpec, count: int, work: Path) -> None:
    idle = DynoSpec(**{**spec.__dict__, "command": "sleep infinity", "log_target": None})
    await asyncio.sleep(0.5)
    before = mem_available_kib()
    handles = [await runtime.start(DynoSpec(**{**idle.__dict__, "dyno_name": f"web.{i + 1}"})) for i in range(count)]
    await asyncio.sleep(2.0)
    after = mem_available_kib()
    sup = {"Rss": 0, "Pss": 0, "Private": 0}
    tini = {"Rss": 0, "Pss": 0}
    app_pss = 0
    cgroup_bytes = 0
    for handle in handles:
        state = json.loads((work / "state" / "dynos" / handle.id / "state.json").read_text())
        s = smaps(state["supervisor_pid"])
        sup["Rss"] += s["Rss"]
        sup["Pss"] += s["Pss"]
        sup["Private"] += s["Private_Clean"] + s["Private_Dirty"]
        t = smaps(state["pid"])
        tini["Rss"] += t["Rss"]
        tini["Pss"] += t["Pss"]
        children = Path(f"/proc/{state['pid']}/task/{state['pid']}/children").read_text().split()
        app_pss += sum(smaps(int(child))["Pss"] for child in children)
        usage = (await runtime.memory_usage(handle.id))
        cgroup_bytes += usage.total if usage else 0
    n = len(handles)
    print(f"idle dynos: {n}")
    print(f"  supervisor per dyno: RSS {sup['Rss'] / n / 1024:.1f} MiB, PSS {sup['Pss'] / n / 1024:.1f} MiB, "
          f"private {sup['Private'] / n / 1024:.1f} MiB")
    print(f"  tini per dyno: RSS {tini['Rss'] / n / 1024:.2f} MiB, PSS {tini['Pss'] / n / 1024:.2f} MiB")
    print(f"  the app itself (sleep) per dyno: PSS {app_pss / n / 1024:.2f} MiB; "
          f"charged to the dyno's cgroup: {cgroup_bytes / n / 2**20:.2f} MiB")
    drop = (before - after) / n / 1024
    print(f"  host MemAvailable drop per dyno: {drop:.1f} MiB (everything: kernel, app, supervisor; noisy)")
    overhead = (sup["Pss"] + tini["Pss"]) / n / 1024
    print(f"overhead per idle dyno (supervisor + tini PSS): {overhead:.1f} MiB (target <= 10 MiB); "
          f"by RSS: {(sup['Rss'] + tini['Rss']) / n / 1024:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--stack-dir", type=Path, default=DEFAULT_STACKS_DIR)
    if os.geteuid() != 0:
        sys.exit("run as root")
    sys.exit(asyncio.run(main(parser.parse_args())))
