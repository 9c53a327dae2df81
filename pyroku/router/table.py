"""The routing table: the contract between the controller (writer) and the router (reader).

The controller describes every app the router may serve and calls :func:`save`; routers watch the
file and pick up a new version within a second. The file is JSON::

    {
      "version": 42,
      "apps": {
        "<app id>": {
          "name": "myapp",
          "hostnames": ["myapp.localhost", "www.example.com", "*.example.org"],
          "maintenance": false,
          "released": true,
          "web_quantity": 2,
          "dynos": [{"name": "web.1", "host": "127.0.0.1", "port": 5000, "state": "up"}],
          "error_page_url": null,
          "maintenance_page_url": null,
          "certs": [{"hostnames": ["www.example.com"], "cert_file": "/path/cert.pem",
                     "key_file": "/path/key.pem"}]
        }
      },
      "default_cert": {"cert_file": "/path/cert.pem", "key_file": "/path/key.pem"} or null
    }

``dynos`` lists the app's **web** dynos only, in any state: ``up`` (routable), ``starting``
(requests wait for it, up to 75 s) or ``crashed``. Hostnames are matched case-insensitively, with
the port stripped; a ``*.`` prefix matches exactly one more label. ``certs`` give per-hostname TLS
certificates chosen by SNI; ``default_cert`` (when null, the router's own self-signed certificate)
serves every other name. ``save`` writes atomically (temporary file, fsync, rename), so a reader
sees either the old or the new file, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from pyroku.router._exceptions import RoutingTableError

DynoState = Literal["up", "starting", "crashed"]
DYNO_STATES: Final = frozenset({"up", "starting", "crashed"})

__all__ = ["DYNO_STATES", "AppRoute", "CertFiles", "DynoRoute", "DynoState", "RoutingTable", "load", "save"]


@dataclass(frozen=True, slots=True)
class DynoRoute:
    """One web dyno: where to connect and whether it may take requests."""

    name: str
    host: str
    port: int
    state: DynoState = "up"


@dataclass(frozen=True, slots=True)
class CertFiles:
    """A PEM certificate chain and its private key, as paths readable by the router.

    ``hostnames`` (per-app certificates only) are the names SNI selects this certificate for; a
    ``*.`` prefix matches one label.
    """

    cert_file: str
    key_file: str
    hostnames: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AppRoute:
    """Everything the router needs to know about one app."""

    name: str
    hostnames: tuple[str, ...] = ()
    maintenance: bool = False
    released: bool = True
    web_quantity: int = 0
    dynos: tuple[DynoRoute, ...] = ()
    error_page_url: str | None = None
    maintenance_page_url: str | None = None
    certs: tuple[CertFiles, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """A published version of the routing table; ``apps`` is keyed by app id."""

    version: int = 0
    apps: Mapping[str, AppRoute] = field(default_factory=dict)
    default_cert: CertFiles | None = None


# -- JSON <-> dataclasses ------------------------------------------------------------------------


_REQUIRED: Final = object()


def _get(obj: Mapping[str, Any], key: str, kind: type, where: str, default: Any = _REQUIRED) -> Any:
    """``obj[key]`` checked against ``kind`` (``None`` or absent gives ``default`` when there is one)."""
    value = obj.get(key)
    if value is None:
        if default is _REQUIRED:
            raise RoutingTableError(f"{where}: missing {key!r}")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RoutingTableError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def _cert_from_json(obj: Any, where: str) -> CertFiles:
    if not isinstance(obj, dict):
        raise RoutingTableError(f"{where}: expected an object")
    hostnames = _get(obj, "hostnames", list, where, [])
    if not all(isinstance(name, str) for name in hostnames):
        raise RoutingTableError(f"{where}: 'hostnames' must be strings")
    return CertFiles(
        cert_file=_get(obj, "cert_file", str, where),
        key_file=_get(obj, "key_file", str, where),
        hostnames=tuple(name.lower() for name in hostnames),
    )


def _dyno_from_json(obj: Any, where: str) -> DynoRoute:
    if not isinstance(obj, dict):
        raise RoutingTableError(f"{where}: expected an object")
    state = _get(obj, "state", str, where, "up")
    if state not in DYNO_STATES:
        raise RoutingTableError(f"{where}: unknown state {state!r}")
    port = _get(obj, "port", int, where)
    if not 0 < port < 65536:
        raise RoutingTableError(f"{where}: port {port} out of range")
    return DynoRoute(
        name=_get(obj, "name", str, where),
        host=_get(obj, "host", str, where),
        port=port,
        state=cast(DynoState, state),
    )


def _app_from_json(app_id: str, obj: Any) -> AppRoute:
    where = f"app {app_id}"
    if not isinstance(obj, dict):
        raise RoutingTableError(f"{where}: expected an object")
    hostnames = _get(obj, "hostnames", list, where, [])
    if not all(isinstance(name, str) for name in hostnames):
        raise RoutingTableError(f"{where}: 'hostnames' must be strings")
    dynos = _get(obj, "dynos", list, where, [])
    certs = _get(obj, "certs", list, where, [])
    return AppRoute(
        name=_get(obj, "name", str, where),
        hostnames=tuple(name.lower() for name in hostnames),
        maintenance=_get(obj, "maintenance", bool, where, False),
        released=_get(obj, "released", bool, where, True),
        web_quantity=_get(obj, "web_quantity", int, where, 0),
        dynos=tuple(_dyno_from_json(d, f"{where} dyno #{i}") for i, d in enumerate(dynos)),
        error_page_url=_get(obj, "error_page_url", str, where, None),
        maintenance_page_url=_get(obj, "maintenance_page_url", str, where, None),
        certs=tuple(_cert_from_json(c, f"{where} cert #{i}") for i, c in enumerate(certs)),
    )


def from_json(obj: Any) -> RoutingTable:
    """Build a table from parsed JSON; raises :class:`RoutingTableError` when it does not fit."""
    if not isinstance(obj, dict):
        raise RoutingTableError("routing table: expected a JSON object")
    apps = _get(obj, "apps", dict, "routing table", {})
    default_cert = obj.get("default_cert")
    return RoutingTable(
        version=_get(obj, "version", int, "routing table", 0),
        apps={str(app_id): _app_from_json(str(app_id), app) for app_id, app in apps.items()},
        default_cert=None if default_cert is None else _cert_from_json(default_cert, "default_cert"),
    )


def _cert_to_json(cert: CertFiles) -> dict[str, Any]:
    out: dict[str, Any] = {"cert_file": cert.cert_file, "key_file": cert.key_file}
    if cert.hostnames:
        out["hostnames"] = list(cert.hostnames)
    return out


def to_json(table: RoutingTable) -> dict[str, Any]:
    """The JSON object :func:`save` writes."""
    return {
        "version": table.version,
        "apps": {
            app_id: {
                "name": app.name,
                "hostnames": list(app.hostnames),
                "maintenance": app.maintenance,
                "released": app.released,
                "web_quantity": app.web_quantity,
                "dynos": [{"name": d.name, "host": d.host, "port": d.port, "state": d.state} for d in app.dynos],
                "error_page_url": app.error_page_url,
                "maintenance_page_url": app.maintenance_page_url,
                "certs": [_cert_to_json(c) for c in app.certs],
            }
            for app_id, app in table.apps.items()
        },
        "default_cert": None if table.default_cert is None else _cert_to_json(table.default_cert),
    }


def load(path: str | os.PathLike[str]) -> RoutingTable:
    """Read a table; raises :class:`RoutingTableError` when it is missing, unreadable or malformed."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise RoutingTableError(f"cannot read the routing table {os.fspath(path)!r}: {exc.strerror}") from exc
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise RoutingTableError(f"the routing table {os.fspath(path)!r} is not valid JSON: {exc}") from exc
    return from_json(obj)


def save(path: str | os.PathLike[str], table: RoutingTable) -> None:
    """Write a table atomically: readers see the old file or the new one, never a mix."""
    target = Path(path)
    data = json.dumps(to_json(table), indent=1, sort_keys=True).encode()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
