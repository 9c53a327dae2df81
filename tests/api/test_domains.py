"""Custom domains and app features through the API."""

import secrets

from tests.conftest import ServerProcess


def _app(server: ServerProcess, token: str) -> str:
    name = "dom-" + secrets.token_hex(4)
    with server.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    return name


def test_domains_list_add_remove(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    host = f"www.{name}.example.com"
    with server.client(token) as c:
        added = c.post(f"/apps/{name}/domains", json={"hostname": host.upper() + "."})
        assert added.status_code == 201
        assert added.json()["hostname"] == host and added.json()["kind"] == "custom"
        assert added.json()["cname"] == f"{name}.localhost"
        listed = c.get(f"/apps/{name}/domains").json()
        assert [(d["hostname"], d["kind"]) for d in listed] == [(f"{name}.localhost", "heroku"), (host, "custom")]
        assert c.get(f"/apps/{name}/domains/{host}").json()["id"] == added.json()["id"]
        assert c.delete(f"/apps/{name}/domains/{host}").status_code == 200
        assert [d["kind"] for d in c.get(f"/apps/{name}/domains").json()] == ["heroku"]
        own = c.delete(f"/apps/{name}/domains/{name}.localhost")
        assert own.status_code == 422 and "cannot be removed" in own.json()["message"]


def test_domains_are_validated_and_cannot_be_taken_twice(server: ServerProcess) -> None:
    _, token = server.create_user()
    _, other = server.create_user()
    name, rival = _app(server, token), _app(server, other)
    shop = f"shop-{secrets.token_hex(4)}.example.com"
    with server.client(token) as c:
        assert c.post(f"/apps/{name}/domains", json={"hostname": shop}).status_code == 201
        for bad, needle in [
            ("not a host", "not a valid hostname"),
            ("-bad.example.com", "not a valid hostname"),
            (f"{rival}.localhost", "belong to the platform"),  # no hijacking another app's default host
            ("x" * 64 + ".example.com", "not a valid hostname"),
        ]:
            r = c.post(f"/apps/{name}/domains", json={"hostname": bad})
            assert r.status_code == 422 and needle in r.json()["message"], bad
        assert c.post(f"/apps/{name}/domains", json={"hostname": "*.wild.example.com"}).status_code == 201
    with server.client(other) as c:
        taken = c.post(f"/apps/{rival}/domains", json={"hostname": shop})
        assert taken.status_code == 422 and "already in use" in taken.json()["message"]
        assert name not in taken.json()["message"]  # which app holds it is not revealed


def test_features_enable_and_disable(server: ServerProcess) -> None:
    _, token = server.create_user()
    name = _app(server, token)
    with server.client(token) as c:
        listed = {f["name"]: f["enabled"] for f in c.get(f"/apps/{name}/features").json()}
        assert listed["preboot"] is False
        assert c.patch(f"/apps/{name}/features/preboot", json={"enabled": True}).json()["enabled"] is True
        assert c.get(f"/apps/{name}/features/preboot").json()["enabled"] is True
        assert c.patch(f"/apps/{name}/features/preboot", json={"enabled": False}).json()["enabled"] is False
        missing = c.patch(f"/apps/{name}/features/teleport", json={"enabled": True})
        assert missing.status_code == 404 and "preboot" in missing.json()["message"]
