"""The routing table contract: round trip, validation, atomic save."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pyroku.router import (
    AppRoute,
    CertFiles,
    DynoRoute,
    RoutingTable,
    RoutingTableError,
    load_table,
    save_table,
)


def _sample() -> RoutingTable:
    return RoutingTable(
        version=7,
        apps={
            "0b5c6b6e-app": AppRoute(
                name="myapp", hostnames=("myapp.localhost", "www.example.com"), maintenance=False, released=True,
                web_quantity=2,
                dynos=(DynoRoute("web.1", "10.0.0.2", 5000, "up"), DynoRoute("web.2", "127.0.0.1", 5001, "starting")),
                error_page_url="https://e.example.com/", maintenance_page_url=None,
                certs=(CertFiles("/c.pem", "/k.pem", ("www.example.com",)),),
            )
        },
        default_cert=CertFiles("/d.pem", "/dk.pem"),
    )


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    save_table(path, _sample())
    assert load_table(path) == _sample()
    assert json.loads(path.read_text())["apps"]["0b5c6b6e-app"]["dynos"][1]["state"] == "starting"
    assert [p.name for p in tmp_path.iterdir()] == ["routes.json"]  # no temp files left behind


def test_minimal_table_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "routes.json"
    path.write_text('{"version": 1, "apps": {"a": {"name": "a", "hostnames": ["A.Localhost"]}}}')
    table = load_table(path)
    assert table.apps["a"] == AppRoute(name="a", hostnames=("a.localhost",))
    assert table.default_cert is None


@pytest.mark.parametrize("text", [
    "",
    "{not json",
    "[]",
    '{"version": "1", "apps": {}}',
    '{"version": 1, "apps": {"a": {"hostnames": []}}}',
    '{"version": 1, "apps": {"a": {"name": "a", "dynos": [{"name": "web.1", "host": "h", "port": 0}]}}}',
    '{"version": 1, "apps": {"a": {"name": "a", "dynos": [{"name": "web.1", "host": "h", "port": 1, '
    '"state": "sleeping"}]}}}',
    '{"version": 1, "apps": {"a": {"name": "a", "web_quantity": true}}}',
])
def test_malformed_tables_are_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "routes.json"
    path.write_text(text)
    with pytest.raises(RoutingTableError):
        load_table(path)


def test_missing_table(tmp_path: Path) -> None:
    with pytest.raises(RoutingTableError, match="cannot read"):
        load_table(tmp_path / "nope.json")
