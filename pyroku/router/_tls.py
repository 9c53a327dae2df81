"""TLS for the HTTPS listener: per-hostname certificates chosen by SNI, and a default certificate.

The default certificate is the table's ``default_cert`` when set, else a self-signed one the router
generates on first start into its certificate directory (with the ``cryptography`` package when it
is installed, else the ``openssl`` command).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pyroku.router._exceptions import CertificateError
from pyroku.router.table import CertFiles, RoutingTable

logger = logging.getLogger("pyroku.router")

DEFAULT_CERT: Final = "default.crt"
DEFAULT_KEY: Final = "default.key"
_SUBJECT: Final = "pyroku-router"


def ensure_default_cert(directory: Path) -> CertFiles:
    """The self-signed certificate in ``directory``, generated when missing."""
    cert, key = directory / DEFAULT_CERT, directory / DEFAULT_KEY
    if cert.is_file() and key.is_file():
        return CertFiles(str(cert), str(key))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".gen-") as tmp:
            tmp_cert, tmp_key = Path(tmp) / DEFAULT_CERT, Path(tmp) / DEFAULT_KEY
            if not _generate_with_cryptography(tmp_cert, tmp_key):
                _generate_with_openssl(tmp_cert, tmp_key)
            os.chmod(tmp_key, 0o600)
            os.replace(tmp_key, key)
            os.replace(tmp_cert, cert)
    except OSError as exc:
        raise CertificateError(f"cannot create the default certificate in {directory}: {exc}") from exc
    return CertFiles(str(cert), str(key))


def _generate_with_cryptography(cert_path: Path, key_path: Path) -> bool:
    try:
        x509: Any = importlib.import_module("cryptography.x509")
        hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
        ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
        serialization: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
        oid: Any = importlib.import_module("cryptography.x509.oid")
    except ImportError:
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, _SUBJECT)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.DNSName("*.localhost")]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return True


def _generate_with_openssl(cert_path: Path, key_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("neither the cryptography package nor the openssl command is available")
    argv = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "3650", "-subj", f"/CN={_SUBJECT}", "-addext", "subjectAltName=DNS:localhost,DNS:*.localhost",
        "-keyout", str(key_path), "-out", str(cert_path),
    ]
    result = subprocess.run(argv, capture_output=True, check=False, timeout=60)
    if result.returncode != 0:
        raise CertificateError(f"openssl could not create a certificate: {result.stderr.decode(errors='replace')}")


def _context(cert: CertFiles) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(cert.cert_file, cert.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot load {cert.cert_file} / {cert.key_file}: {exc}") from exc
    return ctx


def _stamp(cert: CertFiles) -> tuple[int, int]:
    try:
        return os.stat(cert.cert_file).st_mtime_ns, os.stat(cert.key_file).st_mtime_ns
    except OSError:
        return (0, 0)


class CertStore:
    """The TLS contexts of one router process, rebuilt when the table changes."""

    def __init__(self, fallback: CertFiles) -> None:
        self._fallback = fallback
        self._cache: dict[tuple[str, str], tuple[tuple[int, int], ssl.SSLContext]] = {}
        self._exact: dict[str, ssl.SSLContext] = {}
        self._wildcard: dict[str, ssl.SSLContext] = {}
        self._default = self._load(fallback)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # the listener's; delegates to the others
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])
        self.context.load_cert_chain(fallback.cert_file, fallback.key_file)
        self.context.sni_callback = self._sni

    def _load(self, cert: CertFiles) -> ssl.SSLContext:
        key = (cert.cert_file, cert.key_file)
        stamp = _stamp(cert)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        ctx = _context(cert)
        self._cache[key] = (stamp, ctx)
        return ctx

    def update(self, table: RoutingTable) -> None:
        exact: dict[str, ssl.SSLContext] = {}
        wildcard: dict[str, ssl.SSLContext] = {}
        used: set[tuple[str, str]] = {(self._fallback.cert_file, self._fallback.key_file)}
        default = self._default
        if table.default_cert is not None:
            try:
                default = self._load(table.default_cert)
                used.add((table.default_cert.cert_file, table.default_cert.key_file))
            except CertificateError as exc:
                logger.warning("default certificate: %s", exc)
        else:
            with contextlib.suppress(CertificateError):
                default = self._load(self._fallback)
        for app_id, app in table.apps.items():
            for cert in app.certs:
                try:
                    ctx = self._load(cert)
                except CertificateError as exc:
                    logger.warning("app %s: %s", app_id, exc)
                    continue
                used.add((cert.cert_file, cert.key_file))
                for name in cert.hostnames or app.hostnames:
                    if name.startswith("*."):
                        wildcard.setdefault(name[2:], ctx)
                    else:
                        exact.setdefault(name, ctx)
        self._cache = {k: v for k, v in self._cache.items() if k in used}
        self._exact, self._wildcard, self._default = exact, wildcard, default

    def lookup(self, server_name: str | None) -> ssl.SSLContext:
        if server_name:
            name = server_name.lower().rstrip(".")
            ctx = self._exact.get(name)
            if ctx is not None:
                return ctx
            dot = name.find(".")
            if dot > 0:
                ctx = self._wildcard.get(name[dot + 1 :])
                if ctx is not None:
                    return ctx
        return self._default

    def _sni(self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, ctx: ssl.SSLContext) -> None:
        chosen = self.lookup(server_name)
        if chosen is not ctx:
            sslobj.context = chosen
