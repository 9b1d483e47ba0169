"""Authentication: the open health check, bearer tokens, ordered scopes."""

from __future__ import annotations

from api_client import (
    Api,
)


def test_health_is_open_and_everything_else_needs_a_token(api: Api) -> None:
    r = api.client.get("/healthz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    assert api.client.get("/v1/repositories").status_code == 401
    r = api.client.get("/v1/repositories", headers={"Authorization": "Bearer fgr_00000000_" + "a" * 43})
    assert r.status_code == 401 and "unknown" in r.json()["detail"]
    assert api.client.get("/v1/repositories", headers={"Authorization": "Basic eDp5"}).status_code == 401
    assert api.client.get("/v1/repositories", headers=api.read).status_code == 200


def test_scopes_read_write_admin(api: Api) -> None:
    body = {"source": "https://example.org/a/b.git"}
    r = api.client.post("/v1/repositories", json=body, headers=api.read)
    assert r.status_code == 403 and "write scope" in r.json()["detail"]
    assert api.client.post("/v1/repositories", json=body, headers=api.write).status_code == 201
    assert api.client.get("/v1/tokens", headers=api.write).status_code == 403
    r = api.client.post("/v1/tokens", json={"name": "new", "scope": "read"}, headers=api.admin)
    assert r.status_code == 201
    new = r.json()
    headers = {"Authorization": f"Bearer {new['token']}"}
    assert api.client.get("/v1/stats", headers=headers).status_code == 200
    assert api.client.delete(f"/v1/tokens/{new['id']}", headers=api.admin).status_code == 204
    assert api.client.get("/v1/stats", headers=headers).status_code == 401
    listed = api.client.get("/v1/tokens", headers=api.admin).json()
    assert all("token" not in t for t in listed) and any(t["revoked"] for t in listed)
