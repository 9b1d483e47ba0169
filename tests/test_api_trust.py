"""Issue #12 (trust): each attack of the adversarial review, made a test that stays.

Ids are never file paths; the server's model key goes only to trusted endpoints; uploads that
cannot be stored and served back are refused before anything is stored; the viewer needs a token;
credentials in URLs are never shown. No Docker needed."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from forager import jobs
from forager.api.app import create_app
from forager.config import reset_settings
from forager.model import keys
from forager.redact import redact_text, redact_url
from forager.store import db, tokens
from forager.trajectory import fileformat
from forager.trajectory import store as trajmod
from forager.trajectory.export import export
from forager.trajectory.schema import Action, ModelInfo, Reward, Trajectory, Turn

SECRET_SOURCE = "https://deploy:s3cr3t-pass@git.example.org/org/private.git"
GOLD = "diff --git a/gold.py b/gold.py\n+GOLD_PATCH_MARKER = 1\n"


@dataclass
class Api:
    client: TestClient
    read: dict[str, str]
    write: dict[str, str]
    admin: dict[str, str]


def _auth(scope: str) -> dict[str, str]:
    token, _ = tokens.create(f"trust-{scope}", scope)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api() -> Iterator[Api]:
    with TestClient(create_app()) as client:
        yield Api(client, _auth("read"), _auth("write"), _auth("admin"))


def traj(**fields: object) -> Trajectory:
    turns = [Turn(index=0, model_message="look", action=Action(tool="bash", args={"command": "ls"}),
                  observation="a.py\n", exit_code=0)]
    base = {"task_id": "task-t", "repository": "minipkg", "kind": "mutate-fix", "model": ModelInfo(name="m"),
            "problem_statement": "fix", "turns": turns, "final_diff": GOLD, "exit_reason": "submitted",
            "reward": Reward(resolved=True)}
    return Trajectory(**{**base, **fields})  # type: ignore[arg-type]


def n_trajectories() -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(db.Trajectory)) or 0


def stored_files(home: Path) -> list[Path]:
    return [p for p in (home / "trajectories").rglob("*") if p.is_file()]


JSON = {"Content-Type": "application/json"}


# ----------------------------------------------------------------------------- 1. ids are never paths
def test_trajectory_ids_are_never_file_paths(api: Api, forager_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from FORAGER_HOME, `GET /v1/trajectories/forager.db` used to open (and close) the live
    database, dropping its locks; any file in the cwd was answered; a directory gave 500."""
    r = api.client.post("/v1/trajectories", content=traj().model_dump_json(), headers={**api.write, **JSON})
    assert r.status_code == 201
    monkeypatch.chdir(forager_home)
    (forager_home / "secret.txt").write_text('{"problem_statement": "TOP-SECRET-CONTENT"}')
    database = forager_home / "forager.db"
    assert database.is_file() and (forager_home / "trajectories").is_dir()

    other = sqlite3.connect(database, timeout=30)  # a concurrent writer holding a transaction
    other.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
    other.commit()
    other.execute("BEGIN IMMEDIATE")
    other.executemany("INSERT INTO probe VALUES (?)", [(i,) for i in range(100)])
    before = (database.read_bytes(), database.stat().st_mtime_ns)

    refs = ["forager.db", "forager.db-wal", "secret.txt", "trajectories", "..%2Fforager.db", "..%2F..%2Fetc",
            "%2Fetc%2Fpasswd", str(database).replace("/", "%2F"), "traj-..", "traj-a.b"]
    for ref in refs:
        for suffix in ("", "/raw"):
            r = api.client.get(f"/v1/trajectories/{ref}{suffix}", headers=api.read)
            assert r.status_code == 404, (ref, suffix, r.status_code)
            assert b"TOP-SECRET" not in r.content and b"SQLite format" not in r.content
        r = api.client.get(f"/ui/trajectories/{ref}", headers=api.read)
        assert r.status_code == 404 and "TOP-SECRET" not in r.text, ref

    assert (database.read_bytes(), database.stat().st_mtime_ns) == before  # untouched
    other.commit()
    assert other.execute("SELECT count(*) FROM probe").fetchone() == (100,)
    assert other.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    other.close()
    assert n_trajectories() == 1
    with pytest.raises(LookupError):
        trajmod.load_stored("forager.db")
    with pytest.raises(ValueError, match="not a trajectory id"):
        trajmod.save(traj(id="../../escape"))


def test_the_command_line_still_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "episode.jsonl.gz"
    fileformat.write(traj(id="traj-file"), path)
    assert trajmod.load(str(path)).trajectory.id == "traj-file"
    saved = trajmod.save(traj())
    assert trajmod.load(saved).trajectory.id == saved


