import threading

import pytest

from pyroku.state import (
    Database,
    InvalidParams,
    NotFound,
    create_app,
    create_user,
    current_config,
    find_app,
    find_release,
    list_releases,
    rollback,
    set_config,
)


def _setup(db: Database, name: str = "myapp") -> tuple[str, str]:
    with db.write() as s:
        user = create_user(s, "owner@example.com", "password-1")
        app = create_app(s, user, name)
        return user.id, app.id


def _history(db: Database, app_id: str) -> list[tuple[int, str, dict[str, str]]]:
    with db.read() as s:
        from pyroku.state import App

        app = s.get(App, app_id)
        assert app is not None
        return [(r.version, r.description, r.config) for r in list_releases(s, app)]


def _user(s, user_id):  # type: ignore[no-untyped-def]
    from pyroku.state import User

    return s.get(User, user_id)


def test_config_changes_append_releases_and_rollback_copies(db: Database) -> None:
    user_id, app_id = _setup(db)
    with db.write() as s:
        user = _user(s, user_id)
        app = find_app(s, user, "myapp", lock=True)
        set_config(s, app, user, {"A": "1", "B": "two words"})
        set_config(s, app, user, {"A": None})
        rollback(s, app, user, "v2")
    assert _history(db, app_id) == [
        (1, "Initial release", {}),
        (2, "Set A, B config vars", {"A": "1", "B": "two words"}),
        (3, "Unset A config vars", {"B": "two words"}),
        (4, "Rollback to v2", {"A": "1", "B": "two words"}),
    ]
    with db.read() as s:
        user = _user(s, user_id)
        app = find_app(s, user, "myapp")
        assert current_config(s, app) == {"A": "1", "B": "two words"}
        # releases are addressable by id or by version, with or without the "v"
        rel = find_release(s, app, "3")
        assert find_release(s, app, rel.id).version == 3
        with pytest.raises(NotFound):
            find_release(s, app, "v99")


def test_empty_change_and_unsetting_missing_keys_make_no_release(db: Database) -> None:
    user_id, app_id = _setup(db)
    with db.write() as s:
        user = _user(s, user_id)
        app = find_app(s, user, "myapp", lock=True)
        assert set_config(s, app, user, {}) == ({}, None)
        assert set_config(s, app, user, {"NOPE": None}) == ({}, None)
    assert [v for v, _, _ in _history(db, app_id)] == [1]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"A-B": "1"}, "Invalid config var key 'A-B'"),
        ({"1A": "1"}, "Invalid config var key '1A'"),
        ({"A": 5}, "must be a string"),
        ({"A": "x\x00y"}, "NUL"),
        ({"BIG": "x" * 40_000}, "limit is 32768 bytes"),
    ],
)
def test_bad_config_is_refused_and_nothing_is_released(db: Database, changes: dict[str, object], needle: str) -> None:
    user_id, app_id = _setup(db)
    with pytest.raises(InvalidParams, match=needle), db.write() as s:
        user = _user(s, user_id)
        set_config(s, find_app(s, user, "myapp", lock=True), user, changes)
    assert [v for v, _, _ in _history(db, app_id)] == [1]


def test_config_size_counts_keys_and_values_up_to_exactly_32k(db: Database) -> None:
    user_id, _ = _setup(db)
    with db.write() as s:
        user = _user(s, user_id)
        app = find_app(s, user, "myapp", lock=True)
        config, release = set_config(s, app, user, {"K": "v" * (32 * 1024 - 1)})
        assert release is not None and len(config["K"]) == 32767


def test_parallel_config_changes_lose_nothing(db: Database) -> None:
    user_id, app_id = _setup(db)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            barrier.wait()
            with db.write() as s:
                user = _user(s, user_id)
                set_config(s, find_app(s, user, "myapp", lock=True), user, {f"K{i}": str(i)})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = _history(db, app_id)
    assert [v for v, _, _ in history] == list(range(1, 10))
    assert history[-1][2] == {f"K{i}": str(i) for i in range(8)}
