"""Request and response bodies: the committed examples validate; credentials in URLs are never shown."""

from __future__ import annotations

import gzip
import hashlib

from api_client import (
    EXAMPLES,
    SECRET_SOURCE,
    Api,
)

from forager import jobs
from forager.redact import redact_text, redact_url


def test_committed_examples_are_accepted(api: Api) -> None:
    from forager.api.schemas import BuildIn, NoopIn, RepositoryIn, RunsIn, TasksIn, TokenIn

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
