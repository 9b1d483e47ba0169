"""Runs: the server's model key goes only to trusted endpoints; a caller's key is never stored, answered or logged."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from api_client import (
    GOLD,
    Api,
)
from sqlalchemy import select

from forager.config import reset_settings
from forager.jobs import handlers
from forager.model import keys
from forager.store import db


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
    monkeypatch.setattr(handlers, "ensure_image", lambda tag: "present")
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


def test_runs_of_unknown_tasks_are_404(api: Api) -> None:
    r = api.client.post("/v1/runs", json={"task_ids": ["task-nope"]}, headers=api.write)
    assert r.status_code == 404 and "task-nope" in r.json()["detail"]
