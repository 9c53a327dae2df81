"""HTTPS for the git endpoint (and the API beside it): a platform CA and a server certificate it signs.

On first start the server makes, with the ``openssl`` command, a CA (``ca.crt``/``ca.key``, ten
years) and a server certificate for the names clients use (``server.crt``/``server.key``, SANs for
``localhost``, ``127.0.0.1``, the API host and the platform domain). The certificate is made again
when those names change; the CA stays, so clients keep trusting it. ``pyroku git:remote --https``
fetches ``ca.crt`` and tells git to trust it for the platform's HTTPS address only. Operators with a
certificate of their own pass it instead (``--tls-cert``/``--tls-key``).
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from pyroku.git._exceptions import GitEndpointError

TLS_INFO_PATH: Final = "/tls/info"
TLS_CA_PATH: Final = "/tls/ca.crt"
CA_DAYS: Final = 3650
SERVER_DAYS: Final = 825


class CertificateError(GitEndpointError):
    """The TLS certificates could not be made or read."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    ca: Path | None  # None: an operator's certificate, signed by whoever they chose


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("the openssl command is needed to make the platform's certificates")
    result = subprocess.run([openssl, *args], capture_output=True, check=False, timeout=60)
    if result.returncode != 0:
        raise CertificateError(f"openssl {args[0]} failed: {result.stderr.decode(errors='replace').strip()}")


def _alt_names(names: list[str]) -> str:
    entries = []
    for name in dict.fromkeys(names):
        try:
            entries.append(f"IP:{ipaddress.ip_address(name)}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


def ensure_certificates(directory: Path, names: list[str]) -> TlsFiles:
    """The platform CA and a server certificate for ``names`` in ``directory``, made when missing."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    cert, key = directory / "server.crt", directory / "server.key"
    wanted = sorted(set(names))
    record = directory / "server.json"
    if not (ca.is_file() and ca_key.is_file()):
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            new_ca, new_key = Path(tmp) / "ca.crt", Path(tmp) / "ca.key"
            _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-days", str(CA_DAYS), "-subj", "/CN=Pyroku platform CA",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-keyout", str(new_key), "-out", str(new_ca))
            os.chmod(new_key, 0o600)
            os.replace(new_key, ca_key)
            os.replace(new_ca, ca)
            cert.unlink(missing_ok=True)
    current = None
    try:
        current = json.loads(record.read_text()).get("names")
    except (OSError, ValueError):
        current = None
    if current != wanted or not (cert.is_file() and key.is_file()):
        with tempfile.TemporaryDirectory(dir=directory) as tmp:
            work = Path(tmp)
            (work / "ext.cnf").write_text(
                f"subjectAltName={_alt_names(wanted)}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
            )
            _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-subj", f"/CN={wanted[0] if wanted else 'localhost'}",
                     "-keyout", str(work / "server.key"), "-out", str(work / "server.csr"))
            _openssl("x509", "-req", "-in", str(work / "server.csr"), "-CA", str(ca), "-CAkey", str(ca_key),
                     "-CAcreateserial", "-CAserial", str(work / "ca.srl"), "-days", str(SERVER_DAYS),
                     "-extfile", str(work / "ext.cnf"), "-out", str(work / "server.crt"))
            os.chmod(work / "server.key", 0o600)
            os.replace(work / "server.key", key)
            os.replace(work / "server.crt", cert)
        record.write_text(json.dumps({"names": wanted}))
    return TlsFiles(cert, key, ca)


def operator_certificates(cert: Path, key: Path) -> TlsFiles:
    for path in (cert, key):
        if not path.is_file():
            raise CertificateError(f"TLS file {path} does not exist")
    return TlsFiles(cert, key, None)


def tls_info_app(files: TlsFiles | None, https_port: int) -> ASGIApp:
    """``GET /tls/info`` (the HTTPS port, if any) and ``GET /tls/ca.crt`` (the platform CA, public)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path == TLS_INFO_PATH:
            body = json.dumps({"https_port": https_port if files is not None else None,
                               "ca_url": TLS_CA_PATH if files is not None and files.ca is not None else None})
            await _answer(send, 200, body.encode(), b"application/json")
        elif path == TLS_CA_PATH and files is not None and files.ca is not None:
            await _answer(send, 200, files.ca.read_bytes(), b"application/x-pem-file")
        else:
            await _answer(send, 404, b"Not found.\n", b"text/plain")

    return app


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def is_tls_path(path: str) -> bool:
    return path in (TLS_INFO_PATH, TLS_CA_PATH)
