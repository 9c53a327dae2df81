"""First start: create the operator account."""

from __future__ import annotations

from dataclasses import dataclass

from pyroku.state import Database, create_user, generate_password, has_users

DEFAULT_ADMIN_EMAIL = "admin@localhost"


@dataclass(frozen=True)
class Operator:
    email: str
    generated_password: str | None  # shown once, when we made it up


def ensure_operator(db: Database, email: str | None, password: str | None) -> Operator | None:
    """Create the operator on an empty database; None when users already exist."""
    with db.write() as session:
        if has_users(session):
            return None
        generated = None if password else generate_password()
        user = create_user(session, email or DEFAULT_ADMIN_EMAIL, password or generated or "", admin=True)
        return Operator(user.email, generated)
