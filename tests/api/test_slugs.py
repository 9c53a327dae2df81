"""Slugs through the API: register, upload to the blob URL, release; as the Platform API does."""

import hashlib
import io
import secrets
import tarfile

import httpx

from tests.conftest import ServerProcess


def make_slug(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("./app/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _app(server: ServerProcess, token: str) -> str:
    name = "slug-" + secrets.token_hex(4)
    with server.client(token) as c:
        assert c.post("/apps", json={"name": name}).status_code == 201
    return name


def test_register_upload_and_release_a_slug(server: ServerProcess) -> None:
    email, token = server.create_user()
    name = _app(server, token)
    blob = make_slug({"Procfile": "web: python -m http.server $PORT\n"})
    checksum = "SHA256:" + hashlib.sha256(blob).hexdigest()
    with server.client(token) as c:
        created = c.post(f"/apps/{name}/slugs", json={
            "process_types": {"web": "python -m http.server $PORT", "worker": "sleep infinity"},
            "commit": "0123456789abcdef", "checksum": checksum,
        })
        assert created.status_code == 201
        slug = created.json()
        assert slug["blob"]["method"] == "PUT" and slug["checksum"] is None
        not_yet = c.post(f"/apps/{name}/releases", json={"slug": slug["id"]})
        assert not_yet.status_code == 422 and "no uploaded blob" in not_yet.json()["message"]
        put = httpx.put(slug["blob"]["url"], content=blob)  # no credentials: the URL is the capability
        assert put.status_code == 200 and put.json()["checksum"] == checksum
        assert httpx.put(slug["blob"]["url"], content=blob).status_code == 404  # single use
        release = c.post(f"/apps/{name}/releases", json={"slug": slug["id"]})
        assert release.status_code == 201
        assert (release.json()["version"], release.json()["description"]) == (2, "Deploy 01234567")
        assert release.json()["slug"] == {"id": slug["id"]} and release.json()["current"] is True
        formation = {f["type"]: (f["quantity"], f["command"]) for f in c.get(f"/apps/{name}/formation").json()}
        assert formation == {"web": (1, "python -m http.server $PORT"), "worker": (0, "sleep infinity")}
        info = c.get(f"/apps/{name}/slugs/{slug['id']}").json()
        assert info["checksum"] == checksum and info["size"] == len(blob) and info["blob"] is None
        session = c.post(f"/apps/{name}/log-sessions", json={}).json()
    log = httpx.get(session["logplex_url"]).text
    assert f"app[api]: Deploy 01234567 by user {email}" in log
    assert f"app[api]: Scaled to web@1:Standard-1X by user {email}" in log


def test_checksum_mismatch_and_foreign_slugs_are_refused(server: ServerProcess) -> None:
    _, token = server.create_user()
    _, other = server.create_user()
    name, theirs = _app(server, token), _app(server, other)
    with server.client(token) as c:
        slug = c.post(f"/apps/{name}/slugs", json={
            "process_types": {"web": "x"}, "checksum": "SHA256:" + "0" * 64,
        }).json()
        bad = httpx.put(slug["blob"]["url"], content=make_slug({"Procfile": "web: x\n"}))
        assert bad.status_code == 422 and "does not match" in bad.json()["message"]
        assert c.post(f"/apps/{name}/releases", json={"slug": slug["id"]}).status_code == 422
        bogus = httpx.put(slug["blob"]["url"].split("?")[0] + "?token=guess", content=b"x")
        assert bogus.status_code == 404
    with server.client(other) as c:
        stolen = c.post(f"/apps/{theirs}/releases", json={"slug": slug["id"]})
        assert stolen.status_code == 404
        both = c.post(f"/apps/{theirs}/releases", json={"slug": slug["id"], "release": "1"})
        assert both.status_code == 422
