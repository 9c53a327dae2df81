"""The git endpoint's parts that need no server: which pushes deploy, repositories, certificates."""

from __future__ import annotations

import subprocess
import threading
import uuid
from pathlib import Path

from pyroku.git import Repositories, ensure_certificates
from pyroku.git._receiver import ZERO, _refused

NEW = "1" * 40


def test_only_one_update_of_main_or_master_deploys() -> None:
    assert _refused([[ZERO, NEW, "refs/heads/main"]]) is None
    assert _refused([[NEW, NEW, "refs/heads/master"]]) is None
    assert _refused([]) == ["Nothing to deploy."]
    other = _refused([[ZERO, NEW, "refs/heads/feature"]])
    assert other is not None and other[0] == "Pushing feature is not supported: only main or master deploy."
    tag = _refused([[ZERO, NEW, "refs/heads/main"], [ZERO, NEW, "refs/tags/v1"]])
    assert tag is not None and "refs/tags/v1" in tag[0]
    assert _refused([[ZERO, NEW, "refs/heads/main"], [ZERO, NEW, "refs/heads/master"]]) == [
        "Push main or master, not both at once."]
    assert _refused([[NEW, ZERO, "refs/heads/main"]]) == ["Deleting main is not supported."]


def test_repositories_are_created_once_even_when_asked_at_once(tmp_path: Path) -> None:
    repos = Repositories(tmp_path / "repos")
    app_id = str(uuid.uuid4())
    threads = [threading.Thread(target=repos.ensure, args=(app_id,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    path = repos.path(app_id)
    assert (path / "HEAD").read_text() == "ref: refs/heads/main\n"
    hooks = subprocess.run(["git", f"--git-dir={path}", "config", "core.hooksPath"], capture_output=True, text=True)
    assert hooks.stdout.strip() == str(repos.hooks)
    assert (repos.hooks / "pre-receive").stat().st_mode & 0o111
    assert [p.name for p in (tmp_path / "repos").iterdir() if p.name.endswith(".new")] == []
    assert repos.head(app_id, "refs/heads/main") is None


def test_the_platform_ca_signs_a_certificate_for_the_names_clients_use(tmp_path: Path) -> None:
    files = ensure_certificates(tmp_path / "tls", ["localhost", "127.0.0.1"])
    assert files.ca is not None

    def verify() -> str:
        out = subprocess.run(["openssl", "verify", "-CAfile", str(files.ca), str(files.cert)],
                             capture_output=True, text=True)
        return out.stdout.strip()

    assert verify().endswith(": OK")
    text = subprocess.run(["openssl", "x509", "-in", str(files.cert), "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert "DNS:localhost" in text and "IP Address:127.0.0.1" in text
    ca_before = files.ca.read_bytes()
    again = ensure_certificates(tmp_path / "tls", ["localhost", "127.0.0.1", "pyroku.example"])
    assert again.ca is not None and again.ca.read_bytes() == ca_before  # clients keep trusting it
    assert "DNS:pyroku.example" in subprocess.run(["openssl", "x509", "-in", str(again.cert), "-noout", "-text"],
                                                  capture_output=True, text=True).stdout
    assert verify().endswith(": OK")
    assert oct((tmp_path / "tls" / "ca.key").stat().st_mode & 0o777) == "0o600"
