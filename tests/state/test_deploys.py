import pytest

from pyroku.state import (
    Database,
    InvalidParams,
    NotFound,
    Scaled,
    create_app,
    create_slug,
    create_user,
    list_formation,
    mark_uploaded,
    release_slug,
    rollback,
    set_config,
    slug_for_upload,
    update_formation,
)
from pyroku.state._formation import FormationUpdate, Quantity

SUM_A = "SHA256:" + "a" * 64
SUM_B = "SHA256:" + "b" * 64


def test_slug_upload_secret_is_single_use_and_checked(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        app = create_app(s, owner, "slugged")
        slug, token = create_slug(s, app, {"web": "python app.py"}, checksum=SUM_A)
    with db.write() as s:
        with pytest.raises(NotFound):
            slug_for_upload(s, slug.id, "guess")
        found = slug_for_upload(s, slug.id, token)
        with pytest.raises(InvalidParams, match="does not match"):
            mark_uploaded(s, found, SUM_B, 10)
    with db.write() as s:
        mark_uploaded(s, slug_for_upload(s, slug.id, token), SUM_A, 10)
    with db.write() as s, pytest.raises(NotFound):
        slug_for_upload(s, slug.id, token)


@pytest.mark.parametrize(
    "types", [{"bad type": "x"}, {"web": ""}, {"web": 3}, ["web"]],
)
def test_bad_process_types_are_refused(db: Database, types: object) -> None:
    with pytest.raises(InvalidParams), db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        create_slug(s, create_app(s, owner, "typed"), types)  # type: ignore[arg-type]


def _uploaded(db: Database, app_name: str, types: dict[str, str], commit: str) -> str:
    with db.write() as s:
        from sqlalchemy import select

        from pyroku.state import App

        app = s.scalars(select(App).where(App.name == app_name)).one()
        slug, token = create_slug(s, app, types, commit=commit)
        mark_uploaded(s, slug_for_upload(s, slug.id, token), SUM_A, 10)
        return slug.id


def test_deploys_release_slugs_sync_formation_and_roll_back(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        app = create_app(s, owner, "deployed")
        update_formation(s, app, [FormationUpdate("worker", Quantity(2))])  # scaled before any deploy
        set_config(s, app, owner, {"A": "1"})
    first = _uploaded(db, "deployed", {"web": "gunicorn app", "worker": "celery"}, "1a2b3c4d5e6f")
    with db.write() as s:
        release, scaled = release_slug(s, app, owner, first)
        assert (release.version, release.description, release.config) == (3, "Deploy 1a2b3c4d", {"A": "1"})
        assert scaled == [Scaled("web", 1, "Standard-1X")]
        assert {f.type: (f.quantity, f.command) for f in list_formation(s, app)} == {
            "web": (1, "gunicorn app"), "worker": (2, "celery"),
        }
    second = _uploaded(db, "deployed", {"web": "gunicorn app:v2"}, "ffff0000")
    with db.write() as s:
        _, scaled = release_slug(s, app, owner, second)
        assert scaled == []  # web already existed: its quantity is kept
        assert {f.type: f.quantity for f in list_formation(s, app)} == {"web": 1}
        back, _ = rollback(s, app, owner, "v3")
        assert (back.version, back.slug_id, back.description) == (5, first, "Rollback to v3")
        assert {f.type: f.command for f in list_formation(s, app)} == {"web": "gunicorn app", "worker": "celery"}
        config_only, _ = rollback(s, app, owner, "v2")  # no slug: the formation is left alone
        assert config_only.slug_id is None and len(list_formation(s, app)) == 2


def test_releasing_a_slug_without_its_blob_is_refused(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        app = create_app(s, owner, "blobless")
        slug, _ = create_slug(s, app, {"web": "x"})
    with pytest.raises(InvalidParams, match="no uploaded blob"), db.write() as s:
        release_slug(s, app, owner, slug.id)
