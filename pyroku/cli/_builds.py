"""``buildpacks``, ``builds`` and ``git:remote``: what builds an app, its builds, deploying without git."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import click
import httpx

from pyroku.cli import _git
from pyroku.cli._app_resolution import DEFAULT_REMOTE, with_app
from pyroku.cli._client import APIClient, JSONObject, path
from pyroku.cli._exceptions import CLIError, InvalidInput
from pyroku.cli._group import ClientCommand
from pyroku.cli._logs import stream_log
from pyroku.cli._output import Output, format_time
from pyroku.cli._prompt import confirm_name
from pyroku.cli._session import current_session

__all__ = [
    "buildpacks",
    "buildpacks_add",
    "buildpacks_clear",
    "buildpacks_remove",
    "buildpacks_set",
    "builds",
    "builds_cache_purge",
    "builds_create",
    "builds_info",
    "builds_output",
    "git_remote",
    "source_tarball",
    "trust_platform_ca",
]


# ---- buildpacks --------------------------------------------------------------------------------

def _installed(client: APIClient, app: str) -> list[str]:
    items: list[JSONObject] = client.get(path("/apps/{}/buildpack-installations", app))
    ordered = sorted(items, key=lambda i: int(i.get("ordinal") or 0))
    return [str((i.get("buildpack") or {}).get("url") or "") for i in ordered]


def _replace(client: APIClient, app: str, urls: list[str]) -> list[str]:
    items: list[JSONObject] = client.request(
        "PUT", path("/apps/{}/buildpack-installations", app), json={"updates": [{"buildpack": u} for u in urls]}
    )
    return [str((i.get("buildpack") or {}).get("url") or "") for i in items]


def _show(out: Output, app: str, urls: list[str]) -> None:
    if not urls:
        out.echo(f"{out.app(app)} has no Buildpack URL set: the bundled buildpacks detect how to build it.")
        return
    out.header(f"{out.app(app)} Buildpack URL" + ("s" if len(urls) > 1 else ""))
    if len(urls) == 1:
        out.echo(urls[0])
    else:
        out.lines([f"{n}. {u}" for n, u in enumerate(urls, start=1)])


def _next_release(out: Output, app: str, urls: list[str]) -> None:
    if len(urls) == 1:
        out.echo(f"Buildpack set. Next release on {out.app(app)} will use {urls[0]}.")
    elif urls:
        out.echo(f"Buildpacks set. Next release on {out.app(app)} will use:")
        out.lines([f"  {n}. {u}" for n, u in enumerate(urls, start=1)])
    else:
        out.echo(f"Buildpacks cleared. Next release on {out.app(app)} will detect its buildpack.")
        return
    out.echo(f"Run git push {DEFAULT_REMOTE} main to create a new release using "
             + ("these buildpacks." if len(urls) > 1 else "this buildpack."))


def _index(index: int | None, size: int, *, inserting: bool) -> int:
    """A 1-based ``--index`` as a list position (``inserting`` allows one past the end)."""
    if index is None:
        return size if inserting else 0
    limit = size + 1 if inserting else max(size, 1)
    if not 1 <= index <= limit:
        raise InvalidInput(f"Invalid index {index}: it must be between 1 and {limit}")
    return index - 1


@click.command("buildpacks", cls=ClientCommand)
@with_app
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def buildpacks(app: str, as_json: bool) -> None:
    """List the app's buildpacks, in the order they run."""
    session = current_session()
    client = session.client()
    if as_json:
        session.output.json(client.get(path("/apps/{}/buildpack-installations", app)))
        return
    _show(session.output, app, _installed(client, app))


@click.command("buildpacks:set", cls=ClientCommand)
@with_app
@click.argument("url")
@click.option("-i", "--index", type=int, help="Replace the buildpack at this position (1 is the first).")
def buildpacks_set(app: str, url: str, index: int | None) -> None:
    """Set the app's buildpack (a URL, a path the platform allows, or heroku/python, heroku/nodejs, ...)."""
    session = current_session()
    client = session.client()
    urls = _installed(client, app)
    if index is None and len(urls) > 1:
        raise InvalidInput("The app has several buildpacks: say which to replace with --index")
    position = _index(index, len(urls), inserting=False)
    if url in urls and urls.index(url) != position:
        raise CLIError(f"The buildpack {url} is already set on your app.")
    if position < len(urls):
        urls[position] = url
    else:
        urls.append(url)
    _next_release(session.output, app, _replace(client, app, urls))


@click.command("buildpacks:add", cls=ClientCommand)
@with_app
@click.argument("url")
@click.option("-i", "--index", type=int, help="Insert at this position (1 is the first; default: last).")
def buildpacks_add(app: str, url: str, index: int | None) -> None:
    """Add a buildpack to the app's list (it runs after the ones before it)."""
    session = current_session()
    client = session.client()
    urls = _installed(client, app)
    if url in urls:
        raise CLIError(f"The buildpack {url} is already set on your app.")
    urls.insert(_index(index, len(urls), inserting=True), url)
    _next_release(session.output, app, _replace(client, app, urls))


