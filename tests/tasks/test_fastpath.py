"""The fast path end to end in real containers of the minipkg image: tasks that hold under full
fresh runs in both states (``verify``), the session runner agreeing with fresh pytest processes,
hanging candidates ended, combined and model-rewrite tasks, behavioural duplicates, export."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest
from fake_model import FakeModel
from tasks_samples import minipkg_home_fixture  # noqa: F401 - registers the minipkg_home fixture

from forager.config import reset_settings
from forager.store import db
from forager.store.tasks_db import get_task
from forager.tasks.baseline import collect_baseline, covered_functions, load_image
from forager.tasks.candidates import Candidate, mutation_candidates
from forager.tasks.export import ExportFilter, export_tasks
from forager.tasks.fastrun import Runner, files_of
from forager.tasks.generate import generate
from forager.tasks.mutations import unified_patch
from forager.tasks.screen import Screen
from forager.tasks.verify import verify
from forager.tasks.workspace import Workspace

FIXTURES = Path(__file__).parent.parent / "fixtures"
CALC = (FIXTURES / "minipkg" / "src" / "minipkg" / "calc.py").read_text()


@pytest.mark.docker
def test_fast_tasks_hold_under_full_fresh_runs(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    res = generate(minipkg_home, "mutate-fix", 4, seed=2)
    assert res.error is None and len(res.tasks) == 4, res.summary()
    ids = [t["id"] for t in res.tasks]
    for tid in ids:
        task = get_task(tid)
        assert task is not None
        meta = task.meta
        assert meta["fail_to_pass_count"] == len(task.fail_to_pass) > 0
        assert meta["files_changed"] == 1 and meta["lines_changed"] >= 1
        assert meta["call_depth"] in (1, 2) and meta["family"] == task.family
        assert meta["contaminated"] is False and len(meta["behaviour"]) == 64
        assert set(task.fail_to_pass).isdisjoint(task.pass_to_pass)
    report = verify(0, ids=ids)
    assert report["checked"] == 4 and report["disagreements"] == 0, report
    # a task whose FAIL_TO_PASS names a test the bug does not break is caught
    task = get_task(ids[0])
    assert task is not None
    with db.session() as s:
        bad = db.Task(image_id=task.image_id, kind=task.kind, setup_patch=task.setup_patch,
                      gold_patch=task.gold_patch, fail_to_pass=[*task.fail_to_pass, *task.pass_to_pass[:1]],
                      pass_to_pass=task.pass_to_pass[1:], meta={})
        s.add(bad)
    report = verify(0, ids=[bad.id])
    assert report["disagreements"] == 1 and report["verdicts"][0]["f2p_not_failing"] == task.pass_to_pass[:1]


def _workspace(image: str) -> tuple[Workspace, Runner, object]:
    img, passed, durations = load_image(image)
    ws = Workspace(img.id, img.test_command, lambda _: None, (img.recipe or {}).get("env") or {})
    baseline = collect_baseline(ws, passed, durations)
    return ws, Runner(ws, list((img.recipe or {}).get("test_paths") or [])), baseline


@pytest.mark.docker
def test_session_runner_agrees_with_fresh_processes(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    ws, runner, baseline = _workspace(minipkg_home)
    try:
        sources, functions = covered_functions(ws, baseline)  # type: ignore[arg-type]
        cands = [c for c in islice(mutation_candidates(sources, functions, 0), 40) if c.swap][:10]
        assert len(cands) == 10
        ws.reset()
        fast, slow = Screen(runner, baseline, 60), Screen(runner, baseline, 60, session=False)  # type: ignore[arg-type]
        a, b = fast.judge(cands), slow.judge(cands)
        assert fast.fallbacks == 0
        summary = [(v if isinstance(v, str) else v.fail_to_pass) for v in a]
        assert summary == [(v if isinstance(v, str) else v.fail_to_pass) for v in b]
        assert any(not isinstance(v, str) for v in a)
        assert ws.sh("git status --porcelain", 30).output.strip() == ""  # every probe left /repo clean
    finally:
        ws.remove()


@pytest.mark.docker
def test_a_serving_session_judges_batch_after_batch(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    """A session collected once serves batch after batch with the verdicts of a session per batch;
    a candidate that kills the session's process costs that session, never a verdict: the batch goes
    the plain way and the killer is discarded."""
    ws, runner, baseline = _workspace(minipkg_home)
    try:
        sources, functions = covered_functions(ws, baseline)  # type: ignore[arg-type]
        cands = [c for c in islice(mutation_candidates(sources, functions, 0), 40) if c.swap][:8]
        ws.reset()
        reference = Screen(runner, baseline, 60).judge(cands)  # type: ignore[arg-type]
        runner.open_session(files_of(baseline.passed))  # type: ignore[attr-defined]
        screen = Screen(runner, baseline, 60)  # type: ignore[arg-type]
        served = screen.judge(cands[:4]) + screen.judge(cands[4:])
        assert runner._serving is not None and runner._serving.batches == 2
        assert [(v if isinstance(v, str) else v.fail_to_pass) for v in served] == [
            (v if isinstance(v, str) else v.fail_to_pass) for v in reference]
        killing = CALC.replace('    if not values:\n',
                               '    import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n'
                               '    if not values:\n', 1)
        killer = Candidate("mutate-fix", "kills its runner", "function", "src/minipkg/calc.py", "mean",
                           unified_patch("src/minipkg/calc.py", CALC, killing),
                           unified_patch("src/minipkg/calc.py", killing, CALC),
                           relevant_tests=["tests/test_calc.py::test_mean"], swap=[("src/minipkg/calc.py", "mean")])
        after = Screen(runner, baseline, 60).judge([killer, *cands[:3]])  # type: ignore[arg-type]
        assert isinstance(after[0], str), after[0]
        assert [(v if isinstance(v, str) else v.fail_to_pass) for v in after[1:]] == [
            (v if isinstance(v, str) else v.fail_to_pass) for v in reference[:3]]
        assert runner._serving is None  # the dead session is not asked again
        assert ws.sh("git status --porcelain", 30).output.strip() == ""
    finally:
        ws.remove()


@pytest.mark.docker
def test_two_workers_judge_as_one(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    """The traced run split over two containers gives the map of one run; candidates spread over two
    runners get the verdicts one runner gives, and both runners took a share."""
    ws, runner, baseline = _workspace(minipkg_home)
    img, _, _ = load_image(minipkg_home)
    other = Workspace(img.id, img.test_command, lambda _: None, (img.recipe or {}).get("env") or {})
    try:
        split = collect_baseline([ws, other], baseline.passed, baseline.durations)  # type: ignore[attr-defined]
        assert split.passed == baseline.passed and split.sources == baseline.sources  # type: ignore[attr-defined]
        assert {k: sorted(v) for k, v in split.callers.items()} == {
            k: sorted(v) for k, v in baseline.callers.items()}  # type: ignore[attr-defined]
        assert split.depth == baseline.depth and split.import_time == baseline.import_time  # type: ignore[attr-defined]
        sources, functions = covered_functions(ws, baseline)  # type: ignore[arg-type]
        cands = [c for c in islice(mutation_candidates(sources, functions, 0), 40) if c.swap][:10]
        ws.reset()
        other.reset()
        one = Screen(runner, baseline, 60).judge(cands)  # type: ignore[arg-type]
        second = Runner(other, list((img.recipe or {}).get("test_paths") or []))
        two = Screen(runner, baseline, 60, workers=[second]).judge(cands)  # type: ignore[arg-type]
        assert [(v if isinstance(v, str) else v.fail_to_pass) for v in one] == [
            (v if isinstance(v, str) else v.fail_to_pass) for v in two]
        assert second._installed == other.sandbox.id  # the second container judged a share
        for w in (ws, other):
            assert w.sh("git status --porcelain", 30).output.strip() == ""
    finally:
        other.remove()
        ws.remove()


@pytest.mark.docker
def test_hanging_and_broken_candidates_in_the_session(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    ws, runner, baseline = _workspace(minipkg_home)
    try:
        looping = CALC.replace("    if not values:\n", "    while True:\n        pass\n    if not values:\n", 1)
        hang = Candidate("mutate-fix", "hang", "function", "src/minipkg/calc.py", "mean",
                         unified_patch("src/minipkg/calc.py", CALC, looping),
                         unified_patch("src/minipkg/calc.py", looping, CALC),
                         relevant_tests=["tests/test_calc.py::test_mean"], swap=[("src/minipkg/calc.py", "mean")])
        wrong = Candidate("mutate-fix", "no apply", "function", "src/minipkg/calc.py", "mean",
                          hang.setup_patch.replace("raise ValueError", "raise KeyError"), hang.gold_patch,
                          relevant_tests=hang.relevant_tests, swap=hang.swap)
        ws.reset()
        verdicts = Screen(runner, baseline, 5).judge([hang, wrong])  # type: ignore[arg-type]
        assert isinstance(verdicts[0], str) and verdicts[0].startswith("hangs"), verdicts
        # with a long budget for the whole run, the hanging test is stopped at its own limit
        screen = Screen(runner, baseline, 600)  # type: ignore[arg-type]
        probe = screen._probe(hang)
        assert probe.test_limit < 20 <= probe.timeout
        verdict = screen.judge([hang])[0]
        assert verdict == f"hangs the tests: timed out after {probe.test_limit:.0f}s", verdict
        assert isinstance(verdicts[1], str) and "does not apply" in verdicts[1]
        assert ws.sh("git status --porcelain", 30).output.strip() == ""
    finally:
        ws.remove()


@pytest.mark.docker
def test_combined_tasks_join_validated_bugs(runtime, minipkg_home: str) -> None:  # type: ignore[no-untyped-def]
    res = generate(minipkg_home, "combined", 1, seed=0)
    assert res.error is None and len(res.tasks) == 1, res.summary()
    task = get_task(res.tasks[0]["id"])
    assert task is not None and task.kind == "combined"
    parts = task.meta["parts"]
    assert 2 <= len(parts) <= 4 and task.family == f"{len(parts)} bugs"
    assert len({p.split(": ", 1)[0] + p.rsplit(" ", 1)[-1] for p in parts}) == len(parts)
    assert verify(0, ids=[task.id])["disagreements"] == 0


WRONG_MEAN = "```python\ndef mean(values):\n    \"\"\"Arithmetic mean.\"\"\"\n    return 0\n```"


@pytest.mark.docker
def test_model_rewrite_through_the_scripted_server(runtime, minipkg_home: str,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    res = generate(minipkg_home, "model-rewrite", 1)
    assert res.tasks == [] and "FORAGER_MODEL_URL" in (res.error or "")
    with FakeModel([{"content": WRONG_MEAN}] * 12) as fake:
        monkeypatch.setenv("FORAGER_MODEL_URL", fake.url)
        reset_settings()
        res = generate(minipkg_home, "model-rewrite", 1)
        prompts = [r["body"]["messages"][0]["content"] for r in fake.requests]
    assert res.error is None and len(res.tasks) == 1, res.summary()
    task = get_task(res.tasks[0]["id"])
    assert task is not None and task.kind == "model-rewrite" and task.meta["function"] == "mean"
    assert "+    return 0" in task.setup_patch and "tests/test_calc.py::test_mean" in task.fail_to_pass
    assert any('"""Arithmetic mean of a non-empty sequence."""' in p for p in prompts)
    assert all("return sum(values)" not in p for p in prompts)  # the body is never shown
    assert verify(0, ids=[task.id])["disagreements"] == 0


@pytest.mark.docker
def test_behavioural_duplicates_and_export_filters(runtime, minipkg_home: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = generate(minipkg_home, "mutate-fix", 40, seed=0, max_candidates=60)
    summary = res.summary()
    assert summary["behaviour_duplicates"] >= 1, summary
    keys = [get_task(t["id"]).meta["behaviour"] for t in res.tasks]  # type: ignore[union-attr]
    assert len(keys) == len(set(keys))
    assert sum(summary["discard_reasons"].values()) + summary["validated"] == summary["candidates"]
    out = tmp_path / "tasks.jsonl"
    count = export_tasks(str(out), ExportFilter(kind="mutate-fix"))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == len(rows) and {t["id"] for t in res.tasks} <= {r["id"] for r in rows}
    assert {"lines_changed", "files_changed", "fail_to_pass_count", "call_depth", "contaminated"} <= set(rows[0])
    most = max(r["fail_to_pass_count"] for r in rows)
    assert export_tasks(str(out), ExportFilter(kind="mutate-fix", min_fail_to_pass=most)) == sum(
        r["fail_to_pass_count"] >= most for r in rows)
    with db.session() as s:
        for t in s.query(db.Task).all():
            t.meta = {**t.meta, "contaminated": True}
    assert export_tasks(str(out), ExportFilter(exclude_contaminated=True)) == 0