# ----------------------------------------------------------------------------- 2. model keys
class ModelServer:
    """A local OpenAI-compatible endpoint that records the Authorization header of each call."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen.append((self.path, self.headers.get("Authorization")))
                body = json.dumps({"choices": [{"message": {"role": "assistant", "content": "done"},
                                                "finish_reason": "stop"}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


@contextmanager
def _fake_environment(image: str, **_: object) -> Iterator[SimpleNamespace]:
    yield SimpleNamespace(user="agent", sandbox=SimpleNamespace(name="fake"), shell=SimpleNamespace(restarts=0),
                          diff=lambda: "")


@pytest.fixture
def episodes_without_docker(monkeypatch: pytest.MonkeyPatch) -> str:
    """The real run path (API -> job -> agent.run_episode -> ChatClient) with the container parts
    replaced: the agent makes one model call and submits. Returns a task id."""
    from forager.episode import run as episode_run
    from forager.episode.agents import llm
    from forager.episode.spec import TaskSpec

    with db.session() as s:
        s.add(db.Build(id="build-k", source="pypi:minipkg", status="validated"))
        s.add(db.Image(id="forager/minipkg:k", build_id="build-k", digest="sha256:k", source="pypi:minipkg",
                       python="3.11", test_command="pytest"))
        s.add(db.Task(id="task-k", image_id="forager/minipkg:k", kind="mutate-fix", setup_patch="",
                      gold_patch=GOLD))
    spec = TaskSpec(id="task-k", image="forager/minipkg:k", setup_patch="", gold_patch=GOLD,
                    fail_to_pass=[], pass_to_pass=[], problem_statement="fix", test_command="pytest",
                    image_digest="sha256:k")
    monkeypatch.setattr(jobs, "ensure_image", lambda tag: "present")
    monkeypatch.setattr(episode_run, "task_spec", lambda task_id: spec)
    monkeypatch.setattr(episode_run, "open_environment", _fake_environment)
    monkeypatch.setattr(episode_run, "setup_task", lambda env, spec: None)

    def one_call(env: object, spec: object, state: object, client: object) -> str:
        client.complete([{"role": "user", "content": "hello"}])  # type: ignore[attr-defined]
        raise ModelCalled  # the episode ends here: only the model call matters

    monkeypatch.setattr(llm, "run_llm_agent", one_call)
    return "task-k"


class ModelCalled(Exception):
    pass

def _run(api: Api, task_id: str, **body: object) -> tuple[int, dict]:
    r = api.client.post("/v1/runs", json={"task_ids": [task_id], "model_name": "m", **body}, headers=api.write)
    if r.status_code != 202:
        return r.status_code, r.json()
    job_id = r.json()["jobs"][0]["id"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = api.client.get(f"/v1/jobs/{job_id}", headers=api.read).json()
        if job["state"] in ("succeeded", "failed"):
            return 202, job
        time.sleep(0.05)
    raise AssertionError(f"run job {job_id} did not finish")


def _model_env(monkeypatch: pytest.MonkeyPatch, server: ModelServer, key: str) -> None:
    monkeypatch.setenv("FORAGER_MODEL_URL", f"{server.url}/trusted/v1")
    monkeypatch.setenv("FORAGER_MODEL_ENDPOINTS", f"{server.url}/also-trusted/v1/")
    monkeypatch.setenv("FORAGER_MODEL_API_KEY", key)
    reset_settings()


def test_the_server_model_key_goes_only_to_trusted_endpoints(
        api: Api, model_server: ModelServer, episodes_without_docker: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server_key = "SERVER-KEY-do-not-leak"
    _model_env(monkeypatch, model_server, server_key)
    task = episodes_without_docker

    # trusted endpoints get the server's key (so this test can see a key when one is sent)
    for url in (None, f"{model_server.url}/also-trusted/v1"):
        status, job = _run(api, task, **({"model_url": url} if url else {}))
        assert status == 202 and "ModelCalled" in (job["error"] or ""), job
    assert [auth for _, auth in model_server.seen] == [f"Bearer {server_key}"] * 2

    # a foreign endpoint never gets it: the call goes out without a key
    foreign = f"{model_server.url}/foreign/v1"
    status, job = _run(api, task, model_url=foreign)
    assert status == 202 and job["params"]["model_key"] == "none", job
    assert model_server.seen[-1] == ("/foreign/v1/chat/completions", None)
    assert all(auth != f"Bearer {server_key}" for path, auth in model_server.seen if path.startswith("/foreign"))

    # a caller's own key: sent to its endpoint, never stored, answered or logged
    caller_key = "CALLER-KEY-private-123"
    status, job = _run(api, task, model_url=foreign, model_api_key=caller_key)
    assert status == 202, job
    assert ("/foreign/v1/chat/completions", f"Bearer {caller_key}") in model_server.seen
    assert all(auth != f"Bearer {server_key}" for path, auth in model_server.seen if path.startswith("/foreign"))
    listed = api.client.get("/v1/runs", headers=api.read).text + api.client.get("/v1/jobs", headers=api.read).text
    assert caller_key not in listed and server_key not in listed
    with db.session() as s:
        stored = json.dumps([[j.params, j.result, j.error] for j in s.scalars(select(db.Job))], default=str)
    assert caller_key not in stored and server_key not in stored
    assert caller_key not in caplog.text and server_key not in caplog.text
    assert api.client.post("/v1/runs", json={"task_ids": [task], "model_url": "file:///etc/passwd"},
                           headers=api.write).status_code == 422


def test_model_key_policy() -> None:
    import os

    os.environ["FORAGER_MODEL_URL"] = "http://models.internal/v1"
    os.environ["FORAGER_MODEL_API_KEY"] = "server-key"
    os.environ["FORAGER_MODEL_ENDPOINTS"] = "http://other.internal/v1/, http://third.internal"
    reset_settings()
    try:
        assert keys.model_key_for(None, None) == "server-key"
        assert keys.model_key_for("http://models.internal/v1/", None) == "server-key"
        assert keys.model_key_for("http://other.internal/v1", None) == "server-key"
        assert keys.model_key_for("http://attacker.example/v1", None) == ""
        assert keys.model_key_for("http://models.internal/v1.attacker.example", None) == ""
        assert keys.model_key_for("http://attacker.example/v1", "own-key") == "own-key"
        keys.hold_model_key("job-x", "own-key")
        assert keys.held_model_key("job-x") == "own-key" and keys.held_model_key("job-y") is None
    finally:
        for name in ("FORAGER_MODEL_URL", "FORAGER_MODEL_API_KEY", "FORAGER_MODEL_ENDPOINTS"):
            os.environ.pop(name, None)
        reset_settings()


# ----------------------------------------------------------------------------- 3. uploads
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

    monkeypatch.setattr(trajmod, "_index", refuse)
    with pytest.raises(RuntimeError):
        trajmod.save(traj())
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


def _store_raw(t: Trajectory) -> str:
    """Store a record the way an older server could have (no upload validation)."""
    return trajmod.save(t)


def test_bad_stored_records_are_served_and_reported(api: Api, forager_home: Path, tmp_path: Path) -> None:
    bad = traj(problem_statement="lone \ud800 surrogate")
    bad_id = _store_raw(bad)
    good_id = _store_raw(traj())
    broken_id = _store_raw(traj())
    trajmod.stored_path(broken_id).unlink()
    trajmod.stored_path(broken_id).mkdir()  # unreadable: a directory where the file was

    r = api.client.get(f"/v1/trajectories/{bad_id}", headers=api.read)
    assert r.status_code == 200 and json.loads(r.content)["problem_statement"] == "lone \ud800 surrogate"
    assert api.client.get(f"/ui/trajectories/{bad_id}", headers=api.read).status_code == 200
    assert api.client.get(f"/v1/trajectories/{broken_id}", headers=api.read).status_code == 404
    lines = [json.loads(line) for line in
             api.client.get("/v1/trajectories/export", headers=api.read).content.splitlines()]
    assert {x["id"] for x in lines} == {bad_id, good_id, broken_id}
    errors = {x["id"]: x["export_error"] for x in lines if "export_error" in x}
    assert list(errors) == [broken_id]

    stats = export(tmp_path / "out.jsonl")
    assert stats.written == 1 and set(stats.problems) == {bad_id, broken_id}
    assert stats.summary()["unreadable_ids"] == sorted([bad_id, broken_id])
    assert "surrogates" in stats.problems[bad_id]


# ----------------------------------------------------------------------------- 4. viewer and redaction
@pytest.fixture
def secrets_stored(api: Api) -> str:
    """A build from a source with credentials and an oracle trajectory showing a gold patch."""
    with db.session() as s:
        s.add(db.Build(id="build-secret", source=SECRET_SOURCE, status="failed",
                       error=f"fatal: unable to access '{SECRET_SOURCE}/': 403"))
        s.add(db.BuildLog(build_id="build-secret", step="clone", command=f"git clone {SECRET_SOURCE}",
                          output=f"Cloning into '{SECRET_SOURCE}'", duration_s=0.1))
    r = api.client.post("/v1/trajectories", headers={**api.write, **JSON},
                        content=traj(model=ModelInfo(name="m", url="https://u:model-pw@llm.example/v1"),
                                     agent="oracle").model_dump_json())
    return r.json()["id"]


def test_the_viewer_needs_a_token(api: Api, secrets_stored: str) -> None:
    c = api.client
    pages = ["/ui/", "/ui", "/ui/trajectories", f"/ui/trajectories/{secrets_stored}"]
    for path in pages:
        r = c.get(path)
        assert r.status_code == 401 and 'id="login"' in r.text, path
        assert "GOLD_PATCH_MARKER" not in r.text and "s3cr3t" not in r.text and "build-secret" not in r.text
        bad = c.get(path, headers={"Authorization": "Bearer fgr_00000000_" + "a" * 43})
        assert bad.status_code == 401 and "unknown or revoked" in bad.text
        assert c.get(path, headers=api.read).status_code == 200, path
    assert c.get("/ui/static/forager.css").status_code == 200  # the sign-in page's style stays open

    # the sign-in form keeps the token in an HttpOnly cookie for /ui, then the pages open
    token = api.read["Authorization"].removeprefix("Bearer ")
    assert c.post("/ui/login", data={"token": "nope"}).status_code == 401
    r = c.post("/ui/login", data={"token": token, "next": f"/ui/trajectories/{secrets_stored}"},
               follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/ui/trajectories/{secrets_stored}"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    page = c.get(f"/ui/trajectories/{secrets_stored}")
    assert page.status_code == 200 and "GOLD_PATCH_MARKER" in page.text
    # never an open redirect
    for target in ("//evil.example/ui", "https://evil.example/", "/ui/..\\evil"):
        r = c.post("/ui/login", data={"token": token, "next": target}, follow_redirects=False)
        assert r.headers["location"] == "/ui/", target
    c.post("/ui/logout")
    c.cookies.clear()
    # a revoked token no longer opens the viewer
    info = tokens.verify(token)
    assert info is not None and tokens.revoke(info.id)
    assert c.get("/ui/", headers=api.read).status_code == 401


def test_a_public_viewer_opens_without_a_token(api: Api, secrets_stored: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_VIEWER_PUBLIC", "true")
    reset_settings()
    assert api.client.get("/ui/").status_code == 200
    assert api.client.get(f"/ui/trajectories/{secrets_stored}").status_code == 200


def test_credentials_in_urls_are_never_shown(api: Api, secrets_stored: str) -> None:
    c = api.client
    added = c.post("/v1/repositories", json={"source": SECRET_SOURCE}, headers=api.write)
    assert added.status_code == 201 and added.json()["source"] == "https://***@git.example.org/org/private.git"
    job, _ = jobs.create("build", {"source": SECRET_SOURCE})  # recorded, not run (no clone from a test)
    answers = [added.text]
    for path in ("/v1/repositories", "/v1/builds", "/v1/builds/build-secret", "/v1/builds/build-secret/logs",
                 "/v1/jobs", f"/v1/jobs/{job.id}", f"/v1/trajectories/{secrets_stored}",
                 f"/v1/trajectories/{secrets_stored}/raw", "/v1/trajectories/export"):
        r = c.get(path, headers=api.read)
        assert r.status_code == 200, path
        answers.append(gzip.decompress(r.content).decode() if path.endswith("/raw") else r.text)
    for path in ("/ui/", "/ui/trajectories", f"/ui/trajectories/{secrets_stored}"):
        answers.append(c.get(path, headers=api.read).text)
    shown = "\n".join(answers)
    assert "s3cr3t" not in shown and "model-pw" not in shown and "deploy:" not in shown
    assert "https://***@git.example.org/org/private.git" in shown
    assert "https://***@llm.example/v1" in shown


def test_redact_url() -> None:
    assert redact_url(SECRET_SOURCE) == "https://***@git.example.org/org/private.git"
    assert redact_url("https://ghp_token@github.com/a/b") == "https://***@github.com/a/b"
    assert redact_url("http://h/v1?api_key=k&x=1") == "http://h/v1?api_key=***&x=1"
    for same in ("git@github.com:a/b.git", "pypi:attrs==23.1.0", "https://github.com/a/b.git", "/srv/repo"):
        assert redact_url(same) == same
    assert redact_text(f"clone of {SECRET_SOURCE} failed") == \
        "clone of https://***@git.example.org/org/private.git failed"
    digest = hashlib.sha256(SECRET_SOURCE.encode()).hexdigest()
    assert redact_text(digest) == digest
