"""SNI endpoints: TLS certificates for custom domains, served by the router's HTTPS listener."""

from __future__ import annotations

import os
import ssl
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pyroku.api import _render as render
from pyroku.api._auth import CallerDep
from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.state import add_cert, find_app, find_cert, list_certs, remove_cert

router = APIRouter()


class CertCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    certificate_chain: str = Field(min_length=1, max_length=100_000)
    private_key: str = Field(min_length=1, max_length=100_000)


@dataclass(frozen=True)
class CertInfo:
    domains: list[str]
    expires_at: datetime | None
    subject: str


def inspect_certificate(chain: str, key: str) -> CertInfo:
    """Read the names and expiry from the certificate and check that the key belongs to it."""
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_file.write_text(chain)
        key_file.touch(mode=0o600)
        key_file.write_text(key)
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_file, key_file)
        except ssl.SSLError as exc:
            raise ApiError(422, "invalid_params", "The private key does not match the certificate, or one of "
                                                  f"them is not valid PEM ({exc.reason}).") from exc
        shown = subprocess.run(
            ["openssl", "x509", "-noout", "-subject", "-enddate", "-ext", "subjectAltName", "-in", str(cert_file)],
            capture_output=True, text=True, timeout=10, check=False, env={**os.environ, "LC_ALL": "C"},
        )
    if shown.returncode != 0:
        raise ApiError(422, "invalid_params", "The certificate could not be read.")
    subject, expires, domains = "", None, []
    for raw in shown.stdout.splitlines():
        line = raw.strip()
        if line.startswith("subject="):
            subject = line.removeprefix("subject=").strip()
        elif line.startswith("notAfter="):
            expires = datetime.strptime(line.removeprefix("notAfter="), "%b %d %H:%M:%S %Y %Z")
        else:
            domains += [part.strip().removeprefix("DNS:").lower() for part in line.split(",")
                        if part.strip().startswith("DNS:")]
    if not domains and "CN" in subject:
        domains = [subject.rsplit("CN", 1)[1].lstrip(" =").split(",")[0].strip().lower()]
    if not domains:
        raise ApiError(422, "invalid_params", "The certificate names no domain (no subjectAltName or CN).")
    return CertInfo(domains, expires, subject)


@router.get("/apps/{app}/sni-endpoints")
def get_certs(request: Request, caller: CallerDep, app: str) -> list[dict[str, Any]]:
    with context(request).db.read() as session:
        found = find_app(session, caller.user(session), app)
        return [render.sni_endpoint(found, c) for c in list_certs(session, found)]


@router.post("/apps/{app}/sni-endpoints", status_code=201)
def post_cert(request: Request, caller: CallerDep, app: str, body: CertCreate) -> JSONResponse:
    ctx = context(request)
    with ctx.db.read() as session:
        find_app(session, caller.user(session), app)  # strangers learn nothing, not even about the PEM
    info = inspect_certificate(body.certificate_chain, body.private_key)
    with ctx.db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        cert = add_cert(session, found, body.certificate_chain, body.private_key, info.domains,
                        subject=info.subject, expires_at=info.expires_at)
        shown = render.sni_endpoint(found, cert)
    ctx.on_change(found.id)
    return JSONResponse(shown, status_code=201)


@router.delete("/apps/{app}/sni-endpoints/{cert}")
def delete_cert(request: Request, caller: CallerDep, app: str, cert: str) -> dict[str, Any]:
    ctx = context(request)
    with ctx.db.write() as session:
        found = find_app(session, caller.user(session), app, lock=True)
        row = find_cert(session, found, cert)
        shown = render.sni_endpoint(found, row)
        remove_cert(session, row)
    ctx.on_change(found.id)
    return shown
