"""The REST API through its ASGI app: auth, pagination, uploads (validation, limits, exact storage),
jobs on the embedded executor, the committed OpenAPI contract and its examples."""

from __future__ import annotations

import gzip
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from conftest import unavailable
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import func, select

from forager import jobs
from forager.api.app import canonical_json, create_app, openapi_document
from forager.config import reset_settings
from forager.store import db, tokens
from forager.trajectory import fileformat as trajmod
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "api" / "examples"


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    write: dict[str, str]
    admin: dict[str, str]


def _auth(scope: str) -> dict[str, str]:
    token, _ = tokens.create(f"test-{scope}", scope)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api() -> Iterator[Api]:
    with TestClient(create_app()) as client:
        yield Api(client, _auth("read"), _auth("write"), _auth("admin"))


def make_traj(n_turns: int = 2, resolved: bool = True, task_id: str = "task-x") -> Trajectory:
    turns = [
        Turn(
            index=i,
            model_message=f"step {i} ünïcode ✓",
            action=Action(tool="bash", args={"cmd": f"ls {i}"}),
            observation="out\n" * i,
            exit_code=0,
            duration_s=0.5,
        )
        for i in range(n_turns)
    ]
    return Trajectory(
        task_id=task_id,
        image="forager/minipkg:abc",
        repository="minipkg",
        kind="mutate-fix",
        model=ModelInfo(name="scripted", url="http://127.0.0.1:1/v1"),
        problem_statement="fix it",
        turns=turns,
        final_diff="--- a\n+++ b\n",
        exit_reason="submitted",
        reward=Reward(resolved=resolved, fail_to_pass={"t::a": "passed"}),
        duration_s=3.0,
    )


def n_trajectories() -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(db.Trajectory)) or 0


# ----------------------------------------------------------------------------- auth
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


# ----------------------------------------------------------------------------- repositories + pagination
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


