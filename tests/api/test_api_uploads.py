"""Uploads refused whole (malformed, truncated, oversized, not storable), NUL outside indexed fields,
no orphan files, the Idempotency-Key."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from api_client import (
    JSON,
    Api,
    make_traj,
    n_trajectories,
    stored_files,
    traj,
)

from forager.config import reset_settings
from forager.trajectory import fileformat
from forager.trajectory import store as trajstore


@pytest.mark.parametrize(
    ("body", "ctype", "status", "says"),
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b"[1, 2]", "application/json", 422, "one JSON object"),
        (b"", "application/json", 422, "empty"),
        (b'{"turns": [{"index": "x"}]}', "application/json", 422, "turns"),
        (b'{"surprise": 1}', "application/json", 422, "surprise"),
        (b'{"schema_version": "other/9"}', "application/json", 422, "schema_version"),
        (b"\xff\xfe", "application/json", 422, "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "application/json", 422, "JSON"),
        (b"\x1f\x8b\x08\x00garbage", "application/gzip", 422, "gzip"),
        (b"hello", "text/html", 415, "content type"),
    ],
)
def test_malformed_uploads_get_4xx_saying_why_and_store_nothing(
    api: Api, body: bytes, ctype: str, status: int, says: str
) -> None:
    r = api.client.post("/v1/trajectories", content=body, headers={**api.write, "Content-Type": ctype})
    assert r.status_code == status, r.text
    assert says.lower() in json.dumps(r.json()["detail"]).lower()
    assert n_trajectories() == 0


def test_truncated_or_disordered_jsonl_is_refused_whole(api: Api) -> None:
    lines = fileformat.to_lines(make_traj(3))
    cases = {
        "no outcome": "\n".join(lines[:-1]),
        "cut mid-line": "\n".join(lines)[:-25],
        "turn before header": "\n".join([lines[1], lines[0], *lines[2:]]),
        "after outcome": "\n".join([*lines, lines[1]]),
    }
    for name, text in cases.items():
        r = api.client.post(
            "/v1/trajectories",
            content=text.encode(),
            headers={**api.write, "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 422, name
        assert "line" in json.dumps(r.json()["detail"]), name
    truncated_gz = fileformat.dumps(make_traj(3))[:-10]
    r = api.client.post(
        "/v1/trajectories", content=truncated_gz, headers={**api.write, "Content-Type": "application/gzip"}
    )
    assert r.status_code == 422 and "truncated" in r.json()["detail"]
    assert n_trajectories() == 0


def test_oversized_uploads_get_413(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_API_MAX_UPLOAD_BYTES", "20000")
    reset_settings()
    big = make_traj(1)
    big.turns[0].observation = "x" * 30000
    body = big.model_dump_json().encode()
    headers = {**api.write, "Content-Type": "application/json"}
    r = api.client.post("/v1/trajectories", content=body, headers=headers)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    # without a Content-Length (chunked): the limit is enforced while the body streams in
    r = api.client.post("/v1/trajectories", content=iter([body[:15000], body[15000:]]), headers=headers)
    assert r.status_code == 413
    # a small gzip that inflates past the limit
    bomb = gzip.compress(b"\n" * 10_000_000)
    assert len(bomb) < 20000
    r = api.client.post(
        "/v1/trajectories", content=bomb, headers={**api.write, "Content-Type": "application/gzip"}
    )
    assert r.status_code == 413 and "decompressed" in r.json()["detail"]
    assert n_trajectories() == 0
    ok = api.client.post("/v1/trajectories", content=make_traj(1).model_dump_json(), headers=headers)
    assert ok.status_code == 201


SV = '"schema_version": "forager.trajectory/1"'


def obj(fields: str) -> str:
    """A JSON trajectory object (raw text) with its schema_version and ``fields``."""
    return "{" + SV + ", " + fields + "}"


@pytest.mark.parametrize(("body", "ctype", "says"), [
    (obj('"problem_statement": "a\\ud800b"'), "application/json", "surrogate"),
    (obj('"meta": {"\\udfff": 1}'), "application/json", "surrogate"),
    (obj('"duration_s": NaN'), "application/json", "NaN"),
    (obj('"duration_s": -Infinity'), "application/json", "Infinity"),
    (obj('"duration_s": 1e999'), "application/json", "finite"),
    (obj('"duration_s": "NaN"'), "application/json", "finite"),
    (obj('"meta": {"x": ' + "[" * 900 + "]" * 900 + "}"), "application/json", "nested deeper"),
    (obj('"task_id": "t\\u0000x"'), "application/json", "NUL"),
    (obj('"model": {"name": "m\\u0000"}'), "application/json", "NUL"),
    (obj('"exit_reason": "' + "x" * 51 + '"'), "application/json", "longer than"),
    ("{}", "application/json", "schema_version"),
    ("NaN", "application/json", "NaN"),
    ('{"type": "header", ' + SV + ', "problem_statement": "\\ud800"}\n{"type": "outcome"}',
     "application/x-ndjson", "surrogate"),
])
def test_uploads_that_cannot_be_served_back_are_refused(api: Api, forager_home: Path, body: str, ctype: str,
                                                        says: str) -> None:
    r = api.client.post("/v1/trajectories", content=body.encode(),
                        headers={**api.write, "Content-Type": ctype})
    assert r.status_code == 422, r.text
    assert says.lower() in json.dumps(r.json()["detail"]).lower()
    assert n_trajectories() == 0 and stored_files(forager_home) == []


def test_nul_outside_indexed_fields_round_trips(api: Api) -> None:
    t = traj()
    t.turns[0].observation = "binary\x00output"
    r = api.client.post("/v1/trajectories", content=t.model_dump_json(), headers={**api.write, **JSON})
    assert r.status_code == 201
    got = api.client.get(f"/v1/trajectories/{r.json()['id']}", headers=api.read)
    assert got.status_code == 200 and got.json()["turns"][0]["observation"] == "binary\x00output"


def test_a_refused_registry_row_leaves_no_orphan_file(forager_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise RuntimeError("the database refused the row")

    monkeypatch.setattr(trajstore, "_index", refuse)
    with pytest.raises(RuntimeError):
        trajstore.save(traj())
    assert stored_files(forager_home) == []


def test_upload_idempotency_key(api: Api, forager_home: Path) -> None:
    body = traj().model_dump_json()
    headers = {**api.write, **JSON, "Idempotency-Key": "upload-1"}
    first = api.client.post("/v1/trajectories", content=body, headers=headers)
    again = api.client.post("/v1/trajectories", content=body, headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json()
    assert n_trajectories() == 1 and len(stored_files(forager_home)) == 1
    other = traj(exit_reason="budget").model_dump_json()
    assert api.client.post("/v1/trajectories", content=other, headers=headers).status_code == 409
    assert n_trajectories() == 1
    # another token's same key is another upload; no key: a new trajectory each time
    elsewhere = api.client.post("/v1/trajectories", content=body,
                                headers={**api.admin, **JSON, "Idempotency-Key": "upload-1"})
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first.json()["id"]
    plain = [api.client.post("/v1/trajectories", content=body, headers={**api.write, **JSON}).json()["id"]
             for _ in range(2)]
    assert len(set(plain)) == 2 and n_trajectories() == 4
