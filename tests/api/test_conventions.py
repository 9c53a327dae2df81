"""HTTP conventions of the Platform API, against a real server process."""

import secrets

import httpx
import pytest

from tests.conftest import ACCEPT, ServerProcess, start_server


def _app(server: ServerProcess, token: str) -> str:
    name = "conv-" + secrets.token_hex(4)
    with server.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    return name


def test_missing_or_wrong_version_is_406(server: ServerProcess) -> None:
    for accept in (None, "application/json", "application/vnd.heroku+json; version=2"):
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        if accept:
            headers["Accept"] = accept
        r = httpx.get(server.api_url + "/account", headers=headers)
        assert r.status_code == 406, accept
        assert r.json()["id"] == "not_acceptable"
    for accept in (ACCEPT, "application/vnd.heroku+json; version=3.sdk", "application/vnd.heroku+json;version=3"):
        r = httpx.get(server.api_url + "/account",
                      headers={"Accept": accept, "Authorization": f"Bearer {server.admin_token}"})
        assert r.status_code == 200, accept


def test_every_response_has_request_id_and_rate_limit_remaining(server: ServerProcess) -> None:
    with server.client(server.admin_token) as c:
        first, second = c.get("/account"), c.get("/apps/does-not-exist")
    assert second.status_code == 404 and second.json() == {"id": "not_found", "message": "Couldn't find that app."}
    for r in (first, second):
        assert len(r.headers["Request-Id"]) == 36
    assert int(second.headers["RateLimit-Remaining"]) < int(first.headers["RateLimit-Remaining"])
    assert first.headers["Request-Id"] != second.headers["Request-Id"]


def test_etag_and_if_none_match(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        r = c.get(f"/apps/{name}/config-vars")
        etag = r.headers["ETag"]
        again = c.get(f"/apps/{name}/config-vars", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        c.patch(f"/apps/{name}/config-vars", json={"X": "1"})
        changed = c.get(f"/apps/{name}/config-vars", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.json() == {"X": "1"}
        assert changed.headers["ETag"] != etag


def test_release_listing_pages_with_range_and_next_range(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        for i in range(4):
            c.patch(f"/apps/{name}/config-vars", json={f"K{i}": "v"})
        newest = c.get(f"/apps/{name}/releases", headers={"Range": "version ..; order=desc,max=1"})
        assert newest.status_code == 206
        assert [r["version"] for r in newest.json()] == [5]
        assert newest.json()[0]["current"] is True
        page = c.get(f"/apps/{name}/releases", headers={"Range": "version ..; order=desc, max=2"})
        assert [r["version"] for r in page.json()] == [5, 4]
        nxt = c.get(f"/apps/{name}/releases", headers={"Range": page.headers["Next-Range"]})
        assert [r["version"] for r in nxt.json()] == [3, 2]
        last = c.get(f"/apps/{name}/releases", headers={"Range": nxt.headers["Next-Range"]})
        assert last.status_code == 200 and [r["version"] for r in last.json()] == [1]
        assert "Next-Range" not in last.headers
        everything = c.get(f"/apps/{name}/releases")
        assert everything.status_code == 200 and [r["version"] for r in everything.json()] == [1, 2, 3, 4, 5]
        bad = c.get(f"/apps/{name}/releases", headers={"Range": "colour ..; max=2"})
        assert bad.status_code == 416 and bad.json()["id"] == "requested_range_not_satisfiable"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error_id"),
    [
        ("POST", "/apps", {"name": "Bad_Name"}, 422, "invalid_params"),
        ("POST", "/apps", {"name": 12}, 422, "invalid_params"),
        ("PATCH", "/apps/{app}/config-vars", {"bad-key": "1"}, 422, "invalid_params"),
        ("PATCH", "/apps/{app}/config-vars", ["not", "a", "map"], 422, "invalid_params"),
        ("PATCH", "/apps/{app}/formation", {"updates": [{"type": "web", "quantity": "lots"}]}, 422, "invalid_params"),
        ("PATCH", "/apps/{app}/formation", {"updates": [{"type": "web", "size": "gigantic"}]}, 422, "invalid_params"),
        ("POST", "/apps/{app}/releases", {"release": "v42"}, 404, "not_found"),
        ("POST", "/apps/{app}/collaborators", {"user": "nobody@example.com"}, 422, "invalid_params"),
        ("GET", "/no/such/path", None, 404, "not_found"),
        ("PUT", "/apps", None, 405, "method_not_allowed"),
    ],
)
def test_bad_input_gets_heroku_errors(
    server: ServerProcess, method: str, path: str, body: object, status: int, error_id: str
) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        r = c.request(method, path.format(app=name), json=body)
    assert r.status_code == status, r.text
    assert r.json()["id"] == error_id and r.json()["message"]


def test_malformed_json_is_400(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        r = c.patch(f"/apps/{name}/config-vars", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["id"] == "bad_request"


def test_rate_limit_runs_out_with_429(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("limited"), extra_env={"PYROKU_API_RATE_LIMIT": "5"})
    try:
        token = server.admin_token  # the login spends from the caller's address, not the account
        with server.client(token) as c:
            seen = [c.get("/account") for _ in range(6)]
            assert [r.status_code for r in seen] == [200] * 5 + [429]
            assert seen[-1].json()["id"] == "rate_limit"
            assert [r.headers["RateLimit-Remaining"] for r in seen] == ["4", "3", "2", "1", "0", "0"]
            free = c.get("/account/rate-limits")  # free, as on Heroku
            assert free.status_code == 200 and free.json() == {"remaining": 0}
    finally:
        server.stop()


def test_formation_quantities_as_strings_and_relative_like_the_heroku_cli(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        set_two = c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": "2"}]})
        assert set_two.json()[0]["quantity"] == 2
        plus = c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": "+1"}]})
        assert plus.json()[0]["quantity"] == 3
        minus = c.patch(f"/apps/{name}/formation/web", json={"quantity": "-3"})
        assert minus.json()["quantity"] == 0
        below = c.patch(f"/apps/{name}/formation/web", json={"quantity": "-1"})
        assert below.status_code == 422 and "Cannot scale web to -1" in below.json()["message"]
