"""Naming buildpacks: bundled, remote (fetched by the build container), local (allowed roots only)."""

import subprocess
from pathlib import Path

import pytest

from pyroku.build import (
    BundledBuildpack,
    InvalidBuildpack,
    LocalBuildpack,
    LocalGitBuildpack,
    RemoteBuildpack,
    bundled_buildpacks,
    resolve_buildpack,
)


def test_bundled_names_and_order() -> None:
    assert [b.url for b in bundled_buildpacks()] == ["pyroku/python", "pyroku/nodejs", "pyroku/static",
                                                     "pyroku/procfile"]
    for name, expected in [("heroku/python", "python"), ("python", "python"), ("heroku/nodejs", "nodejs"),
                           ("pyroku/static", "static"), ("procfile", "procfile")]:
        assert resolve_buildpack(name) == BundledBuildpack(expected)


def test_remote_buildpacks_are_fetched_by_the_build(tmp_path: Path) -> None:
    pack = resolve_buildpack("https://github.com/heroku/heroku-buildpack-python.git#v1")
    assert pack == RemoteBuildpack("https://github.com/heroku/heroku-buildpack-python.git#v1")
    assert pack.stage(tmp_path) == pack.url  # the host does not fetch it


def test_local_buildpacks_only_from_allowed_roots(tmp_path: Path) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "mine" / "bin").mkdir(parents=True)
    (allowed / "mine" / "bin" / "detect").write_text("#!/bin/sh\n")
    assert isinstance(resolve_buildpack(str(allowed / "mine"), (allowed,)), LocalBuildpack)
    assert isinstance(resolve_buildpack(f"file://{allowed}/mine", (allowed,)), LocalBuildpack)
    with pytest.raises(InvalidBuildpack, match="not in a directory the platform allows"):
        resolve_buildpack(str(allowed / "mine"))
    with pytest.raises(InvalidBuildpack, match="not in a directory the platform allows"):
        resolve_buildpack("/etc", (allowed,))
    with pytest.raises(InvalidBuildpack, match="not in a directory the platform allows"):
        resolve_buildpack(f"{allowed}/../../etc", (allowed,))
    with pytest.raises(InvalidBuildpack, match="Unknown buildpack"):
        resolve_buildpack("ftp://example.com/pack.tgz")
    with pytest.raises(InvalidBuildpack):
        resolve_buildpack("heroku/python\tinjected")


def test_a_local_git_repository_is_cloned_at_its_ref(tmp_path: Path) -> None:
    repo = tmp_path / "packs" / "bp"
    repo.mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    (repo / "VERSION").write_text("one\n")
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    (repo / "VERSION").write_text("two\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    pack = resolve_buildpack(f"file://{repo}#v1", (tmp_path / "packs",))
    assert isinstance(pack, LocalGitBuildpack)
    target = tmp_path / "staged"
    assert pack.stage(target) is None
    assert (target / "VERSION").read_text() == "one\n" and not (target / ".git").exists()
