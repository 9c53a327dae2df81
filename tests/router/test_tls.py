"""The HTTPS listener: SNI picks per-hostname certificates from the table, else the default one."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from pathlib import Path

from pyroku.router import CertFiles, ensure_default_cert
from tests.router._support import (
    RawClient,
    ThreadedBackend,
    app,
    backend,
    echo,
    fields,
    router,
    router_process,
    run,
    table,
)


def _make_cert(directory: Path, name: str) -> CertFiles:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return CertFiles(str(cert), str(key), (name,))


def _presented(port: int, server_name: str | None) -> bytes:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


def _der(cert: CertFiles) -> bytes:
    return ssl.PEM_cert_to_DER_cert(Path(cert.cert_file).read_text())


def test_sni_selects_the_certificate_per_hostname(tmp_path: Path) -> None:
    a = _make_cert(tmp_path, "a.example.test")
    b = _make_cert(tmp_path, "b.example.test")
    with ThreadedBackend(echo) as dyno:
        routing = table(app("one", dyno.port, hostnames=("a.example.test",), certs=(a,)),
                        app("two", dyno.port, hostnames=("b.example.test",), certs=(b,)))
        with router_process(tmp_path, routing, "--cert-dir", str(tmp_path / "certs"), https=True) as router:
            assert router.https_port is not None
            assert _presented(router.https_port, "a.example.test") == _der(a)
            assert _presented(router.https_port, "B.Example.Test") == _der(b)
            default = CertFiles(str(tmp_path / "certs" / "default.crt"), str(tmp_path / "certs" / "default.key"))
            assert _presented(router.https_port, "unknown.example.test") == _der(default)
            assert _presented(router.https_port, None) == _der(default)

            ctx = ssl.create_default_context(cafile=a.cert_file)
            with socket.create_connection(("127.0.0.1", router.https_port), timeout=10) as raw, \
                    ctx.wrap_socket(raw, server_hostname="a.example.test") as tls:
                tls.sendall(b"GET /secure HTTP/1.1\r\nHost: a.example.test\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := tls.recv(65536):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK")
            headers = {k.lower(): v for k, v in json.loads(body)["headers"]}
            assert headers["x-forwarded-proto"] == "https"
            assert headers["x-forwarded-port"] == str(router.https_port)


def test_https_requests_are_logged_as_https(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with backend() as dyno, router(tmp_path, table(app("myapp", dyno.port)), https=True,
                                             cert_dir=tmp_path / "certs") as r:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            client = await RawClient.connect(r.router.https_port, ssl=ctx, server_hostname="myapp.localhost")
            for _ in range(3):
                assert (await client.request()).status == 200
            await client.close()
            line = await r.line()
            assert fields(line)["protocol"] == "https"
            assert line.endswith("protocol=https")

    run(scenario)


def test_default_certificate_is_generated_once(tmp_path: Path) -> None:
    first = ensure_default_cert(tmp_path / "certs")
    stamp = Path(first.cert_file).stat().st_mtime_ns
    again = ensure_default_cert(tmp_path / "certs")
    assert again == first
    assert Path(again.cert_file).stat().st_mtime_ns == stamp
    assert oct(Path(first.key_file).stat().st_mode & 0o777) == "0o600"
    assert ssl.PEM_cert_to_DER_cert(Path(first.cert_file).read_text())
