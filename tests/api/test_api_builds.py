"""Builds: bad sources are refused before any job is made; unknown builds are 404."""

from __future__ import annotations

from api_client import Api


def test_builds_of_bad_sources_are_422(api: Api) -> None:
    r = api.client.post("/v1/builds", json={"source": "not a source"}, headers=api.write)
    assert r.status_code == 422
    r = api.client.post("/v1/builds", json={"source": "/definitely/not/here"}, headers=api.admin)
    assert r.status_code == 422


def test_an_unknown_build_is_404(api: Api) -> None:
    assert api.client.get("/v1/builds/job-nope", headers=api.read).status_code == 404
