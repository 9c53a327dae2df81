"""Platform-level dyno figures: scaling a web process 0 -> 10, and 100 idle dynos.

    sudo .venv/bin/python bench/dynos_scale.py [--idle 100]

Starts its own `pyroku server` (runc runtime, its own data dir, dyno subnet 10.218.0.0/16), releases
a small slug through the API, then:
1. scales `web` 0 -> 10 and reports the seconds until the API shows all ten `up` (each has bound
   $PORT); the per-container reference against bare runc is bench/runtime_start.py's;
2. scales an idle `sleep infinity` worker to --idle dynos and reports the host's MemAvailable drop
   per dyno, with the app's own process (sleep) measured separately, so the platform's overhead per
   dyno is the difference. Target: <= 10 MiB per dyno.
Everything is scaled back to 0 and the server stopped at the end. Talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from pyroku.runtime import remove_firewall

ACCEPT = "application/vnd.heroku+json; version=3"
WEB = "python3 -m http.server $PORT"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mem_available_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable")


def slug() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"web: python3 -m http.server $PORT\n"
        info = tarfile.TarInfo("./app/Procfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def wait(check: Any, limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise SystemExit(f"gave up after {limit} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=int, default=100)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (runc)", file=sys.stderr)
        return 2
    data = Path(tempfile.mkdtemp(prefix="pyroku-bench-dynos-"))
    shm = "/dev/shm" if os.path.ismount("/dev/shm") else None  # dyno state belongs on a tmpfs
    runtime_dir = Path(tempfile.mkdtemp(prefix="pyroku-bench-", dir=shm))
    port = free_port()
    env = {**os.environ, "PYROKU_ADMIN_EMAIL": "bench@example.com", "PYROKU_ADMIN_PASSWORD": "bench-password",
           "PYROKU_DYNO_SUBNET": "10.218.0.0/17", "PYROKU_DYNO_INTERFACE_PREFIX": "pyd",
           "PYROKU_DYNO_NFT_TABLE": "pyroku_bench_dynos", "PYROKU_BUILD_SUBNET": "10.218.128.0/17",
           "PYROKU_BUILD_INTERFACE_PREFIX": "pdb", "PYROKU_BUILD_NFT_TABLE": "pyroku_bench_dynos_build",
           "PYROKU_RUNTIME_DIR": str(runtime_dir)}
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "pyroku"), "server", "--data-dir", str(data), "--api-port", str(port),
         "--router-port", str(free_port()), "--rendezvous-port", "0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: _up(api), 30)
        token = httpx.post(api + "/oauth/authorizations", auth=("bench@example.com", "bench-password"),
                           headers={"Accept": ACCEPT}).json()["access_token"]["token"]
        c = httpx.Client(base_url=api, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"}, timeout=60)
        c.post("/apps", json={"name": "bench"})
        blob = slug()
        made = c.post("/apps/bench/slugs", json={
            "process_types": {"web": WEB, "idle": "sleep infinity"},
            "checksum": "SHA256:" + hashlib.sha256(blob).hexdigest()}).json()
        httpx.put(made["blob"]["url"], content=blob)
        c.post("/apps/bench/releases", json={"slug": made["id"]})
        wait(lambda: _states(c) == ["up"], 60)  # web.1 from the first deploy
        c.patch("/apps/bench/formation", json={"updates": [{"type": "web", "quantity": 0}]})
        wait(lambda: _states(c) == [], 60)

        c.patch("/apps/bench/formation", json={"updates": [{"type": "web", "quantity": 10}]})
        seconds = wait(lambda: _states(c) == ["up"] * 10, 120)
        print(f"scale web 0 -> 10: all up in {seconds:.2f} s ({seconds / 10 * 1000:.0f} ms per dyno)")
        c.patch("/apps/bench/formation", json={"updates": [{"type": "web", "quantity": 0}]})
        wait(lambda: _states(c) == [], 120)

        time.sleep(2)
        before = mem_available_kib()
        c.patch("/apps/bench/formation", json={"updates": [{"type": "idle", "quantity": args.idle}]})
        seconds = wait(lambda: _states(c) == ["up"] * args.idle, 600)
        time.sleep(5)
        after = mem_available_kib()
        per_dyno = (before - after) / args.idle / 1024
        app_rss = _sleep_rss_mib()
        print(f"{args.idle} idle dynos up in {seconds:.1f} s; MemAvailable drop {per_dyno:.1f} MiB per dyno, "
              f"of which the app's own process (sleep) {app_rss:.1f} MiB -> platform overhead "
              f"{per_dyno - app_rss:.1f} MiB per dyno (target <= 10)")
        c.patch("/apps/bench/formation", json={"updates": [{"type": "idle", "quantity": 0}]})
        wait(lambda: _states(c) == [], 600)
    finally:
        server.terminate()
        server.wait(60)
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(runtime_dir, ignore_errors=True)
        remove_firewall(env["PYROKU_DYNO_NFT_TABLE"])
        remove_firewall(env["PYROKU_BUILD_NFT_TABLE"])
    return 0


def _up(api: str) -> bool:
    try:
        return httpx.get(api + "/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _states(c: httpx.Client) -> list[str]:
    return sorted(str(d["state"]) for d in c.get("/apps/bench/dynos").json())


def _sleep_rss_mib() -> float:
    """RSS of one `sleep infinity` app process, as the app's own share of an idle dyno."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes() == b"sleep\0infinity\0":
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


if __name__ == "__main__":
    sys.exit(main())
