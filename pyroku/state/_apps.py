"""Apps and who may see them. Visibility is one rule: the operator, or a collaborator row
(the owner has one). Anyone else is told the app does not exist."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pyroku.state._exceptions import Forbidden, InvalidParams, NotFound
from pyroku.state._models import App, Build, Collaborator, Slug, User
from pyroku.state._releases import create_release

APP_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
APP_NOT_FOUND = "Couldn't find that app."

_ADJECTIVES = [
    "ancient",
    "autumn",
    "billowing",
    "bitter",
    "blue",
    "bold",
    "brave",
    "calm",
    "cold",
    "cool",
    "crimson",
    "damp",
    "dark",
    "dawn",
    "desolate",
    "divine",
    "dry",
    "empty",
    "falling",
    "fancy",
    "floral",
    "fragrant",
    "frosty",
    "gentle",
    "green",
    "hidden",
    "holy",
    "icy",
    "jolly",
    "late",
    "lingering",
    "little",
    "lively",
    "long",
    "lucky",
    "misty",
    "morning",
    "muddy",
    "nameless",
    "noisy",
    "odd",
    "old",
    "orange",
    "patient",
    "plain",
    "polished",
    "proud",
    "purple",
    "quiet",
    "rapid",
    "red",
    "restless",
    "rough",
    "round",
    "royal",
    "shiny",
    "shrill",
    "shy",
    "silent",
    "small",
    "snowy",
    "solitary",
    "sparkling",
    "spring",
    "still",
    "summer",
    "sunny",
    "sweet",
    "swift",
    "thawing",
    "throbbing",
    "tiny",
    "twilight",
    "wandering",
    "weathered",
    "white",
    "wild",
    "winter",
    "wispy",
    "withered",
    "young",
]
_NOUNS = [
    "bird",
    "breeze",
    "brook",
    "bush",
    "butterfly",
    "cake",
    "cell",
    "cherry",
    "cloud",
    "darkness",
    "dawn",
    "dew",
    "dream",
    "dust",
    "feather",
    "field",
    "fire",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frog",
    "frost",
    "glade",
    "glitter",
    "grass",
    "haze",
    "hill",
    "lake",
    "leaf",
    "meadow",
    "moon",
    "morning",
    "mountain",
    "night",
    "paper",
    "pine",
    "pond",
    "rain",
    "resonance",
    "river",
    "sea",
    "shadow",
    "shape",
    "silence",
    "sky",
    "smoke",
    "snow",
    "snowflake",
    "sound",
    "star",
    "sun",
    "sunset",
    "surf",
    "thunder",
    "tree",
    "violet",
    "voice",
    "water",
    "waterfall",
    "wave",
    "wildflower",
    "wind",
    "wood",
]


def validate_name(name: str) -> str:
    if len(name) > 30:
        raise InvalidParams("Name is too long (maximum is 30 characters).")
    if not APP_NAME_RE.match(name):
        raise InvalidParams(
            "Name must start with a letter, end with a letter or digit, be 3 to 30 characters long "
            "and can only contain lowercase letters, digits, and dashes."
        )
    return name


def generate_name(session: Session) -> str:
    for _ in range(100):
        name = f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{secrets.randbelow(10000):04d}"
        if session.scalar(select(App.id).where(App.name == name)) is None:
            return name
    raise InvalidParams("Could not generate a free app name; please give one.")


def create_app(session: Session, owner: User, name: str | None) -> App:
    if name is None:
        name = generate_name(session)
    validate_name(name)
    if session.scalar(select(App.id).where(App.name == name)) is not None:
        raise InvalidParams("Name is already taken.")
    app = App(name=name, owner_id=owner.id)
    session.add(app)
    try:
        session.flush()
    except IntegrityError as exc:  # lost a race for the same name
        raise InvalidParams("Name is already taken.") from exc
    app.owner = owner
    session.add(Collaborator(app_id=app.id, user_id=owner.id, role="owner"))
    create_release(session, app, owner, "Initial release", config={})
    return app


def visible_apps(session: Session, user: User) -> list[App]:
    query = select(App).order_by(App.name)
    if not user.is_admin:
        query = query.join(Collaborator, Collaborator.app_id == App.id).where(Collaborator.user_id == user.id)
    return list(session.scalars(query))


def find_app(session: Session, user: User, id_or_name: str, *, lock: bool = False) -> App:
    """The app by id or name if `user` may see it; NotFound otherwise (never Forbidden:
    a stranger learns nothing about whether the app exists). `lock` takes the app's row
    lock so concurrent writers to one app serialise."""
    query = select(App).where((App.name == id_or_name) | (App.id == id_or_name))
    if lock:
        query = query.with_for_update(of=App)
    app = session.scalar(query)
    if app is None or not (user.is_admin or _role(session, app, user) is not None):
        raise NotFound(APP_NOT_FOUND)
    return app


def _role(session: Session, app: App, user: User) -> str | None:
    return session.scalar(
        select(Collaborator.role).where(Collaborator.app_id == app.id, Collaborator.user_id == user.id)
    )


def require_owner(session: Session, app: App, user: User, action: str) -> None:
    if not user.is_admin and app.owner_id != user.id:
        raise Forbidden(f"Only the app owner can {action}.")


def update_app(session: Session, app: App, user: User, *, name: str | None, maintenance: bool | None) -> App:
    if name is not None and name != app.name:
        require_owner(session, app, user, "rename the app")
        validate_name(name)
        if session.scalar(select(App.id).where(App.name == name)) is not None:
            raise InvalidParams("Name is already taken.")
        app.name = name
    if maintenance is not None:
        app.maintenance = maintenance
    session.flush()
    return app


@dataclass(frozen=True)
class DestroyedApp:
    """What a destroyed app leaves outside the database, for the components that store it."""

    app_id: str
    slug_ids: tuple[str, ...]
    build_ids: tuple[str, ...]


def delete_app(session: Session, app: App, user: User) -> DestroyedApp:
    require_owner(session, app, user, "destroy the app")
    destroyed = DestroyedApp(
        app.id,
        tuple(session.scalars(select(Slug.id).where(Slug.app_id == app.id))),
        tuple(session.scalars(select(Build.id).where(Build.app_id == app.id))),
    )
    session.delete(app)
    session.flush()
    return destroyed


def list_collaborators(session: Session, app: App) -> list[Collaborator]:
    return list(
        session.scalars(select(Collaborator).where(Collaborator.app_id == app.id).order_by(Collaborator.created_at))
    )


def add_collaborator(session: Session, app: App, actor: User, new: User) -> Collaborator:
    require_owner(session, app, actor, "add collaborators")
    if _role(session, app, new) is not None:
        raise InvalidParams(f"{new.email} is already a collaborator on {app.name}.")
    collab = Collaborator(app_id=app.id, user_id=new.id, role="collaborator")
    session.add(collab)
    session.flush()
    collab.user = new
    return collab


def find_collaborator(session: Session, app: App, id_or_email: str) -> Collaborator:
    key = id_or_email.strip().lower()
    collab = session.scalar(
        select(Collaborator)
        .join(User, User.id == Collaborator.user_id)
        .where(Collaborator.app_id == app.id)
        .where((User.email == key) | (Collaborator.id == key) | (User.id == key))
    )
    if collab is None:
        raise NotFound(f"Couldn't find that collaborator ({id_or_email}).")
    return collab


def remove_collaborator(session: Session, app: App, actor: User, collab: Collaborator) -> None:
    if collab.role == "owner":
        raise InvalidParams("The app owner cannot be removed; transfer or destroy the app instead.")
    if collab.user_id != actor.id:  # anyone may leave; only the owner removes others
        require_owner(session, app, actor, "remove collaborators")
    session.delete(collab)
    session.flush()
