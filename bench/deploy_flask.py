"""Deploying a small Flask + gunicorn app with `git push`, timed to its first 200 through the router.

    sudo .venv/bin/python bench/deploy_flask.py [--warm-runs 3] [--keep]

Starts a real `pyroku server` (runc dynos and builds, own subnets and nftables tables), creates an
app with the `preboot` feature on, and measures:

1. cold: a first push (empty build cache, so pip downloads Flask and gunicorn from PyPI) from the
   start of `git push` to the first 200 OK through the router;
2. warm: a one-line change pushed again (dependencies restored from the cache), from the start of
   `git push` to the first 200 carrying the new text; meanwhile a client polls every 50 ms and
   counts every answer that is not a 200 (the zero-downtime figure, with preboot);
3. the same warm push with preboot off, for comparison.

Reference (issue 5): Piku on this machine with the same app, ~6.1 s cold and ~3.0 s warm, with
~2.6 s of 502s during every redeploy. Targets: cold <= 6 s, warm <= 3 s, no failed requests.
The build reaches PyPI through the build containers' NAT; nothing else leaves the host.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from pyroku.runtime import remove_firewall

PIKU_COLD = 6.1
PIKU_WARM = 3.0
ACCEPT = "application/vnd.heroku+json; version=3"
PYROKU = str(Path(sys.executable).parent / "pyroku")

APP = '''\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "GREETING"
'''


def _title(page: str) -> str:
    start, end = page.find("<title>"), page.find("</title>")
    return page[start + 7:end] if 0 <= start < end else page[:60]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Poller:
    """GETs the app every 50 ms through the router; remembers when each answer came and what it was."""

    url: str
    host: str
    results: list[tuple[float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=10, headers={"Host": self.host}) as client:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    response = client.get(self.url)
                    self.results.append((time.monotonic(), response.status_code, response.text))
                except httpx.HTTPError:
                    self.results.append((time.monotonic(), 0, ""))
                self._stop.wait(max(0.0, 0.05 - (time.monotonic() - began)))

    def wait_for(self, text: str, since: float, timeout: float = 180) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, status, body in self.results:
                if at >= since and status == 200 and body == text:
                    return at
            time.sleep(0.01)
        raise RuntimeError(f"no 200 with {text!r} within {timeout} s")

    def failures(self, since: float, until: float) -> list[str]:
        """What each failed answer was: its status and page title (0: no connection)."""
        return [f"{status} {_title(body)}" for at, status, body in self.results
                if since <= at <= until and status != 200]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


class Bench:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.api_port, self.router_port = free_port(), free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.home = base / "home"
        self.home.mkdir()
        self.runtime_dir = Path(f"/dev/shm/pyroku-bench-deploy-{secrets.token_hex(3)}")
        self.password = secrets.token_urlsafe(12)
        self.server: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = dict(os.environ)
        env.update(
            PYROKU_ADMIN_EMAIL="bench@example.com", PYROKU_ADMIN_PASSWORD=self.password,
            PYROKU_DYNO_SUBNET="10.219.0.0/17", PYROKU_DYNO_INTERFACE_PREFIX="pbd",
            PYROKU_DYNO_NFT_TABLE="pyroku_bench_deploy",
            PYROKU_BUILD_SUBNET="10.219.128.0/17", PYROKU_BUILD_INTERFACE_PREFIX="pbb",
            PYROKU_BUILD_NFT_TABLE="pyroku_bench_build", PYROKU_RUNTIME_DIR=str(self.runtime_dir),
        )
        log = (self.base / "server.log").open("wb")
        self.server = subprocess.Popen(
            [PYROKU, "server", "--data-dir", str(self.base / "data"), "--api-port", str(self.api_port),
             "--router-port", str(self.router_port), "--rendezvous-port", "0"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(self.api + "/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start: " + (self.base / "server.log").read_text())
        login = subprocess.run([PYROKU, "login"], input=f"bench@example.com\n{self.password}\n", text=True,
                               env=self.env, capture_output=True, check=False)
        if login.returncode != 0:
            raise RuntimeError(f"pyroku login failed: {login.stderr}")

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYROKU_", "GIT_"))}
        env.update(HOME=str(self.home), PYROKU_API_URL=self.api, GIT_TERMINAL_PROMPT="0",
                   GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
        return env

    def run(self, *argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(list(argv), cwd=cwd, env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def token(self) -> str:
        return (self.home / ".netrc").read_text().split("password")[-1].strip()

    def api_call(self, method: str, path: str, body: object) -> None:
        response = httpx.request(method, self.api + path, json=body, timeout=30,
                                 headers={"Accept": ACCEPT, "Authorization": f"Bearer {self.token()}"})
        response.raise_for_status()

    def app(self, name: str, greeting: str) -> Path:
        repo = self.base / name
        repo.mkdir()
        (repo / "app.py").write_text(APP.replace("GREETING", greeting))
        (repo / "requirements.txt").write_text("flask\ngunicorn\n")
        (repo / "Procfile").write_text("web: gunicorn app:app --bind 0.0.0.0:$PORT\n")
        self.run("git", "init", "-q", "-b", "main", cwd=repo)
        self.run("git", "add", "-A", cwd=repo)
        self.run("git", "commit", "-qm", "flask app", cwd=repo)
        self.run(PYROKU, "create", name, cwd=repo)
        return repo

    def push(self, repo: Path, poller: Poller, text: str) -> tuple[float, float]:
        """(seconds from push start to the first 200 with `text`, seconds the push took)."""
        started = time.monotonic()
        pushed = subprocess.run(["git", "push", "pyroku", "main"], cwd=repo, env=self.env, capture_output=True,
                                text=True, check=False)
        push_done = time.monotonic()
        if pushed.returncode != 0:
            raise RuntimeError(f"git push failed:\n{pushed.stderr}")
        first = poller.wait_for(text, started)
        return first - started, push_done - started

    def change(self, repo: Path, greeting: str) -> None:
        (repo / "app.py").write_text(APP.replace("GREETING", greeting))
        self.run("git", "commit", "-qam", f"say {greeting}", cwd=repo)

    def stop(self) -> None:
        if self.server is None:
            return
        try:
            headers = {"Accept": ACCEPT, "Authorization": f"Bearer {self.token()}"}
            apps = httpx.get(self.api + "/apps", headers=headers, timeout=30).json()
            for app in apps:
                httpx.patch(f"{self.api}/apps/{app['name']}/formation", headers=headers, timeout=30,
                            json={"updates": [{"type": "web", "quantity": 0}]})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and any(
                    httpx.get(f"{self.api}/apps/{a['name']}/dynos", headers=headers, timeout=30).json()
                    for a in apps):
                time.sleep(0.2)
        finally:
            self.server.terminate()
            self.server.wait(30)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warm-runs", type=int, default=3, help="warm pushes to time (median reported)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("-v", "--verbose", action="store_true", help="show what the failed requests answered")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (runc)", file=sys.stderr)
        return 1
    base = Path(tempfile.mkdtemp(prefix="pyroku-bench-deploy-"))
    bench = Bench(base)
    poller: Poller | None = None
    try:
        bench.start()
        name = f"flask-{secrets.token_hex(3)}"
        repo = bench.app(name, "hello v0")
        bench.api_call("PATCH", f"/apps/{name}/features/preboot", {"enabled": True})
        poller = Poller(f"http://127.0.0.1:{bench.router_port}/", f"{name}.localhost")
        poller.start()
        cold, cold_push = bench.push(repo, poller, "hello v0")
        print(f"cold: first 200 after {cold:.2f} s (git push returned after {cold_push:.2f} s)")

        def warm_runs(label: str, first: int) -> tuple[list[float], list[int]]:
            times: list[float] = []
            failed: list[int] = []
            for n in range(first, first + args.warm_runs):
                assert poller is not None
                bench.change(repo, f"hello v{n}")
                since = time.monotonic()
                seconds, pushed = bench.push(repo, poller, f"hello v{n}")
                time.sleep(1.0)  # the old dyno stops after the new one is up: keep counting through it
                errors = poller.failures(since, time.monotonic())
                times.append(seconds)
                failed.append(len(errors))
                print(f"warm ({label}) #{n - first + 1}: first new 200 after {seconds:.2f} s "
                      f"(push {pushed:.2f} s), failed requests during the switch: {len(errors)}")
                if args.verbose:
                    for error in sorted(set(errors)):
                        print(f"    {errors.count(error)} x {error}")
            return times, failed

        warm, failed = warm_runs("preboot", 1)
        bench.api_call("PATCH", f"/apps/{name}/features/preboot", {"enabled": False})
        plain, plain_failed = warm_runs("no preboot", 1 + args.warm_runs)
        warm_median = statistics.median(warm)
        print()
        print(f"{'':24}{'pyroku':>10}{'piku (issue)':>14}{'ratio':>8}{'target':>10}")
        print(f"{'cold push -> 200':24}{cold:>9.2f}s{PIKU_COLD:>13.1f}s{cold / PIKU_COLD:>8.2f}{'<= 6 s':>10}")
        print(f"{'warm push -> 200':24}{warm_median:>9.2f}s{PIKU_WARM:>13.1f}s{warm_median / PIKU_WARM:>8.2f}"
              f"{'<= 3 s':>10}")
        print(f"{'failed, preboot':24}{max(failed):>10}{'~52 (2.6 s)':>14}{'':>8}{'0':>10}")
        print(f"{'failed, no preboot':24}{max(plain_failed):>10}")
        print(f"{'warm, no preboot':24}{statistics.median(plain):>9.2f}s")
    finally:
        if poller is not None:
            poller.stop()
        bench.stop()
        remove_firewall("pyroku_bench_deploy")
        remove_firewall("pyroku_bench_build")
        if args.keep:
            print(f"work directory kept: {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
