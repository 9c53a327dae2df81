"""Users and API tokens. Passwords are hashed with argon2; tokens are stored as SHA-256."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pyroku.state._exceptions import InvalidParams, NotFound, Unauthorized
from pyroku.state._models import Authorization, User, utcnow

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}$")
MIN_PASSWORD = 8

_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def create_user(session: Session, email: str, password: str, *, admin: bool = False) -> User:
    email = email.strip().lower()
    if not EMAIL_RE.match(email):
        raise InvalidParams(f"Email {email!r} is not a valid email address.")
    if len(password) < MIN_PASSWORD:
        raise InvalidParams(f"Password must be at least {MIN_PASSWORD} characters.")
    if session.scalar(select(User).where(User.email == email)) is not None:
        raise InvalidParams(f"A user with email {email} already exists.")
    user = User(email=email, password_hash=_hasher.hash(password), is_admin=admin)
    session.add(user)
    session.flush()
    return user


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


def find_user(session: Session, id_or_email: str) -> User:
    key = id_or_email.strip().lower()
    user = session.scalar(select(User).where((User.email == key) | (User.id == key)))
    if user is None:
        raise NotFound(f"Couldn't find that user ({id_or_email}).")
    return user


def check_password(session: Session, email: str, password: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        if user is None or not _hasher.verify(user.password_hash, password):
            raise Unauthorized("Invalid credentials provided.")
    except (VerificationError, InvalidHashError) as exc:
        raise Unauthorized("Invalid credentials provided.") from exc
    user.last_login = utcnow()
    return user


def issue_token(session: Session, user: User, description: str = "") -> tuple[Authorization, str]:
    """Create an authorization; the clear token is returned once and never stored."""
    token = secrets.token_urlsafe(32)
    auth = Authorization(user_id=user.id, token_hash=hash_token(token), description=description[:1000])
    session.add(auth)
    session.flush()
    auth.user = user
    return auth, token


def authenticate(session: Session, token: str) -> Authorization:
    auth = session.scalar(select(Authorization).where(Authorization.token_hash == hash_token(token)))
    if auth is None:
        raise Unauthorized("Invalid credentials provided.")
    return auth


def list_authorizations(session: Session, user: User) -> list[Authorization]:
    return list(session.scalars(
        select(Authorization).where(Authorization.user_id == user.id).order_by(Authorization.created_at)
    ))


def find_authorization(session: Session, user: User, auth_id: str) -> Authorization:
    auth = session.scalar(
        select(Authorization).where(Authorization.id == auth_id, Authorization.user_id == user.id)
    )
    if auth is None:
        raise NotFound("Couldn't find that authorization.")
    return auth


def revoke(session: Session, auth: Authorization) -> None:
    session.delete(auth)
