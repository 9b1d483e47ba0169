"""Repositories: add once per source, list with cursor pagination, show; which sources are accepted."""

from __future__ import annotations

from pathlib import Path

from api_client import (
    Api,
)


def test_repositories_add_list_show_and_paginate(api: Api, tmp_path: Path) -> None:
    ids = []
    for i in range(5):
        r = api.client.post(
            "/v1/repositories", json={"source": f"https://example.org/org/r{i}.git"}, headers=api.write
        )
        assert r.status_code == 201, r.text
        assert r.json()["name"] == f"r{i}" and r.json()["kind"] == "git"
        ids.append(r.json()["id"])
    again = api.client.post(
        "/v1/repositories", json={"source": "https://example.org/org/r0.git"}, headers=api.write
    )
    assert again.status_code == 200 and again.json()["id"] == ids[0]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.client.get("/v1/repositories", params=params, headers=api.read).json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    assert api.client.get(f"/v1/repositories/{ids[3]}", headers=api.read).json()["id"] == ids[3]
    assert api.client.get("/v1/repositories/repo-nope", headers=api.read).status_code == 404
    assert api.client.get("/v1/repositories?cursor=!!bad", headers=api.read).status_code == 400
    assert (
        api.client.post("/v1/repositories", json={"source": "ftp://x"}, headers=api.write).status_code == 422
    )
    assert (
        api.client.post("/v1/repositories", json={"source": "pypi:attrs==23.1.0"}, headers=api.write).json()[
            "kind"
        ]
        == "pypi"
    )
    # a directory on the server is an admin-only source
    local = {"source": str(tmp_path)}
    assert api.client.post("/v1/repositories", json=local, headers=api.write).status_code == 403
    assert api.client.post("/v1/repositories", json=local, headers=api.admin).json()["kind"] == "local"
