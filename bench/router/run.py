"""Router benchmark against nginx, measured in the same run on this machine (run by hand).

    .venv/bin/python bench/router/run.py [--duration 10] [--rounds 3] [--idle 10000]

Setup (2 cores): a tiny C keep-alive backend (``backend.c``, built with gcc) and wrk share core 0;
the proxy under test (nginx with 1 worker and upstream keep-alive, or the router) gets core 1.
The router runs with its request log on: lines are shipped to a Unix socket read by this script.
Each round measures, for both proxies: 13-byte responses (req/s, p99) and 1 MiB responses (MiB/s),
50 keep-alive connections. Rounds alternate nginx/router to spread out noise from other load; the
best round of each is reported. Finally the router holds ``--idle`` idle keep-alive connections
and its RSS is reported. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO))

from pyroku.router import AppRoute, DynoRoute, RoutingTable, save_table  # noqa: E402

WRK_CORE = "0"
PROXY_CORE = "1"
HOST = "bench.localhost"

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  upstream dyno {{ server 127.0.0.1:{backend}; keepalive 128; }}
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{
      proxy_pass http://dyno;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SystemExit(f"process {process.args!r} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on {port}") from None
            time.sleep(0.05)


@contextlib.contextmanager
def started(argv: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class WrkResult:
    requests_per_s: float
    p99_ms: float
    mib_per_s: float
    cpu_us_per_request: float


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # wrk prints e.g. "-nan" when a run failed
        print(f"  wrk gave an unreadable latency: {text!r}")
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _mib(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)([KMG]?B)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"B": 1 / 2**20, "KB": 1 / 1024, "MB": 1.0, "GB": 1024.0}[unit]


def wrk(port: int, path: str, duration: int, proxy_pid: int, host: str | None) -> WrkResult:
    argv = ["taskset", "-c", WRK_CORE, "wrk", "-t1", "-c50", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if host:
        argv += ["-H", f"Host: {host}"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    before = cpu_seconds(proxy_pid)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 30).stdout
    used = cpu_seconds(proxy_pid) - before
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    transfer = _mib(re.search(r"Transfer/sec:\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out or "Socket errors" in out:
        print("  wrk reported problems:\n" + "\n".join(
            line for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line))
    return WrkResult(rps, p99, transfer, used / max(requests, 1) * 1e6)


class LogReader:
    """Reads what the router ships to its log socket; counts frames."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.frames = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn: socket.socket) -> None:
        carry = b""
        marker = b" <158>1 "  # starts every frame after its length: cheap to count in C
        with conn:
            while chunk := conn.recv(1 << 20):
                data = carry + chunk
                self.frames += data.count(marker)
                carry = data[-(len(marker) - 1):]

    def close(self) -> None:
        self._listener.close()


def hold_idle_connections(port: int, count: int, batch: int = 100) -> list[socket.socket]:
    """Open ``count`` connections, make one request on each, and keep them open (idle, keep-alive).

    Requests go in batches of ``batch``: more at once would exceed the app's in-flight cap (H11).
    """
    request = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    socks: list[socket.socket] = []
    while len(socks) < count:
        group = [socket.create_connection(("127.0.0.1", port), timeout=10)
                 for _ in range(min(batch, count - len(socks)))]
        for sock in group:
            sock.sendall(request)
        for sock in group:
            data = b""
            while not data.endswith(b"hello, world\n"):
                chunk = sock.recv(4096)
                if not chunk or (data + chunk)[:12] not in b"HTTP/1.1 200"[: len(data + chunk)]:
                    raise SystemExit(f"unexpected answer while opening idle connections: {(data + chunk)[:80]!r}")
                data += chunk
        socks.extend(group)
    return socks


