"""TLS certificates for an app's custom domains (Heroku's SNI endpoints): the router picks one by SNI."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound
from pyroku.state._models import App, SniEndpoint

_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
MAX_CERTS_PER_APP = 100


def list_certs(session: Session, app: App | None = None) -> list[SniEndpoint]:
    """One app's certificates, or every app's (for the routing table)."""
    query = select(SniEndpoint).order_by(SniEndpoint.created_at)
    if app is not None:
        query = query.where(SniEndpoint.app_id == app.id)
    return list(session.scalars(query))


def add_cert(
    session: Session, app: App, chain: str, key: str, domains: list[str], *, subject: str = "",
    expires_at: datetime | None = None,
) -> SniEndpoint:
    """`domains`, `subject` and `expires_at` were read from the certificate (and the key checked)."""
    if not _PEM_CERT.search(chain):
        raise InvalidParams("The certificate chain must be PEM (-----BEGIN CERTIFICATE-----).")
    if len(list_certs(session, app)) >= MAX_CERTS_PER_APP:
        raise InvalidParams(f"An app may have at most {MAX_CERTS_PER_APP} certificates.")
    cert = SniEndpoint(app_id=app.id, name=f"cert-{secrets.token_hex(4)}", certificate_chain=chain,
                       private_key=key, domains=sorted(set(domains)), subject=subject, expires_at=expires_at)
    session.add(cert)
    session.flush()
    return cert


def find_cert(session: Session, app: App, id_or_name: str) -> SniEndpoint:
    query = select(SniEndpoint).where(SniEndpoint.app_id == app.id)
    cert = session.scalar(query.where((SniEndpoint.id == id_or_name) | (SniEndpoint.name == id_or_name)))
    if cert is None:
        raise NotFound(f"Couldn't find that certificate ({id_or_name}).")
    return cert


def remove_cert(session: Session, cert: SniEndpoint) -> None:
    session.delete(cert)
    session.flush()
