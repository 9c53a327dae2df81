"""Who is calling: Bearer tokens, or HTTP Basic with the token as password (git, netrc)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from pyroku.api._context import context
from pyroku.api._errors import ApiError
from pyroku.state import Unauthorized, User, authenticate


@dataclass(frozen=True)
class Caller:
    user_id: str
    email: str
    is_admin: bool
    authorization_id: str

    def user(self, session: Session) -> User:
        user = session.get(User, self.user_id)
        if user is None:
            raise ApiError(401, "unauthorized", "Invalid credentials provided.")
        return user


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    creds = basic_credentials(request)
    return creds[1] if creds and creds[1] else None


def rate_limit(request: Request, key: str) -> None:
    allowed, remaining = context(request).limiter.take(key)
    request.state.rate_remaining = remaining
    if not allowed:
        raise ApiError(429, "rate_limit",
                       "Your account reached the API rate limit. Please wait a few minutes before "
                       "making new requests.")


def client_key(request: Request) -> str:
    return "ip:" + (request.client.host if request.client else "unknown")


def require_caller(request: Request) -> Caller:
    token = bearer_token(request)
    if not token:
        rate_limit(request, client_key(request))
        raise ApiError(401, "unauthorized", "Invalid credentials provided.")
    with context(request).db.read() as session:
        try:
            auth = authenticate(session, token)
        except Unauthorized:
            rate_limit(request, client_key(request))
            raise
        caller = Caller(auth.user.id, auth.user.email, auth.user.is_admin, auth.id)
    request.state.rate_key = "user:" + caller.user_id
    if request.url.path != "/account/rate-limits":  # free, as on Heroku
        rate_limit(request, request.state.rate_key)
    return caller


CallerDep = Annotated[Caller, Depends(require_caller)]