def build_backend(workdir: Path) -> list[str]:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        raise SystemExit("gcc is needed to build the benchmark backend (apt-get install gcc)")
    binary = workdir / "backend"
    subprocess.run([gcc, "-O2", "-o", str(binary), str(HERE / "backend.c")], check=True)
    return [str(binary)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per proxy (default 3)")
    parser.add_argument("--idle", type=int, default=10_000, help="idle keep-alive connections to hold")
    parser.add_argument("--workers", type=int, default=1, help="router processes (default 1)")
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install {tool if tool != 'taskset' else 'util-linux'}")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.idle + 1000:
        raise SystemExit(f"the open-files limit ({hard}) is too low for {args.idle} connections")
    os.sched_setaffinity(0, {int(WRK_CORE)})  # this script (log reader, idle clients) stays off the proxy core

    with tempfile.TemporaryDirectory(prefix="pyroku-bench-") as tmp:
        workdir = Path(tmp)
        backend_port, nginx_port, router_port = free_port(), free_port(), free_port()
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir, backend=backend_port, port=nginx_port))
        table_path = workdir / "routes.json"
        save_table(table_path, RoutingTable(version=1, apps={"bench-app": AppRoute(
            name="bench", hostnames=(HOST,), web_quantity=1, dynos=(DynoRoute("web.1", "127.0.0.1", backend_port),))}))
        logs = LogReader(workdir / "logplex.sock")
        backend_argv = ["taskset", "-c", WRK_CORE, *build_backend(workdir), str(backend_port)]
        nginx_argv = ["taskset", "-c", PROXY_CORE, "nginx", "-c", str(workdir / "nginx.conf"), "-p", str(workdir)]
        router_argv = ["taskset", "-c", PROXY_CORE, sys.executable, "-m", "pyroku.router", "--table", str(table_path),
                       "--port", str(router_port), "--workers", str(args.workers),
                       "--log-socket", str(workdir / "logplex.sock")]
        results: dict[str, dict[str, list[WrkResult]]] = {"nginx": {"small": [], "big": []},
                                                          "router": {"small": [], "big": []}}
        with started(backend_argv, backend_port, workdir / "backend.log"), \
                started(nginx_argv, nginx_port, workdir / "nginx.log"), \
                started(router_argv, router_port, workdir / "router.log") as router:
            nginx_pid = int((workdir / "nginx.pid").read_text())
            nginx_worker = int(subprocess.run(["pgrep", "-P", str(nginx_pid)], capture_output=True, text=True,
                                              check=True).stdout.split()[0])
            router_pid = router.pid
            if args.workers > 1:
                router_pid = int(subprocess.run(["pgrep", "-P", str(router.pid)], capture_output=True, text=True,
                                                check=True).stdout.split()[0])
            print(f"backend :{backend_port} (core {WRK_CORE}), nginx :{nginx_port} and router :{router_port} "
                  f"(core {PROXY_CORE}), wrk on core {WRK_CORE}; {args.rounds} round(s) of {args.duration} s")
            for port, pid, host in ((nginx_port, nginx_worker, None), (router_port, router_pid, HOST)):
                wrk(port, "/", 2, pid, host)  # warm up: pools, caches
            for round_ in range(args.rounds):
                for name, port, pid, host in (("nginx", nginx_port, nginx_worker, None),
                                              ("router", router_port, router_pid, HOST)):
                    small = wrk(port, "/", args.duration, pid, host)
                    big = wrk(port, "/big", args.duration, pid, host)
                    results[name]["small"].append(small)
                    results[name]["big"].append(big)
                    print(f"round {round_ + 1} {name:6s}: {small.requests_per_s:9.0f} req/s  "
                          f"p99 {small.p99_ms:6.2f} ms  {small.cpu_us_per_request:5.1f} µs CPU/req  |  "
                          f"1 MiB: {big.mib_per_s:7.0f} MiB/s")
            frames = logs.frames
            before = rss_mib(router_pid)
            socks = hold_idle_connections(router_port, args.idle) if args.idle else []
            time.sleep(1)
            held = rss_mib(router_pid)
            for sock in socks:
                sock.close()
        logs.close()

    def best(name: str, kind: str) -> WrkResult:
        runs = results[name][kind]
        key = (lambda r: r.mib_per_s) if kind == "big" else (lambda r: r.requests_per_s)
        return max(runs, key=key)

    ng, rt = best("nginx", "small"), best("router", "small")
    ngb, rtb = best("nginx", "big"), best("router", "big")
    print()
    print(f"{'':8s}{'req/s':>10s}{'p99 ms':>9s}{'CPU µs/req':>12s}{'MiB/s (1 MiB)':>15s}")
    print(f"{'nginx':8s}{ng.requests_per_s:10.0f}{ng.p99_ms:9.2f}{ng.cpu_us_per_request:12.1f}{ngb.mib_per_s:15.0f}")
    print(f"{'router':8s}{rt.requests_per_s:10.0f}{rt.p99_ms:9.2f}{rt.cpu_us_per_request:12.1f}{rtb.mib_per_s:15.0f}")
    print(f"ratios: req/s {rt.requests_per_s / ng.requests_per_s:.2f}x (target >= 0.6), "
          f"MiB/s {rtb.mib_per_s / ngb.mib_per_s:.2f}x (target >= 0.6), "
          f"p99 {rt.p99_ms / ng.p99_ms:.2f}x (target <= 2)")
    if args.rounds > 1:
        med = {name: statistics.median(r.requests_per_s for r in results[name]["small"]) for name in results}
        p99 = {name: statistics.median(r.p99_ms for r in results[name]["small"]) for name in results}
        print(f"medians over rounds: req/s {med['router'] / med['nginx']:.2f}x, "
              f"p99 {p99['router'] / p99['nginx']:.2f}x")
    print(f"router request log: {frames} lines shipped to the log socket during the runs")
    if args.idle:
        print(f"router RSS: {before:.1f} MiB before, {held:.1f} MiB holding {args.idle} idle keep-alive connections "
              f"({(held - before) * 1024 / args.idle:.2f} KiB per connection)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