@click.command("buildpacks:remove", cls=ClientCommand)
@with_app
@click.argument("url", required=False)
@click.option("-i", "--index", type=int, help="Remove the buildpack at this position.")
def buildpacks_remove(app: str, url: str | None, index: int | None) -> None:
    """Remove a buildpack, by URL or position."""
    session = current_session()
    client = session.client()
    urls = _installed(client, app)
    if (url is None) == (index is None):
        raise InvalidInput("Give a buildpack URL or --index, not both")
    if url is not None:
        if url not in urls:
            raise CLIError(f"The buildpack {url} is not set on your app.")
        urls.remove(url)
    else:
        assert index is not None
        if not urls:
            raise CLIError(f"{app} has no buildpacks to remove.")
        del urls[_index(index, len(urls), inserting=False)]
    _next_release(session.output, app, _replace(client, app, urls))


@click.command("buildpacks:clear", cls=ClientCommand)
@with_app
def buildpacks_clear(app: str) -> None:
    """Clear the app's buildpacks: the next build detects among the bundled ones."""
    session = current_session()
    _replace(session.client(), app, [])
    _next_release(session.output, app, [])


# ---- builds ------------------------------------------------------------------------------------

def _list_builds(client: APIClient, app: str) -> list[JSONObject]:
    found: list[JSONObject] = client.get(path("/apps/{}/builds", app),
                                         headers={"Range": "created_at ..; order=desc, max=1000"})
    return sorted(found, key=lambda b: (str(b.get("created_at") or ""), str(b.get("id"))), reverse=True)


def _find_build(client: APIClient, app: str, build_id: str | None) -> JSONObject:
    if build_id:
        build: JSONObject = client.get(path("/apps/{}/builds/{}", app, build_id))
        return build
    newest = _list_builds(client, app)
    if not newest:
        raise CLIError(f"{app} has no builds yet.")
    return newest[0]


def _user(build: JSONObject) -> str:
    return str((build.get("user") or {}).get("email") or "")


