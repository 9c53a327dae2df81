import pytest

from pyroku.state import (
    Database,
    Forbidden,
    FormationUpdate,
    InvalidParams,
    NotFound,
    Quantity,
    add_collaborator,
    create_app,
    create_user,
    delete_app,
    find_app,
    list_formation,
    parse_quantity,
    remove_collaborator,
    update_formation,
    visible_apps,
)


@pytest.mark.parametrize("name", ["ab", "Abc", "1abc", "abc-", "a_bc", "a" * 31, "abc.def", "ab c"])
def test_invalid_app_names_are_refused_with_the_rule(db: Database, name: str) -> None:
    with pytest.raises(InvalidParams, match="Name"), db.write() as s:
        create_app(s, create_user(s, "o@example.com", "password-1"), name)


def test_generated_names_follow_the_pattern_and_names_are_unique(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        generated = create_app(s, owner, None).name
        create_app(s, owner, "taken")
    adjective, noun, number = generated.split("-")
    assert adjective.isalpha() and noun.isalpha() and len(number) == 4 and number.isdigit()
    with pytest.raises(InvalidParams, match="already taken"), db.write() as s:
        create_app(s, create_user(s, "p@example.com", "password-1"), "taken")


def test_strangers_cannot_see_apps_and_collaborators_can(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        other = create_user(s, "x@example.com", "password-1")
        admin = create_user(s, "root@example.com", "password-1", admin=True)
        app = create_app(s, owner, "secret-app")
    with db.read() as s:
        with pytest.raises(NotFound, match="Couldn't find that app"):
            find_app(s, other, "secret-app")
        with pytest.raises(NotFound):
            find_app(s, other, app.id)
        assert visible_apps(s, other) == []
        assert find_app(s, admin, "secret-app").id == app.id
    with db.write() as s:
        add_collaborator(s, find_app(s, owner, "secret-app"), owner, other)
    with db.read() as s:
        assert [a.name for a in visible_apps(s, other)] == ["secret-app"]
        found = find_app(s, other, "secret-app")
        with pytest.raises(Forbidden, match="Only the app owner"):
            delete_app(s, found, other)


def test_owner_cannot_be_removed_and_collaborators_may_leave(db: Database) -> None:
    from pyroku.state import find_collaborator

    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        other = create_user(s, "x@example.com", "password-1")
        app = create_app(s, owner, "shared")
        add_collaborator(s, app, owner, other)
    with db.write() as s:
        with pytest.raises(InvalidParams, match="owner cannot be removed"):
            remove_collaborator(s, app, owner, find_collaborator(s, app, "o@example.com"))
        remove_collaborator(s, app, other, find_collaborator(s, app, "x@example.com"))
    with db.read() as s, pytest.raises(NotFound):
        find_app(s, other, "shared")


def test_formation_batch_update_validates_everything_or_nothing(db: Database) -> None:
    with db.write() as s:
        owner = create_user(s, "o@example.com", "password-1")
        app = create_app(s, owner, "scaled")
        update_formation(s, app, [FormationUpdate("web", Quantity(2)), FormationUpdate("worker", Quantity(1), "2x")])
    with db.read() as s:
        assert [(f.type, f.quantity, f.size) for f in list_formation(s, app)] == [
            ("web", 2, "Standard-1X"), ("worker", 1, "Standard-2X"),
        ]
    for bad, needle in [
        ([FormationUpdate("web", Quantity(3), "huge")], "No such dyno size 'huge'"),
        ([FormationUpdate("bad type", Quantity(1))], "Invalid process type"),
        ([FormationUpdate("web", Quantity(60)), FormationUpdate("worker", Quantity(50))], "at most 100 dynos"),
        ([FormationUpdate("web", Quantity(-3, relative=True))], "Cannot scale web to -1"),
    ]:
        with pytest.raises(InvalidParams, match=needle), db.write() as s:
            update_formation(s, app, bad)
    with db.read() as s:
        assert [(f.type, f.quantity) for f in list_formation(s, app)] == [("web", 2), ("worker", 1)]
    with db.write() as s:
        update_formation(s, app, [FormationUpdate("web", Quantity(1, relative=True)),
                                  FormationUpdate("worker", Quantity(-1, relative=True))])
    with db.read() as s:
        assert [(f.type, f.quantity) for f in list_formation(s, app)] == [("web", 3), ("worker", 0)]


def test_sizes_larger_than_the_machine_are_refused(db: Database) -> None:
    with db.write() as s:
        app = create_app(s, create_user(s, "o@example.com", "password-1"), "big")
    with pytest.raises(InvalidParams, match="Performance-L dynos need 14336 MB"), db.write() as s:
        update_formation(s, app, [FormationUpdate("web", Quantity(1), "performance-l")], max_memory_mb=8192)
    with db.write() as s:
        update_formation(s, app, [FormationUpdate("web", Quantity(1), "performance-m")], max_memory_mb=8192)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(3, Quantity(3)), ("3", Quantity(3)), (" 0 ", Quantity(0)), ("+1", Quantity(1, True)), ("-2", Quantity(-2, True))],
)
def test_quantities_arrive_as_numbers_or_strings(raw: object, expected: Quantity) -> None:
    assert parse_quantity(raw) == expected


@pytest.mark.parametrize("raw", [-1, "abc", 101, True, 1.5, "9999999999", "+-1"])
def test_bad_quantities_are_refused(raw: object) -> None:
    with pytest.raises(InvalidParams):
        parse_quantity(raw)
