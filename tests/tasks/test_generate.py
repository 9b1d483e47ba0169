"""Task generation end to end in real containers: the minipkg image (mutate-fix, implement-feature,
no history) and a small git repository with history (from-history); bad requests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tasks_samples import check_task_in_fresh_container as _check_task_in_fresh_container
from tasks_samples import image_test_command as _test_command
from tasks_samples import minipkg_home_fixture  # noqa: F401 - registers the minipkg_home fixture

from forager.store.tasks_db import get_task, list_tasks
from forager.tasks.generate import generate


def test_bad_requests_give_clear_errors_not_crashes() -> None:
    res = generate("forager/nope:1", "mutate-fix", 1)
    assert res.tasks == [] and "no image" in (res.error or "")
    res = generate("forager/nope:1", "frobnicate", 1)
    assert "unknown kind" in (res.error or "")
    assert get_task("task-missing") is None and list_tasks() == []


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
    # small and readable: one file, one hunk (a whole short body removed is one of the families)
    assert task.setup_patch.count("\n+++ ") == 1 and task.setup_patch.count("\n@@ ") == 1, task.setup_patch
    _check_task_in_fresh_container(runtime, task, _test_command(minipkg_home))
    # a second batch with the same seed finds the same candidates first and skips them as duplicates
    again = generate(minipkg_home, "mutate-fix", 1, seed=1, max_candidates=3)
    assert {t["id"] for t in again.tasks}.isdisjoint(t["id"] for t in res.tasks)
    # the kept call map carries the sources: nothing ran in the container before the first batch
    # (no traced run, no file listing, no reset), which started while the candidates were made
    phases = again.summary()["phases_s"]
    assert again.callmap_cached is True and "reset" not in phases and phases["container"] > 0, phases
    assert {"screen.exec", "screen.setup", "screen.candidates"} <= set(phases), phases
    assert any(d.reason.startswith("duplicate") for d in again.discarded)
    # the first generation's control runs were kept: the second judged on them
    # (other tests on the fixture image may have kept some before the first)
    assert again.controls_kept and again.controls_kept >= (res.controls_kept or 0), again.summary()
    assert again.controls_reused, again.summary()
    assert again.summary()["controls_reused"] == again.controls_reused
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


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                   check=True, capture_output=True)


@pytest.fixture
def history_repo(tmp_path: Path) -> Path:
    return make_history_repo(tmp_path)


def make_history_repo(tmp_path: Path, drift: bool = False) -> Path:
    """Four commits: greet and shout (with a test of wave, a module no commit changes), "Greet
    politely" (code and tests: the one candidate), a README, and tests only: a new test file of
    shout (not in the candidate's tree). With ``drift``, a test of shout in the first commit needs a
    dependency the image lacks (it does not collect in the candidate's tree) until the last one."""
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
    (repo / "src" / "histpkg" / "wave.py").write_text('def wave(name):\n    return "~ " + name\n')
    (repo / "tests" / "test_wave.py").write_text(
        "from histpkg.wave import wave\n\n\ndef test_wave():\n    assert wave('a') == '~ a'\n")
    if drift:
        (repo / "tests" / "test_shout_old.py").write_text(
            "import histpkg_gone_dependency\nfrom histpkg import shout\n\n\n"
            "def test_shout_old():\n    assert shout('b') == 'B'\n")
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
    if drift:
        (repo / "tests" / "test_shout_old.py").write_text(
            "from histpkg import shout\n\n\ndef test_shout_old():\n    assert shout('b') == 'B'\n")
    (repo / "tests" / "test_shout_more.py").write_text(
        "from histpkg import shout\n\n\ndef test_shout_twice():\n    assert shout(shout('c')) == 'C'\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "more tests of shout")
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
    # PASS_TO_PASS: the relevant tests, run with the gold patch: test_shout calls a function of the
    # file the commit changes (per the image's call map, traced in this run); test_wave calls none;
    # test_shout_more calls it too, but its file is not in the candidate's tree
    assert task.pass_to_pass == ["tests/test_shout.py::test_shout"]
    assert res.callmap_cached is False and "callmap" in res.summary()["phases_s"]
    assert "call map" in task.meta["established"]["pass_after_gold"]
    assert "Hello, " in task.gold_patch and "test_greet_two_words" in task.test_patch
    assert "Greet politely" in task.problem_statement and "name.title()" not in task.problem_statement
    assert res.candidates == 1  # the README-only commit and the root commit are not candidates
    _check_task_in_fresh_container(runtime, task, built.test_command)


@pytest.mark.docker
def test_from_history_without_a_call_map_runs_the_whole_suite(runtime, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from forager.build.builder import build
    from forager.tasks import callmap
    from forager.tasks.errors import TaskError

    def fails(*_: object) -> None:
        raise TaskError("the tracer got in the way")

    monkeypatch.setattr(callmap, "collect_baseline", fails)
    built = build(str(make_history_repo(tmp_path)))
    assert built.status == "validated", built.error
    res = generate(built.image, "from-history", 1)
    assert len(res.tasks) == 1, res.summary()
    task = get_task(res.tasks[0]["id"])
    assert task is not None  # every other test that passes in the whole suite with the gold patch
    assert task.pass_to_pass == ["tests/test_shout.py::test_shout", "tests/test_wave.py::test_wave"]
    assert "whole suite" in task.meta["established"]["pass_after_gold"]
    _check_task_in_fresh_container(runtime, task, built.test_command)


@pytest.mark.docker
def test_from_history_drops_a_commit_whose_tree_does_not_collect(tmp_path: Path) -> None:
    """The judge runs FAIL_TO_PASS and PASS_TO_PASS through the test command, which collects the
    whole test path: a test file of the commit's tree that does not collect (a dependency the image
    lacks) stops that run, so the commit is no task, however its relevant tests run."""
    from forager.build.builder import build

    built = build(str(make_history_repo(tmp_path, drift=True)))
    assert built.status == "validated", built.error
    res = generate(built.image, "from-history", 1)
    assert res.tasks == [] and res.candidates == 1, res.summary()
    assert "does not collect" in res.discarded[0].reason and "histpkg_gone_dependency" in res.discarded[0].reason
