"""`git push` to a real server: real git over smart HTTP, builds in real runc containers, the apps
served through the router. Developers log in with `pyroku login` (which writes ~/.netrc) and never
type a password again. Nothing downloads: Python packages come from wheels in the apps.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.build.support import git, git_repository, make_buildpack, make_wheel, write_tree
from tests.conftest import PYROKU, ServerProcess, free_port, runc_platform

pytestmark = pytest.mark.slow

WSGI_APP = """\
import os
from wsgiref.simple_server import WSGIRequestHandler, make_server

import greeting


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(greeting.TEXT + " VERSION_MARK").encode()]


make_server("0.0.0.0", int(os.environ["PORT"]), app, handler_class=Quiet).serve_forever()
"""

FILE_SERVER = """\
import http.server, os, sys
body = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"""


@dataclass
class Platform:
    server: ServerProcess
    packs: Path  # where buildpacks given by path or file:// URL may live (PYROKU_BUILDPACK_DIRS)
    tls_port: int


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    packs = tmp_path_factory.mktemp("buildpacks")
    tls_port = free_port()
    env = {"PYROKU_BUILDPACK_DIRS": str(packs), "PYROKU_SLUG_MAX_MB": "1", "PYROKU_TLS_PORT": str(tls_port)}
    with runc_platform(tmp_path_factory.mktemp("git-platform"), "git", "10.216.0.0/16", ("pyg", "pgb"),
                       extra_env=env) as server:
        yield Platform(server, packs, tls_port)


@dataclass
class Developer:
    """Someone with their own HOME (and ~/.netrc from `pyroku login`) working in `work`."""

    email: str
    home: Path
    work: Path
    server: ServerProcess

    @property
    def token(self) -> str:
        return (self.home / ".netrc").read_text().split("password")[-1].strip()

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYROKU_", "GIT_"))}
        env.update(HOME=str(self.home), PYROKU_API_URL=self.server.api_url, GIT_TERMINAL_PROMPT="0",
                   GIT_CONFIG_NOSYSTEM="1")
        return env

    def pyroku(self, *args: str, cwd: Path | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([PYROKU, *args], cwd=cwd or self.work, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=300)

    def git(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return git(repo, *args, env=self.env, check=False)

    def push(self, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.git(repo, "push", "pyroku", *(args or ("main",)))

    def app(self, name: str, files: dict[str, str | bytes]) -> Path:
        """A git checkout of `files` with the app `name` created and its remote set."""
        repo = git_repository(self.work / name, files)
        created = self.pyroku("create", name, cwd=repo)
        assert created.returncode == 0, created.stderr
        return repo


@pytest.fixture
def dev(platform: Platform, tmp_path: Path) -> Developer:
    email, password = f"dev-{secrets.token_hex(4)}@example.com", secrets.token_urlsafe(12)
    with platform.server.client(platform.server.admin_token) as c:
        assert c.post("/users", json={"email": email, "password": password}).status_code == 201
    developer = Developer(email, tmp_path / "home", tmp_path / "work", platform.server)
    developer.home.mkdir()
    developer.work.mkdir()
    login = developer.pyroku("login", stdin=f"{email}\n{password}\n")
    assert login.returncode == 0, login.stderr
    assert (developer.home / ".netrc").is_file()
    return developer


def get(server: ServerProcess, name: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.router_port}/", headers={"Host": f"{name}.localhost"}, timeout=30)


def serves(server: ServerProcess, name: str) -> str:
    response = get(server, name)
    assert response.status_code == 200, response.text
    return response.text


def python_app(tmp_path: Path, text: str) -> dict[str, str | bytes]:
    wheel = make_wheel(tmp_path / "wheels", "greeting", "1.0", f"TEXT = {text!r}\n")
    return {
        "app.py": WSGI_APP,
        "requirements.txt": f"./vendor/{wheel.name}\n",
        f"vendor/{wheel.name}": wheel.read_bytes(),
        "Procfile": "web: python app.py\n",
        ".python-version": "3.11\n",
    }


def remote_lines(output: str) -> list[str]:
    return [line.removeprefix("remote: ").rstrip() for line in output.splitlines() if line.startswith("remote:")]


def name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def test_push_a_python_app_then_a_warm_push(dev: Developer, tmp_path: Path) -> None:
    app = name("flask")
    repo = dev.app(app, python_app(tmp_path, "hello from a pushed app"))
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    lines = remote_lines(pushed.stderr)
    deployed = f"       http://{app}.localhost:{dev.server.router_port}/ deployed to Pyroku"
    for expected in ("-----> Building on the pyroku-12 stack", "-----> Python app detected",
                     "-----> Installing dependencies with pip", "       Procfile declares types     -> web",
                     "       Released v2", deployed):
        assert expected in lines, pushed.stderr
    assert "main -> main" in pushed.stderr
    assert serves(dev.server, app) == "hello from a pushed app VERSION_MARK"  # live when the push returns

    write_tree(repo, {"app.py": WSGI_APP.replace("VERSION_MARK", "v2")})
    dev.git(repo, "commit", "-qam", "one line")
    warm = dev.push(repo)
    assert warm.returncode == 0, warm.stderr
    lines = remote_lines(warm.stderr)
    assert "-----> Restoring the cached virtualenv: dependencies are unchanged since the last build" in lines
    assert not any("Installing dependencies" in line for line in lines)
    assert serves(dev.server, app) == "hello from a pushed app v2"

    sha = dev.git(repo, "rev-parse", "HEAD").stdout.strip()
    releases = dev.pyroku("releases", "-a", app).stdout
    assert f"Deploy {sha[:8]}" in releases
    builds = dev.pyroku("builds", "-a", app).stdout
    assert builds.count("succeeded") == 2 and sha[:8] in builds
    output = dev.pyroku("builds:output", "-a", app).stdout
    assert "Restoring the cached virtualenv" in output


def test_two_bundled_buildpacks_nodejs_then_python(dev: Developer) -> None:
    app = name("duo")
    package = ('{"name": "duo", "version": "1.0.0", "engines": {"node": "18.x"},'
               ' "scripts": {"build": "node -e \\"require(\'fs\').writeFileSync(\'built.txt\', \'built by npm\')\\""}}')
    repo = dev.app(app, {"package.json": package, "requirements.txt": "", "serve.py": FILE_SERVER,
                         "Procfile": "web: python serve.py built.txt\n"})
    assert dev.pyroku("buildpacks:set", "heroku/python", "-a", app).returncode == 0
    added = dev.pyroku("buildpacks:add", "--index", "1", "heroku/nodejs", "-a", app)
    assert added.returncode == 0, added.stderr
    assert "1. heroku/nodejs" in added.stdout and "2. heroku/python" in added.stdout
    assert dev.pyroku("buildpacks", "-a", app).stdout.splitlines()[1:] == ["1. heroku/nodejs", "2. heroku/python"]
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    lines = remote_lines(pushed.stderr)
    assert lines.index("-----> Node.js app detected") < lines.index("-----> Python app detected")
    assert "-----> Running the build script: npm run build" in lines
    assert serves(dev.server, app) == "built by npm"


def test_a_third_party_buildpack_from_a_git_url(dev: Developer, platform: Platform) -> None:
    source = make_buildpack(
        platform.packs / f"src-{secrets.token_hex(3)}", name="Third party",
        detect='test -f "$1/package.json"',
        compile=('echo "-----> third party compiling"\n'
                 'printf "%s|%s|%s" "$(cat "$ENV_DIR/WHO")" "$PATH" "$STACK" > "$BUILD_DIR/page.txt"\n'
                 'cp "$(dirname "$0")/serve.py" "$BUILD_DIR/serve.py"'),
        release="printf -- '---\\ndefault_process_types:\\n  web: python3 serve.py page.txt\\n'",
    )
    write_tree(source, {"bin/serve.py": FILE_SERVER})
    bare = git_repository(source, bare_copy=platform.packs / f"pack-{secrets.token_hex(3)}.git")
    app = name("third")
    repo = dev.app(app, {"package.json": '{"name": "x", "version": "1.0.0"}'})
    assert dev.pyroku("config:set", "WHO=world", "-a", app).returncode == 0
    url = f"file://{bare}"
    assert dev.pyroku("buildpacks:set", "heroku/nodejs", "-a", app).returncode == 0
    assert dev.pyroku("buildpacks:add", url, "-a", app).returncode == 0
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    lines = remote_lines(pushed.stderr)
    assert "-----> Third party app detected" in lines and "-----> third party compiling" in lines
    assert "       Default types for buildpack -> web" in lines
    who, path, stack = serves(dev.server, app).split("|")
    assert who == "world"  # config vars reach bin/compile as files in ENV_DIR
    assert "/app/node_modules/.bin" in path  # the nodejs buildpack's export was sourced first
    assert stack == "pyroku-12"


def test_a_static_site(dev: Developer) -> None:
    app = name("site")
    repo = dev.app(app, {"index.html": "<h1>static</h1>\n", ".secret": "no"})
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    assert "-----> Static HTML app detected" in remote_lines(pushed.stderr)
    assert serves(dev.server, app) == "<h1>static</h1>\n"
    hidden = httpx.get(f"http://127.0.0.1:{dev.server.router_port}/.secret", headers={"Host": f"{app}.localhost"})
    assert hidden.status_code == 404


def test_failed_pushes_change_nothing(dev: Developer, platform: Platform, tmp_path: Path) -> None:
    app = name("fail")
    files = python_app(tmp_path, "good")
    repo = dev.app(app, files)
    assert dev.push(repo).returncode == 0
    good = dev.git(repo, "rev-parse", "HEAD").stdout.strip()
    assert serves(dev.server, app) == "good VERSION_MARK"

    def releases() -> int:
        with dev.server.client(dev.token) as c:
            return len(c.get(f"/apps/{app}/releases").json())

    def rejected(change: dict[str, str | bytes], delete: tuple[str, ...] = ()) -> str:
        dev.git(repo, "checkout", "-q", "-B", "main", good)
        write_tree(repo, change)
        for path in delete:
            (repo / path).unlink()
        dev.git(repo, "add", "-A")
        dev.git(repo, "commit", "-qm", "breaks")
        before = releases()
        pushed = dev.push(repo)
        assert pushed.returncode != 0
        assert "[remote rejected] main -> main (pre-receive hook declined)" in pushed.stderr
        assert f" !     Push rejected to {app}: nothing was deployed." in remote_lines(pushed.stderr)
        remote = dev.git(repo, "ls-remote", "pyroku", "refs/heads/main").stdout.split()[0]
        assert remote == good  # the ref is not updated...
        assert serves(dev.server, app) == "good VERSION_MARK"  # ...and the running release stays
        assert releases() == before
        return "\n".join(remote_lines(pushed.stderr))

    output = rejected({}, delete=("Procfile",))
    assert "No process types: the app has no Procfile and its buildpacks define no default process." in output
    output = rejected({".python-version": "3.8\n"})
    assert "Requested Python 3.8 (in .python-version) is not available." in output
    assert "The pyroku-12 stack provides Python 3.11." in output
    output = rejected({"requirements.txt": "./no-such-package-dir\n"})
    assert "pip could not install the dependencies (see above)." in output
    assert "failed to compile Python app (bin/compile exited with status 1)" in output
    output = rejected({"big.bin": os.urandom(1536 * 1024)})
    assert "Compiled slug size is over the 1 MB limit." in output
    output = rejected({"Procfile": "web: python app.py\nnot a process line\n"})
    assert "Procfile line 2 is not 'type: command': 'not a process line'" in output

    dev.git(repo, "checkout", "-q", "-B", "main", good)
    branch = dev.push(repo, "main:feature")
    assert branch.returncode != 0
    assert " !     Pushing feature is not supported: only main or master deploy." in remote_lines(branch.stderr)
    builds = dev.pyroku("builds", "-a", app).stdout
    assert builds.count("failed") == 5 and builds.count("succeeded") == 1


def test_credentials_and_other_peoples_apps(dev: Developer, platform: Platform, tmp_path: Path) -> None:
    app = name("mine")
    repo = dev.app(app, {"Procfile": "web: python3 -m http.server $PORT\n", "index.txt": "x"})
    url = f"{dev.server.api_url}/{app}.git"
    stranger = Developer("stranger", tmp_path / "stranger", tmp_path, dev.server)
    stranger.home.mkdir()
    _, stranger_token = dev.server.create_user()
    (stranger.home / ".netrc").write_text(f"machine 127.0.0.1\n  login x\n  password {stranger_token}\n")
    fetch = stranger.git(tmp_path, "ls-remote", url)
    assert fetch.returncode != 0 and "not found" in fetch.stderr
    push = stranger.git(repo, "push", url, "main")
    assert push.returncode != 0 and "not found" in push.stderr
    (stranger.home / ".netrc").write_text("machine 127.0.0.1\n  login x\n  password not-a-token\n")
    refused = stranger.git(tmp_path, "ls-remote", url)  # 401 again: git would ask for other credentials
    assert refused.returncode != 0 and "could not read Username" in refused.stderr
    (stranger.home / ".netrc").unlink()
    assert stranger.git(tmp_path, "ls-remote", url).returncode != 0

    refs = f"{url}/info/refs?service=git-receive-pack"
    anonymous = httpx.get(refs)
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Basic")
    assert httpx.get(refs, auth=("git", "not-a-token")).status_code == 401
    foreign = httpx.get(refs, auth=("git", stranger_token))
    missing = httpx.get(f"{dev.server.api_url}/no-such-app-here.git/info/refs?service=git-receive-pack",
                        auth=("git", stranger_token))
    assert foreign.status_code == missing.status_code == 404 and foreign.text == missing.text
    assert httpx.get(f"{url}/HEAD", auth=("git", stranger_token)).status_code == 404  # no dumb protocol
    assert dev.git(tmp_path, "ls-remote", url).returncode == 0  # the owner, through ~/.netrc


def test_concurrent_pushes_to_one_app_are_serialised_and_apps_build_in_parallel(
    dev: Developer, platform: Platform,
) -> None:
    sleepy = make_buildpack(
        platform.packs / f"sleepy-{secrets.token_hex(3)}", name="Sleepy",
        compile='echo "started $(date +%s.%N)"; sleep 2; echo "finished $(date +%s.%N)"',
        release="printf -- '---\\ndefault_process_types:\\n  web: python3 -m http.server $PORT\\n'",
    )
    first, second = name("queue"), name("other")
    repos = {}
    for app in (first, second):
        repos[app] = dev.app(app, {"index.html": app})
        assert dev.pyroku("buildpacks:set", str(sleepy), "-a", app).returncode == 0
    clone = dev.work / "clone"
    shutil.copytree(repos[first], clone)
    for repo, text in ((repos[first], "a"), (clone, "b")):
        write_tree(repo, {"index.html": text})
        dev.git(repo, "commit", "-qam", text)
    jobs = [subprocess.Popen(["git", "-C", str(repo), "push", "pyroku", "main"], env=dev.env, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            for repo in (repos[first], clone, repos[second])]
    outputs = [job.communicate(timeout=120)[0] for job in jobs]
    statuses = [job.returncode for job in jobs]
    same_app = sorted(zip(statuses[:2], outputs[:2], strict=True))
    (ok_status, _), (late_status, late) = same_app
    assert ok_status == 0 and late_status != 0, outputs
    assert "-----> Another build of this app is running: this one waits for it to finish" in late
    assert "main changed while this push waited (another push was deployed first)" in late
    assert statuses[2] == 0, outputs[2]

    def interval(output: str) -> tuple[float, float]:
        start = float(re.search(r"started ([\d.]+)", output).group(1))  # type: ignore[union-attr]
        end = float(re.search(r"finished ([\d.]+)", output).group(1))  # type: ignore[union-attr]
        return start, end

    winner = outputs[statuses.index(0)]
    a, b = interval(winner), interval(outputs[2])
    assert a[0] < b[1] and b[0] < a[1], "builds of two apps ran one after the other"


def test_builds_create_from_a_directory_and_the_build_cache(dev: Developer, tmp_path: Path) -> None:
    app = name("dir")
    directory = write_tree(dev.work / app, python_app(tmp_path, "from a directory"))
    assert dev.pyroku("create", app, "--no-remote").returncode == 0
    created = dev.pyroku("builds:create", "--dir", str(directory), "-a", app)
    assert created.returncode == 0, created.stderr
    assert "-----> Installing dependencies with pip" in created.stdout
    assert serves(dev.server, app) == "from a directory VERSION_MARK"
    info = dev.pyroku("builds:info", "-a", app).stdout
    assert "Status:     succeeded" in info
    again = dev.pyroku("builds:create", "--dir", str(directory), "-a", app)
    assert "Restoring the cached virtualenv" in again.stdout
    purged = dev.pyroku("builds:cache:purge", "-a", app, "--confirm", app)
    assert purged.returncode == 0 and "Purging the build cache" in purged.stdout
    third = dev.pyroku("builds:create", "--dir", str(directory), "-a", app)
    assert "-----> Installing dependencies with pip" in third.stdout

    broken = write_tree(tmp_path / "broken", {"Procfile": "web: x\nbad\n", "requirements.txt": ""})
    failed = dev.pyroku("builds:create", "--dir", str(broken), "-a", app)
    assert failed.returncode == 1 and "Procfile line 2" in failed.stdout and "failed" in failed.stderr
    assert serves(dev.server, app) == "from a directory VERSION_MARK"

    repo = git_repository(dev.work / f"{app}-checkout", {"x": "y"})
    remote = dev.pyroku("git:remote", "-a", app, cwd=repo)
    assert remote.returncode == 0 and dev.git(repo, "remote", "get-url", "pyroku").stdout.strip().endswith(
        f"/{app}.git")


def test_push_over_https_trusting_the_platform_ca(dev: Developer, platform: Platform) -> None:
    app = name("tls")
    repo = dev.app(app, {"Procfile": "web: python3 -m http.server $PORT\n", "index.html": "over https\n"})
    https_url = f"https://127.0.0.1:{platform.tls_port}/{app}.git"
    untrusted = dev.git(repo, "push", https_url, "main")  # before git was told about the platform CA
    assert untrusted.returncode != 0 and "certificate" in untrusted.stderr
    remote = dev.pyroku("git:remote", "-a", app, "--https", cwd=repo)
    assert remote.returncode == 0, remote.stderr
    assert remote.stdout.strip() == f"set git remote pyroku to {https_url}"
    assert "sslcainfo" in (dev.home / ".gitconfig").read_text().lower()
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    assert f"To {https_url}" in pushed.stderr and "remote: -----> Static HTML app detected" in pushed.stderr
    assert serves(dev.server, app) == "over https\n"


def test_destroying_an_app_deletes_its_repository_build_cache_and_slugs(dev: Developer) -> None:
    app = name("gone")
    repo = dev.app(app, {"index.html": "<h1>soon gone</h1>\n"})
    pushed = dev.push(repo)
    assert pushed.returncode == 0, pushed.stderr
    with dev.server.client(dev.token) as c:
        app_id = c.get(f"/apps/{app}").json()["id"]
        slug_ids = [r["slug"]["id"] for r in c.get(f"/apps/{app}/releases").json() if r["slug"]]
        build_ids = [b["id"] for b in c.get(f"/apps/{app}/builds").json()]
    data = dev.server.data_dir
    stored = [data / "repos" / f"{app_id}.git", data / "build-cache" / app_id,
              *(data / "slugs" / f"{slug_id}.tgz" for slug_id in slug_ids),
              *(data / "build-output" / f"{build_id}.log" for build_id in build_ids)]
    assert slug_ids and build_ids and [path for path in stored if not path.exists()] == []

    destroyed = dev.pyroku("apps:destroy", "-a", app, "--confirm", app)
    assert destroyed.returncode == 0, destroyed.stderr
    assert [path for path in stored if path.exists()] == []
    assert not [p for p in (data / "repos").iterdir() if app_id in p.name]  # nothing half-deleted either