# ----------------------------------------------------------------------------- trajectories
def test_upload_json_roundtrips_byte_for_byte(api: Api) -> None:
    traj = make_traj()
    r = api.client.post(
        "/v1/trajectories",
        content=traj.model_dump_json(),
        headers={**api.write, "Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    first = api.client.get(f"/v1/trajectories/{r.json()['id']}", headers=api.read)
    assert first.status_code == 200
    body = first.json()
    assert (
        body["id"] == r.json()["id"]
        and len(body["turns"]) == 2
        and body["turns"][0]["model_message"].endswith("✓")
    )
    # Uploading what GET answered (id null) stores it exactly: GET answers the same bytes.
    body["id"] = None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    r2 = api.client.post(
        "/v1/trajectories", content=canonical, headers={**api.write, "Content-Type": "application/json"}
    )
    assert r2.status_code == 201
    second = api.client.get(f"/v1/trajectories/{r2.json()['id']}", headers=api.read).content
    assert second == canonical.replace(b'"id":null', f'"id":"{r2.json()["id"]}"'.encode())
    # the raw download is the stored file, whose hash the index records
    raw = api.client.get(f"/v1/trajectories/{r2.json()['id']}/raw", headers=api.read)
    assert raw.headers["x-forager-sha256"] == r2.json()["sha256"]
    import hashlib

    assert hashlib.sha256(raw.content).hexdigest() == r2.json()["sha256"]
    assert (
        trajmod.loads_lenient(raw.content).trajectory.model_dump()
        == Trajectory.model_validate_json(second).model_dump()
    )


def test_upload_jsonl_and_gzip_file_formats(api: Api) -> None:
    traj = make_traj(3, resolved=False)
    gz = trajmod.dumps(traj)
    r = api.client.post(
        "/v1/trajectories", content=gz, headers={**api.write, "Content-Type": "application/gzip"}
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    traj.id = new_id
    # the stored file is the canonical .jsonl.gz of the uploaded trajectory under its new id
    assert api.client.get(f"/v1/trajectories/{new_id}/raw", headers=api.read).content == trajmod.dumps(traj)
    assert api.client.get(f"/v1/trajectories/{new_id}", headers=api.read).content == canonical_json(traj)
    lines = gzip.decompress(gz)
    r = api.client.post(
        "/v1/trajectories", content=lines, headers={**api.write, "Content-Type": "application/x-ndjson"}
    )
    assert r.status_code == 201 and r.json()["steps"] == 3


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
    lines = trajmod.to_lines(make_traj(3))
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
    truncated_gz = trajmod.dumps(make_traj(3))[:-10]
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


def test_list_filters_export_and_stats(api: Api) -> None:
    headers = {**api.write, "Content-Type": "application/json"}
    for i in range(4):
        r = api.client.post(
            "/v1/trajectories",
            content=make_traj(1, resolved=i % 2 == 0, task_id=f"t{i % 2}").model_dump_json(),
            headers=headers,
        )
        assert r.status_code == 201
    listed = api.client.get("/v1/trajectories", params={"resolved": "true"}, headers=api.read).json()["items"]
    assert len(listed) == 2 and all(t["resolved"] and t["origin"] == "upload" for t in listed)
    assert (
        len(api.client.get("/v1/trajectories", params={"task_id": "t1"}, headers=api.read).json()["items"])
        == 2
    )
    with api.client.stream(
        "GET", "/v1/trajectories/export", params={"resolved": "false"}, headers=api.read
    ) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        rows = [Trajectory.model_validate_json(line) for line in r.iter_lines() if line]
    assert len(rows) == 2 and not any(t.resolved for t in rows)
    stats = api.client.get("/v1/stats", headers=api.read).json()
    assert stats["trajectories"]["total"] == 4 and stats["trajectories"]["resolve_rate"] == 0.5
    assert api.client.get("/v1/trajectories/traj-missing", headers=api.read).status_code == 404


# ----------------------------------------------------------------------------- jobs (embedded executor)
def wait_job(api: Api, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = api.client.get(f"/v1/jobs/{job_id}", headers=api.read).json()
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def test_noop_job_runs_on_the_embedded_executor_and_is_idempotent(api: Api) -> None:
    headers = {**api.admin, "Idempotency-Key": "k1"}
    r = api.client.post("/v1/jobs/noop", json={"duration": 0.2}, headers=headers)
    assert r.status_code == 202 and r.json()["state"] in ("queued", "running", "succeeded")
    job = wait_job(api, r.json()["id"])
    assert job["state"] == "succeeded" and job["result"]["slept"] == 0.2 and job["attempts"] == 1
    assert [e["event"] for e in job["result"]["history"]] == ["started", "succeeded"]
    again = api.client.post("/v1/jobs/noop", json={"duration": 0.2}, headers=headers)
    assert again.json()["id"] == job["id"] and again.json()["state"] == "succeeded"
    clash = api.client.post("/v1/jobs/noop", json={"duration": 0.3}, headers=headers)
    assert clash.status_code == 409
    assert api.client.post("/v1/jobs/noop", json={"duration": 0}, headers=api.write).status_code == 403


def test_transient_failures_are_retried_with_backoff(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_JOB_RETRY_BACKOFF_S", "0.2")
    reset_settings()
    job = jobs.submit("noop", {"duration": 0, "fail_attempts": 2})
    done = wait_job(api, job.id)
    assert done["state"] == "succeeded" and done["attempts"] == 3
    assert [e["event"] for e in done["result"]["history"]] == [
        "started",
        "retry",
        "started",
        "retry",
        "started",
        "succeeded",
    ]
    job = jobs.submit("noop", {"duration": 0, "fail_attempts": 9})
    failed = wait_job(api, job.id)
    assert failed["state"] == "failed" and failed["attempts"] == 3 and "transient" in failed["error"]


def test_a_job_is_executed_once_however_often_it_is_delivered(api: Api) -> None:
    job, created = jobs.create("noop", {"duration": 0.5})
    assert created
    for _ in range(4):  # four deliveries at once
        jobs.embedded().submit(job.id, "agent")
    done = wait_job(api, job.id)
    events = [e["event"] for e in done["result"]["history"]]
    time.sleep(1.0)  # let any late re-delivery happen
    final = api.client.get(f"/v1/jobs/{job.id}", headers=api.read).json()
    assert events == ["started", "succeeded"] and final["attempts"] == 1 and final == done


def test_long_work_answers_202_with_a_job(api: Api) -> None:
    r = api.client.post("/v1/runs", json={"task_ids": ["task-nope"]}, headers=api.write)
    assert r.status_code == 404 and "task-nope" in r.json()["detail"]
    r = api.client.post("/v1/tasks", json={"image": "forager/none:0"}, headers=api.write)
    assert r.status_code == 404
    r = api.client.post("/v1/builds", json={"source": "not a source"}, headers=api.write)
    assert r.status_code == 422
    r = api.client.post("/v1/builds", json={"source": "/definitely/not/here"}, headers=api.admin)
    assert r.status_code == 422
    assert api.client.get("/v1/builds/job-nope", headers=api.read).status_code == 404


# ----------------------------------------------------------------------------- contract
def test_served_openapi_matches_the_committed_schema(api: Api) -> None:
    committed = (ROOT / "api" / "openapi.json").read_text()
    served = openapi_document(api.client.app)  # type: ignore[arg-type]
    assert served == committed, "schema drifted: run `forager api --openapi api/openapi.json` and commit"
    assert api.client.get("/openapi.json").json() == json.loads(committed)
    assert api.client.get("/docs").status_code == 200


def test_committed_examples_are_accepted(api: Api) -> None:
    from forager.api.app import BuildIn, NoopIn, RepositoryIn, RunsIn, TasksIn, TokenIn

    models = {
        "repositories": RepositoryIn,
        "builds": BuildIn,
        "tasks": TasksIn,
        "runs": RunsIn,
        "noop": NoopIn,
        "tokens": TokenIn,
    }
    checked = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        stem = path.stem.split(".")[0]
        if stem == "trajectory":
            r = api.client.post(
                "/v1/trajectories",
                content=path.read_bytes(),
                headers={**api.write, "Content-Type": "application/json"},
            )
            assert r.status_code == 201, r.text
        else:
            models[stem].model_validate_json(path.read_text())
        checked += 1
    jsonl = EXAMPLES / "trajectory.jsonl"
    r = api.client.post(
        "/v1/trajectories",
        content=jsonl.read_bytes(),
        headers={**api.write, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    assert checked >= 6


# ----------------------------------------------------------------------------- fuzzing the contract
fuzz_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())


@schemathesis.serializer("application/x-ndjson", "application/gzip")
def _raw_bytes(ctx, value):  # type: ignore[no-untyped-def]
    """The .jsonl(.gz) upload bodies are strings/bytes in the schema: send them as they are."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@pytest.fixture
def fuzz_auth(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """An admin token; jobs go to a Redis queue of their own that no worker reads (nothing runs)."""
    import redis

    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis is not reachable: {exc}")
    prefix = f"forager-fuzz-{os.getpid()}-{time.monotonic_ns()}:"
    monkeypatch.setenv("FORAGER_EXECUTOR", "celery")
    monkeypatch.setenv("FORAGER_REDIS_KEY_PREFIX", prefix)
    reset_settings()
    yield _auth("admin")
    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    keys = list(r.scan_iter(match=f"{prefix}*"))
    if keys:
        r.delete(*keys)


@pytest.mark.services
@fuzz_schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_fuzzed_requests_never_get_a_server_error(case, fuzz_auth: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers=fuzz_auth)
    case.validate_response(response, checks=[not_a_server_error])
    assert response.status_code < 500, response.text
