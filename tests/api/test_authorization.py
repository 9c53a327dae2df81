"""Only the owner, collaborators and the operator see or change an app: checked on every
endpoint the API describes, so a new endpoint without the check fails here."""

import re
import secrets
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess

_BODIES: dict[tuple[str, str], Any] = {
    ("patch", "/apps/{app}"): {"maintenance": True, "name": "stolen-name"},
    ("patch", "/apps/{app}/config-vars"): {"STOLEN": "1"},
    ("post", "/apps/{app}/releases"): {"release": "1"},
    ("patch", "/apps/{app}/formation"): {"updates": [{"type": "web", "quantity": 3}]},
    ("patch", "/apps/{app}/formation/{process_type}"): {"quantity": 3},
    ("post", "/apps/{app}/collaborators"): {"user": "{stranger}"},
    ("post", "/apps/{app}/domains"): {"hostname": "www.{app}.example.com"},
    ("patch", "/apps/{app}/features/{feature}"): {"enabled": True},
    ("post", "/apps/{app}/log-drains"): {"url": "https://127.0.0.1:9/{app}"},
    ("post", "/apps/{app}/log-sessions"): {"lines": 10},
    ("post", "/apps/{app}/slugs"): {"process_types": {"web": "x"}},
    ("post", "/apps/{app}/dynos"): {"command": "ls"},
    ("post", "/apps/{app}/sni-endpoints"): {"certificate_chain": "x", "private_key": "y"},
}


def _operations(server: ServerProcess) -> list[tuple[str, str]]:
    schema = httpx.get(server.api_url + "/openapi.json").json()
    return [(method, path) for path, ops in schema["paths"].items() for method in ops if "{app}" in path]


def _victim(server: ServerProcess) -> tuple[str, str, str]:
    owner_email, owner = server.create_user()
    name = "victim-" + secrets.token_hex(4)
    with server.client(owner) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
        c.patch(f"/apps/{name}/config-vars", json={"SECRET": "s3cret"})
        c.patch(f"/apps/{name}/formation", json={"updates": [{"type": "web", "quantity": 1}]})
        c.post(f"/apps/{name}/domains", json={"hostname": f"{name}.example.com"})
        c.post(f"/apps/{name}/log-drains", json={"url": "syslog://127.0.0.1:9"})
    return owner_email, owner, name


def _snapshot(server: ServerProcess, token: str, name: str) -> list[Any]:
    with server.client(token) as c:
        return [c.get(p).json() for p in (f"/apps/{name}", f"/apps/{name}/config-vars",
                                          f"/apps/{name}/releases", f"/apps/{name}/formation",
                                          f"/apps/{name}/collaborators", f"/apps/{name}/domains",
                                          f"/apps/{name}/features", f"/apps/{name}/log-drains")]


def _call(server: ServerProcess, token: str, method: str, path: str, values: dict[str, str]) -> httpx.Response:
    body = _BODIES.get((method, path))
    if body is not None:
        body = {k: (v.format(**values) if isinstance(v, str) else v) for k, v in body.items()}
    with server.client(token) as c:
        return c.request(method.upper(), path.format(**values), json=body)


def test_operation_list_is_not_empty(server: ServerProcess) -> None:
    ops = _operations(server)
    assert ("delete", "/apps/{app}") in ops and ("patch", "/apps/{app}/config-vars") in ops and len(ops) >= 15


def test_a_stranger_learns_nothing_and_changes_nothing(server: ServerProcess) -> None:
    owner_email, owner, name = _victim(server)
    stranger_email, stranger = server.create_user()
    before = _snapshot(server, owner, name)
    with server.client(owner) as c:
        drain_id = c.get(f"/apps/{name}/log-drains").json()[0]["id"]
        slug_id = c.post(f"/apps/{name}/slugs", json={"process_types": {"web": "x"}}).json()["id"]
    for method, path in _operations(server):
        values = {"app": name, "release": "1", "process_type": "web", "collaborator": owner_email,
                  "stranger": stranger_email, "domain": f"{name}.example.com", "feature": "preboot",
                  "drain": drain_id, "slug": slug_id,
                  "dyno": "web.1", "cert": "cert-00000000", "build": "00000000-0000-4000-8000-000000000000"}
        seen = _call(server, stranger, method, path, values)
        missing = _call(server, stranger, method, path, {**values, "app": "no-such-app-" + secrets.token_hex(3)})
        # exactly what a non-existent app answers: the app's existence does not leak
        assert (seen.status_code, seen.json()) == (missing.status_code, missing.json()), (method, path)
        assert seen.status_code in (404, 422), (method, path, seen.text)
        assert "s3cret" not in seen.text and owner_email not in seen.text
    assert _snapshot(server, owner, name) == before
    with server.client(stranger) as c:
        listed = c.get("/apps").json()
        assert name not in [a["name"] for a in listed]
        assert c.get(f"/users/{owner_email}/apps").status_code == 404
        assert c.get(f"/users/{owner_email}").status_code == 404