@click.command("builds", cls=ClientCommand)
@with_app
@click.option("-n", "--num", type=click.IntRange(1), default=15, show_default=True, help="Builds to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def builds(app: str, num: int, as_json: bool) -> None:
    """List the app's builds, newest first."""
    session = current_session()
    found = _list_builds(session.client(), app)[:num]
    out = session.output
    if as_json:
        out.json(found)
        return
    out.header(f"{out.app(app)} Builds")
    out.table([[str(b.get("id")), str(b.get("status")), _user(b), format_time(b.get("created_at")),
                str((b.get("source_blob") or {}).get("version") or "")[:8]] for b in found])


@click.command("builds:info", cls=ClientCommand)
@with_app
@click.argument("build_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
def builds_info(app: str, build_id: str | None, as_json: bool) -> None:
    """Show a build (the newest by default)."""
    session = current_session()
    build = _find_build(session.client(), app, build_id)
    out = session.output
    if as_json:
        out.json(build)
        return
    out.header(f"Build {build.get('id')}")
    out.object([
        ("Status", str(build.get("status"))),
        ("By", _user(build)),
        ("Created", format_time(build.get("created_at"))),
        ("Buildpacks", ", ".join(str(b.get("name") or b.get("url")) for b in build.get("buildpacks") or [])
         or "(detected)"),
        ("Version", str((build.get("source_blob") or {}).get("version") or "")),
        ("Slug", str((build.get("slug") or {}).get("id") or "")),
        ("Release", str((build.get("release") or {}).get("id") or "")),
        ("Stack", str(build.get("stack") or "")),
    ])


@click.command("builds:output", cls=ClientCommand)
@with_app
@click.argument("build_id", required=False)
def builds_output(app: str, build_id: str | None) -> None:
    """Show a build's output (the newest build by default), following it while it runs."""
    session = current_session()
    build = _find_build(session.client(), app, build_id)
    stream_log(str(build.get("output_stream_url")), session.output, follow=True, what="build output")


@click.command("builds:cache:purge", cls=ClientCommand)
@with_app
@click.option("-c", "--confirm", metavar="APP", help="The app's name, to skip the confirmation prompt.")
def builds_cache_purge(app: str, confirm: str | None) -> None:
    """Empty the app's build cache: the next build installs every dependency again."""
    session = current_session()
    out = session.output
    confirm_name(out, app, confirm, doing=f"Purging the build cache of {app}",
                 warning=f"This deletes the build cache of {out.app(app)}.")
    with out.action(f"Purging the build cache of {out.app(app)}"):
        session.client().delete(path("/apps/{}/build-cache", app))


def source_tarball(directory: Path, target: io.BufferedWriter | Any) -> None:
    """A .tar.gz of ``directory``'s files at its root: the files git would commit when it is a git
    checkout (tracked and untracked, ignored ones left out), else everything but ``.git``."""
    names: list[str] | None = None
    if _git.in_work_tree(directory):
        result = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=directory, capture_output=True, check=False)
        if result.returncode == 0:
            names = sorted({n for n in result.stdout.decode(errors="surrogateescape").split("\0") if n})
    if names is None:
        names = []
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for name in filenames:
                names.append(os.path.relpath(os.path.join(dirpath, name), directory))
        names.sort()
    with tarfile.open(fileobj=target, mode="w:gz") as tar:
        for name in names:
            full = directory / name
            if full.is_symlink() or full.is_file():
                tar.add(full, arcname=name, recursive=False)


def _git_version(directory: Path) -> str | None:
    if not _git.in_work_tree(directory):
        return None
    result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                            check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


@click.command("builds:create", cls=ClientCommand)
@with_app
@click.option("-d", "--dir", "directory", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("."), show_default=True, help="The directory to build.")
@click.option("--version", "version", help="The version to record (default: the git commit, if any).")
@click.option("--tarball", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Build this .tar.gz instead of a directory.")
def builds_create(app: str, directory: Path, version: str | None, tarball: Path | None) -> None:
    """Build and deploy a directory without git (its output streams here)."""
    session = current_session()
    out = session.output
    client = session.client()
    with tempfile.TemporaryDirectory(prefix="pyroku-build-") as tmp:
        archive = tarball
        if archive is None:
            archive = Path(tmp) / "source.tgz"
            with archive.open("wb") as f:
                source_tarball(directory.resolve(), f)
        checksum = "SHA256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
        blob = client.post("/sources")["source_blob"]
        try:
            with archive.open("rb") as f:
                uploaded = httpx.put(str(blob["put_url"]), content=f, timeout=300)
        except httpx.TransportError as exc:
            raise CLIError(f"Uploading the source failed: {exc}") from exc
        if uploaded.status_code >= 400:
            raise CLIError(f"Uploading the source failed: HTTP {uploaded.status_code}")
    source: JSONObject = {"url": blob["get_url"], "checksum": checksum}
    version = version or (None if tarball else _git_version(directory))
    if version:
        source["version"] = version
    build: JSONObject = client.post(path("/apps/{}/builds", app), {"source_blob": source})
    stream_log(str(build.get("output_stream_url")), out, follow=True, what="build output")
    final: JSONObject = client.get(path("/apps/{}/builds/{}", app, str(build.get("id"))))
    if final.get("status") != "succeeded":
        raise CLIError(f"Build {final.get('id')} {final.get('status')}: see the output above.")


# ---- git ---------------------------------------------------------------------------------------

def trust_platform_ca(api_url: str, api_host: str, home: Path) -> str:
    """The platform's HTTPS base URL, with git told to trust the platform CA for it (only for it)."""
    try:
        info = httpx.get(f"{api_url}/tls/info", timeout=30)
        port = info.json().get("https_port") if info.status_code == 200 else None
    except (httpx.HTTPError, ValueError) as exc:
        raise CLIError(f"Cannot ask the platform about HTTPS: {exc}") from exc
    if not port:
        raise CLIError("This platform does not serve git over HTTPS (its server runs without --tls-port).")
    base = f"https://{api_host}:{port}"
    ca_path = info.json().get("ca_url")
    if ca_path:
        try:
            ca = httpx.get(f"{api_url}{ca_path}", timeout=30)
        except httpx.HTTPError as exc:
            raise CLIError(f"Cannot fetch the platform's CA certificate: {exc}") from exc
        if ca.status_code != 200 or b"BEGIN CERTIFICATE" not in ca.content:
            raise CLIError("The platform did not give its CA certificate.")
        target = home / ".config" / "pyroku" / "ca" / f"{api_host}-{port}.pem"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(ca.content)
        result = subprocess.run(["git", "config", "--global", f"http.{base}/.sslCAInfo", str(target)],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CLIError(f"Cannot configure git to trust the platform CA: {result.stderr.strip()}")
    return base


@click.command("git:remote", cls=ClientCommand)
@click.option("-a", "--app", "app_option", metavar="APP", help="The app whose git URL to use.")
@click.option("-r", "--remote", "remote_name", default=DEFAULT_REMOTE, show_default=True,
              help="Name of the git remote to set.")
@click.option("--https", "use_https", is_flag=True,
              help="Push over the platform's HTTPS port; git is set to trust the platform CA for it.")
def git_remote(app_option: str | None, remote_name: str, use_https: bool) -> None:
    """Set this checkout's git remote (default `pyroku`) to the app's git URL."""
    session = current_session()
    app = app_option or session.settings.app
    if not app:
        raise InvalidInput("Missing required flag: -a, --app APP")
    if not _git.in_work_tree():
        raise CLIError("Not in a git repository: run git init first.")
    info: JSONObject = session.client().get(path("/apps/{}", app))
    url = str(info.get("git_url") or "")
    if not url:
        raise CLIError(f"{app} has no git URL.")
    if use_https:
        home = session.settings.netrc_path.parent
        url = f"{trust_platform_ca(session.settings.api_url, session.settings.api_host, home)}/{info.get('name')}.git"
    _git.set_remote(remote_name, url)
    session.output.echo(f"set git remote {remote_name} to {url}")
