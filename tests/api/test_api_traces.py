"""``/v1/traces``: listed, fetched and exported with a read token; nothing without one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_client import Api, open_api
from trace_seed import seed_traces


@pytest.fixture
def api() -> Iterator[Api]:
    with open_api() as opened:
        yield opened


@pytest.fixture
def stored(api: Api, tmp_path: Path) -> list[str]:
    ids = seed_traces(tmp_path)
    ids += seed_traces(tmp_path, image="forager/req:1-py3.11-farm", repository="pypi:requests==2.31.0")
    return ids


def test_list_filters_and_pages(api: Api, stored: list[str]) -> None:
    r = api.client.get("/v1/traces", headers=api.read, params={"limit": 4})
    assert r.status_code == 200
    body = r.json()
    assert len(body["items"]) == 4 and body["next_cursor"]
    rest = api.client.get("/v1/traces", headers=api.read, params={"cursor": body["next_cursor"]}).json()
    assert {i["id"] for i in body["items"] + rest["items"]} == set(stored)
    only = api.client.get("/v1/traces", headers=api.read, params={"function": "fact"}).json()["items"]
    assert len(only) == 2 and {i["function"] for i in only} == {"fact"}
    one_image = api.client.get("/v1/traces", headers=api.read, params={"image": "forager/req:1-py3.11-farm"})
    assert len(one_image.json()["items"]) == 3


def test_fetch_returns_the_whole_trace_with_the_contamination_flag(api: Api, stored: list[str]) -> None:
    rows = api.client.get("/v1/traces", headers=api.read, params={"function": "running_total"}).json()["items"]
    by_repo = {r["repository"]: r["id"] for r in rows}
    clean = api.client.get(f"/v1/traces/{by_repo['pypi:demo==1.0']}", headers=api.read).json()
    assert clean["contaminated"] is False and clean["source"].startswith("def running_total")
    assert clean["frames"][0]["event"] == "call" and clean["frames"][-1] == {
        "event": "return", "line": 14, "source": "    return out", "locals": None, "arg": "[2, 6, 12]"}
    flagged = api.client.get(f"/v1/traces/{by_repo['pypi:requests==2.31.0']}", headers=api.read).json()
    assert flagged["contaminated"] is True and flagged["evaluation_sets"]
    assert api.client.get("/v1/traces/trace-nothere", headers=api.read).status_code == 404


def test_export_streams_jsonl_and_can_leave_contaminated_repositories_out(api: Api, stored: list[str]) -> None:
    r = api.client.get("/v1/traces/export", headers=api.read)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in r.text.splitlines()]
    assert len(lines) == 6 and sum(x["contaminated"] for x in lines) == 3
    clean = api.client.get("/v1/traces/export", headers=api.read, params={"exclude_contaminated": True})
    assert {json.loads(x)["repository"] for x in clean.text.splitlines()} == {"pypi:demo==1.0"}


def test_every_route_needs_a_token(api: Api, stored: list[str]) -> None:
    for path in ("/v1/traces", f"/v1/traces/{stored[0]}", "/v1/traces/export"):
        assert api.client.get(path).status_code == 401
        assert api.client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
