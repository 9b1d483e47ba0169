"""Tasks: helpers and statements (pure), then generation and validation in real containers of the
minipkg image and of a small git repository with history."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from forager.build.testrun import run_tests
from forager.config import reset_settings
from forager.store import db
from forager.tasks.generate import (
    Baseline,
    Candidate,
    Workspace,
    evaluate,
    fingerprint,
    generate,
    get_task,
    is_source_path,
    is_test_path,
    list_tasks,
    model_statement,
    template_statement,
)
from forager.tasks.mutations import unified_patch

PATCH = """\
diff --git a/src/pkg/mod.py b/src/pkg/mod.py
--- a/src/pkg/mod.py
+++ b/src/pkg/mod.py
@@ -1,3 +1,3 @@
 def total(values):
-    return sum(values) + 0
+    return sum(values) - 0
"""


# ------------------------------------------------------------------------------------- pure
def test_paths_split_tests_from_source() -> None:
    assert is_test_path("tests/test_a.py") and is_test_path("pkg/tests/helpers.py")
    assert is_test_path("test_x.py") and is_test_path("pkg/a_test.py") and is_test_path("conftest.py")
    assert is_source_path("src/pkg/mod.py") and is_source_path("pkg/__init__.py")
    assert not is_source_path("setup.py") and not is_source_path("docs/conf.py")
    assert not is_source_path("pkg/data.json")


def test_fingerprint_ignores_headers_and_whitespace() -> None:
    other = PATCH.replace("@@ -1,3 +1,3 @@", "@@ -10,3 +10,3 @@")
    other = other.replace("sum(values) - 0", "sum(values)  -  0")
    assert fingerprint(PATCH) == fingerprint(other)
    assert fingerprint(PATCH) != fingerprint(PATCH.replace("- 0", "* 0"))
    noisy = PATCH + "-    else:\n+    else:\n"  # a line a diff tool removed and added back
    assert fingerprint(noisy) == fingerprint(PATCH)
    assert fingerprint(PATCH + "\n\n") == fingerprint(PATCH)  # blank lines (a binary diff has them)


def _cand() -> Candidate:
    gold = PATCH.replace("-    return sum(values) + 0", "-    return sum(values) - 0 #").replace(
        "+    return sum(values) - 0", "+    return sum(values) + 0").replace(" #", "")
    return Candidate("mutate-fix", "d", "operators", "src/pkg/mod.py", "total", PATCH, gold)


def test_template_statement_names_failures_without_leaking_the_patch() -> None:
    messages = {"tests/test_mod.py::test_total": (
        "    def test_total():\n>       assert total([1, 2]) == 3\nE       assert -3 == 3\n"
        "src/pkg/mod.py:2: in total\n    return sum(values) - 0\nE   return sum(values) - 0 leaked\n")}
    text = template_statement(_cand(), ["tests/test_mod.py::test_total"], messages)
    assert "tests/test_mod.py::test_total" in text
    assert "assert -3 == 3" in text
    assert "sum(values)" not in text
    assert "1 test that used to pass now fails" in text
    stub = Candidate("implement-feature", "d", None, "src/pkg/mod.py", "total", PATCH, PATCH)
    assert "`total`" in template_statement(stub, ["t::a", "t::b"], {})


class _ScriptedModel(BaseHTTPRequestHandler):
    reply = ""

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"choices": [{"message": {"role": "assistant", "content": type(self).reply}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_ScriptedModel]]:
    server = HTTPServer(("127.0.0.1", 0), _ScriptedModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FORAGER_MODEL_URL", f"http://127.0.0.1:{server.server_address[1]}/v1")
    monkeypatch.setenv("FORAGER_MODEL_NAME", "scripted")
    reset_settings()
    yield _ScriptedModel
    server.shutdown()


def test_model_statement_is_used_unless_it_leaks(model_server: type[_ScriptedModel]) -> None:
    model_server.reply = "Totals are wrong: total([1, 2]) gives -3 instead of 3."
    assert model_statement(_cand(), ["t::a"], "template") == model_server.reply
    model_server.reply = "Change `return sum(values) - 0` back to a plus."
    assert model_statement(_cand(), ["t::a"], "template") is None


def test_model_statement_without_endpoint_or_with_a_dead_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert model_statement(_cand(), ["t::a"], "template") is None
    monkeypatch.setenv("FORAGER_MODEL_URL", "http://127.0.0.1:9/v1")
    reset_settings()
    assert model_statement(_cand(), ["t::a"], "template") is None


def test_bad_requests_give_clear_errors_not_crashes() -> None:
    res = generate("forager/nope:1", "mutate-fix", 1)
    assert res.tasks == [] and "no image" in (res.error or "")
    res = generate("forager/nope:1", "frobnicate", 1)
    assert "unknown kind" in (res.error or "")
    assert get_task("task-missing") is None and list_tasks() == []


# ------------------------------------------------------------------------------------- Docker
@pytest.fixture
def minipkg_home(minipkg_build, monkeypatch: pytest.MonkeyPatch) -> str:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FORAGER_HOME", str(minipkg_build.home))
    reset_settings()
    return str(minipkg_build.image)


def _check_task_in_fresh_container(runtime, task: db.Task, test_command: str) -> None:  # type: ignore[no-untyped-def]
    """Independently of the generator: the setup patch breaks FAIL_TO_PASS, the gold patch mends them."""
    with runtime.start(task.image_id) as box:
        box.put_files({"/tmp/setup.patch": task.setup_patch.encode(),
                       "/tmp/gold.patch": task.gold_patch.encode()})
        assert box.exec("git apply /tmp/setup.patch", 60, workdir="/repo").ok
        broken = run_tests(box, test_command, timeout=300, test_ids=task.fail_to_pass)
        assert all(broken.outcome(t) != "passed" for t in task.fail_to_pass)
        assert box.exec("git apply /tmp/gold.patch", 60, workdir="/repo").ok
        fixed = run_tests(box, test_command, timeout=300, test_ids=task.fail_to_pass + task.pass_to_pass)
        assert all(fixed.outcome(t) == "passed" for t in task.fail_to_pass + task.pass_to_pass)


def _test_command(image: str) -> str:
    with db.session() as s:
        img = s.get(db.Image, image)
        assert img is not None
        return img.test_command


@pytest.mark.docker
def test_mutate_fix_on_minipkg(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    lines = []
    res = generate(minipkg_home, "mutate-fix", 3, seed=1, on_task=lambda t: lines.append(t.id))
    assert res.error is None and len(res.tasks) == 3, res.summary()
    assert lines == [t["id"] for t in res.tasks]
    assert res.candidates >= 3 and all(d.reason for d in res.discarded)
    assert set(res.tasks[0]) >= {"id", "image", "kind", "fail_to_pass", "pass_to_pass_count",
                                 "problem_statement"}
    task = get_task(res.tasks[0]["id"])
    assert task is not None and task.kind == "mutate-fix" and task.family
    assert task.fail_to_pass and task.pass_to_pass and task.image_id == minipkg_home
    assert not set(task.fail_to_pass) & set(task.pass_to_pass)
    assert "tests/" in task.problem_statement and task.fingerprint
    assert task.setup_patch.count("\n-") + task.setup_patch.count("\n+") <= 20  # small, readable
    _check_task_in_fresh_container(runtime, task, _test_command(minipkg_home))
    # a second batch with the same seed finds the same candidates first and skips them as duplicates
    again = generate(minipkg_home, "mutate-fix", 1, seed=1, max_candidates=3)
    assert {t["id"] for t in again.tasks}.isdisjoint(t["id"] for t in res.tasks)
    assert any(d.reason.startswith("duplicate") for d in again.discarded)
    fps = [t.fingerprint for t in (get_task(x["id"]) for x in res.tasks + again.tasks) if t]
    assert len(fps) == len(set(fps))


@pytest.mark.docker
def test_implement_feature_on_minipkg(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    res = generate(minipkg_home, "implement-feature", 1)
    assert len(res.tasks) == 1, res.summary()
    task = get_task(res.tasks[0]["id"])
    assert task is not None
    assert "+    raise NotImplementedError" in task.setup_patch
    assert "NotImplementedError" in task.problem_statement and task.meta["function"] in task.problem_statement
    _check_task_in_fresh_container(runtime, task, _test_command(minipkg_home))


@pytest.mark.docker
def test_from_history_needs_history(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    res = generate(minipkg_home, "from-history", 1)
    assert res.tasks == [] and "no history" in (res.error or "")


@pytest.mark.docker
def test_hanging_or_broken_candidates_are_discarded(runtime, minipkg_home: str,  # type: ignore[no-untyped-def]
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORAGER_TEST_TIMEOUT_S", "15")
    reset_settings()
    with db.session() as s:
        img = s.get(db.Image, minipkg_home)
        assert img is not None
        command = img.test_command
        rows = s.query(db.TestResult).filter_by(build_id=img.build_id, outcome="passed")
        passed = [r.test_id for r in rows]
    calc = (Path(__file__).parent / "fixtures" / "minipkg" / "src" / "minipkg" / "calc.py").read_text()
    looping = calc.replace("    if not values:\n", "    while True:\n        pass\n    if not values:\n", 1)
    hang = unified_patch("src/minipkg/calc.py", calc, looping)
    ws = Workspace(minipkg_home, command, lambda _: None)
    try:
        baseline = Baseline(passed, {}, {}, 2.0)
        fields, reason = evaluate(ws, Candidate("mutate-fix", "hang", "function", setup_patch=hang,
                                                gold_patch="x\n", relevant_tests=passed[:2]), baseline, set())
        assert fields is None and reason.startswith("hangs"), reason
        fields, reason = evaluate(ws, Candidate("mutate-fix", "bad", "operators", setup_patch=PATCH,
                                                gold_patch=PATCH), baseline, set())
        assert fields is None and "does not apply" in reason
    finally:
        ws.remove()


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def history_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "histpkg"
    (repo / "src" / "histpkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        '[project]\nname = "histpkg"\nversion = "0.1"\n\n[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    (repo / "src" / "histpkg" / "__init__.py").write_text(
        'def greet(name):\n    return "hello " + name\n\n\ndef shout(text):\n    return text.upper()\n')
    (repo / "tests" / "test_greet.py").write_text(
        "from histpkg import greet\n\n\ndef test_greet():\n    assert greet('bob') == 'hello bob'\n")
    (repo / "tests" / "test_shout.py").write_text(
        "from histpkg import shout\n\n\ndef test_shout():\n    assert shout('a') == 'A'\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "greet and shout")
    (repo / "src" / "histpkg" / "__init__.py").write_text(
        'def greet(name):\n    return "Hello, " + name.title() + "!"\n\n\n'
        'def shout(text):\n    return text.upper()\n')
    (repo / "tests" / "test_greet.py").write_text(
        "from histpkg import greet\n\n\ndef test_greet():\n    assert greet('bob') == 'Hello, Bob!'\n\n\n"
        "def test_greet_two_words():\n    assert greet('ada king') == 'Hello, Ada King!'\n")
    _git(repo, "commit", "-qam", "Greet politely")
    (repo / "README.md").write_text("histpkg\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "-qm", "readme")
    return repo


@pytest.mark.docker
def test_from_history_on_a_git_repository(runtime, history_repo: Path) -> None:  # type: ignore[no-untyped-def]
    from forager.build.builder import build

    built = build(str(history_repo))
    assert built.status == "validated", built.error
    res = generate(built.image, "from-history", 3)
    assert len(res.tasks) == 1, res.summary()
    task = get_task(res.tasks[0]["id"])
    assert task is not None and task.kind == "from-history"
    assert task.fail_to_pass == ["tests/test_greet.py::test_greet",
                                 "tests/test_greet.py::test_greet_two_words"]
    assert task.pass_to_pass == ["tests/test_shout.py::test_shout"]
    assert "Hello, " in task.gold_patch and "test_greet_two_words" in task.test_patch
    assert "Greet politely" in task.problem_statement and "name.title()" not in task.problem_statement
    assert res.candidates == 1  # the README-only commit and the root commit are not candidates
    _check_task_in_fresh_container(runtime, task, built.test_command)


def test_workspace_replaces_a_stopped_container(minipkg_build: Any) -> None:
    from forager.tasks.generate import Workspace

    said: list[str] = []
    ws = Workspace(minipkg_build.image, minipkg_build.test_command, progress=said.append)
    try:
        old = ws.box
        assert old is not None
        old.kill()  # type: ignore[attr-defined]
        ws.reset()
        assert ws.box is not old and ws.sh("git status --short", 60).ok
        assert any("starting a new one" in s for s in said)
    finally:
        ws.remove()