def test_collaborators_work_on_the_app_but_only_the_owner_destroys_it(server: ServerProcess) -> None:
    owner_email, owner, name = _victim(server)
    friend_email, friend = server.create_user()
    with server.client(owner) as c:
        added = c.post(f"/apps/{name}/collaborators", json={"user": friend_email})
        assert added.status_code == 201 and added.json()["user"]["email"] == friend_email
        roles = {x["user"]["email"]: x["role"] for x in c.get(f"/apps/{name}/collaborators").json()}
        assert roles == {owner_email: "owner", friend_email: "collaborator"}
    with server.client(friend) as c:
        assert c.patch(f"/apps/{name}/config-vars", json={"FRIEND": "yes"}).status_code == 200
        assert c.get(f"/apps/{name}/releases").json()[-1]["user"]["email"] == friend_email
        denied = c.delete(f"/apps/{name}")
        assert denied.status_code == 403 and denied.json()["id"] == "forbidden"
        assert c.patch(f"/apps/{name}", json={"name": "renamed-" + name[:10]}).status_code == 403
    with server.client(owner) as c:
        assert c.delete(f"/apps/{name}/collaborators/{friend_email}").status_code == 200
    with server.client(friend) as c:
        assert c.get(f"/apps/{name}").status_code == 404


def test_the_operator_sees_every_app(server: ServerProcess) -> None:
    _, _, name = _victim(server)
    with server.client(server.admin_token) as c:
        assert c.get(f"/apps/{name}").status_code == 200
        assert name in [a["name"] for a in c.get("/apps").json()]


def test_only_the_operator_creates_users(server: ServerProcess) -> None:
    _, token = server.create_user()
    with server.client(token) as c:
        r = c.post("/users", json={"email": "sneaky@example.com"})
    assert r.status_code == 403 and r.json()["id"] == "forbidden"
    with server.client(server.admin_token) as c:
        made = c.post("/users", json={"email": "generated@example.com"})
        assert made.status_code == 201
        password = made.json()["password"]
        dup = c.post("/users", json={"email": "generated@example.com", "password": "whatever-1"})
        assert dup.status_code == 422 and "already exists" in dup.json()["message"]
    assert server.login("generated@example.com", password)


@pytest.mark.parametrize("auth", [None, ("a@b.c", "wrong"), "Bearer not-a-token", "Basic !!!"])
def test_bad_credentials_are_401(server: ServerProcess, auth: object) -> None:
    headers = {"Accept": "application/vnd.heroku+json; version=3"}
    basic = None
    if isinstance(auth, str):
        headers["Authorization"] = auth
    elif isinstance(auth, tuple):
        basic = auth
    r = httpx.get(server.api_url + "/account", headers=headers, auth=basic)
    assert r.status_code == 401 and r.json()["id"] == "unauthorized"
    login = httpx.post(server.api_url + "/oauth/authorizations", headers=headers, auth=basic)
    assert login.status_code == 401


def test_tokens_work_as_bearer_or_basic_password_and_are_revocable(server: ServerProcess) -> None:
    email, token = server.create_user()
    headers = {"Accept": "application/vnd.heroku+json; version=3"}
    assert httpx.get(server.api_url + "/account", headers=headers, auth=("", token)).json()["email"] == email
    with server.client(token) as c:
        current = c.get("/oauth/authorizations/~").json()
        assert current["user"]["email"] == email and current["access_token"] is None  # never shown again
        assert c.delete("/oauth/authorizations/~").status_code == 200
        assert c.get("/account").status_code == 401


def test_tokens_are_stored_hashed(server: ServerProcess) -> None:
    _, token = server.create_user()
    raw = (server.data_dir / "pyroku.sqlite3").read_bytes()
    wal = server.data_dir / "pyroku.sqlite3-wal"
    raw += wal.read_bytes() if wal.exists() else b""
    assert token.encode() not in raw
    assert re.search(rb"\$argon2id\$", raw)
