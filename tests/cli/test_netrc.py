"""~/.netrc reading and writing: other entries survive byte for byte, the file stays 0600."""

from __future__ import annotations

import netrc
import stat
from pathlib import Path

from pyroku.cli._netrc import Credentials, read_credentials, remove_credentials, write_credentials

OTHERS = """\
# my credentials
machine example.org
  login alice
  password s3cret

machine api.heroku.com login bob@example.com password heroku-token
macdef init
machine 127.0.0.1 login not-an-entry password inside-a-macro
cd /pub

default login anonymous password guest
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_file_with_mode_0600_readable_by_stdlib(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    write_credentials(path, "127.0.0.1", Credentials("me@example.com", "tok-1"))
    assert mode(path) == 0o600
    assert path.read_text() == "machine 127.0.0.1\n  login me@example.com\n  password tok-1\n"
    assert netrc.netrc(str(path)).authenticators("127.0.0.1") == ("me@example.com", "", "tok-1")
    assert read_credentials(path, "127.0.0.1") == Credentials("me@example.com", "tok-1")


def test_keeps_other_machines_comments_macros_and_default(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text(OTHERS)
    path.chmod(0o644)
    write_credentials(path, "127.0.0.1", Credentials("me@example.com", "tok-1"))
    text = path.read_text()
    assert text.startswith(OTHERS)
    assert mode(path) == 0o600
    parsed = netrc.netrc(str(path))
    assert parsed.authenticators("example.org") == ("alice", "", "s3cret")
    assert parsed.authenticators("api.heroku.com") == ("bob@example.com", "", "heroku-token")
    assert parsed.hosts["127.0.0.1"] == ("me@example.com", "", "tok-1")
    assert "init" in parsed.macros

    remove_credentials(path, "127.0.0.1")
    assert path.read_text() == OTHERS
    assert read_credentials(path, "127.0.0.1") is None


def test_replaces_existing_entry_in_place_of_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text(
        "machine 127.0.0.1\n  login old@example.com\n  password old\n"
        "machine example.org login alice password s3cret\n"
        "machine 127.0.0.1 login older@example.com password older # trailing comment\n"
    )
    write_credentials(path, "127.0.0.1", Credentials("new@example.com", "new"))
    assert path.read_text() == (
        "machine example.org login alice password s3cret\nmachine 127.0.0.1\n  login new@example.com\n  password new\n"
    )


def test_other_hosts_with_similar_names_are_untouched(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    path.write_text("machine 127.0.0.10 login x password y\nmachine localhost login a password b")
    write_credentials(path, "127.0.0.1", Credentials("me@example.com", "t"))
    text = path.read_text()
    assert text.startswith("machine 127.0.0.10 login x password y\nmachine localhost login a password b\n")
    assert not remove_credentials(path, "example.org")
    assert remove_credentials(path, "127.0.0.1")
    assert remove_credentials(path, "127.0.0.10")
    assert path.read_text() == "machine localhost login a password b\n"


def test_values_needing_quotes_round_trip_through_stdlib(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    write_credentials(path, "127.0.0.1", Credentials('we ird"#\\@example.com', "tok"))
    assert read_credentials(path, "127.0.0.1") == Credentials('we ird"#\\@example.com', "tok")
    remove_credentials(path, "127.0.0.1")
    assert path.read_text() == ""


def test_missing_file_and_missing_entry(tmp_path: Path) -> None:
    path = tmp_path / ".netrc"
    assert read_credentials(path, "127.0.0.1") is None
    assert not remove_credentials(path, "127.0.0.1")
    assert not path.exists()


def test_symlinked_netrc_is_updated_through_the_link(tmp_path: Path) -> None:
    target = tmp_path / "dotfiles" / "netrc"
    target.parent.mkdir()
    target.write_text("machine example.org login alice password s3cret\n")
    link = tmp_path / ".netrc"
    link.symlink_to(target)
    write_credentials(link, "127.0.0.1", Credentials("me@example.com", "t"))
    assert link.is_symlink()
    assert "machine 127.0.0.1" in target.read_text()
    assert mode(target) == 0o600
