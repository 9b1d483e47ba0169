"""One candidate through the keep/discard rules, in the workspace.

A mutation or stub is kept when previously passing tests now fail and the suite still collects (a
first look at the tests that call the function when that is much cheaper than the whole baseline);
a past commit when some tests of the files it touches fail before its code change and pass after
(its FAIL_TO_PASS); its PASS_TO_PASS are the relevant tests that pass with the code change, from a
real run of them there: the touched files' other tests and the image's passing tests that, per the
image's call map, call a file the change touches (the whole suite when there is no map). Duplicates
(the setup patch's fingerprint) are discarded. A kept candidate is validated from the image state:
setup patch, gold patch, and every FAIL_TO_PASS and PASS_TO_PASS test must pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from forager.build.testrun import TestRun
from forager.enums import TaskKind
from forager.model import Model
from forager.paths import is_test_like_path
from forager.tasks.baseline import Baseline, timeout_for
from forager.tasks.candidates import Candidate, prepare_history
from forager.tasks.fastrun import Probe, ProbeResult, Runner
from forager.tasks.fingerprint import fingerprint
from forager.tasks.statements import model_statement, template_statement
from forager.tasks.workspace import Workspace


@dataclass
class Judged:
    """What the tests said about a kept candidate."""

    fail_to_pass: list[str]
    pass_to_pass: list[str]
    messages: dict[str, str]
    """Failure text per FAIL_TO_PASS test, for the statement."""
    whole_suite: bool = False
    """From-history: PASS_TO_PASS came from a whole-suite run (no call map to pick the relevant tests)."""


def _failed(run: TestRun, tests: list[str]) -> list[str]:
    return [t for t in tests if run.outcome(t) != "passed"]


def _judge_history(ws: Workspace, cand: Candidate, baseline: Baseline) -> Judged | str:
    """The whole suite in the task state, then with the gold patch."""
    before = ws.run(None, timeout_for(baseline, None))
    if before.exec.timed_out:
        return "test suite timed out in the task state"
    err = ws.apply(cand.gold_patch)
    if err:
        return f"gold patch does not apply: {err}"
    after = ws.run(None, timeout_for(baseline, None))
    if after.exec.timed_out:
        return "test suite timed out with the gold patch"
    fail_to_pass = sorted(t for t in after.passed if before.outcome(t) != "passed")
    pass_to_pass = sorted(t for t in after.passed if before.outcome(t) == "passed")
    if not fail_to_pass:
        return "no test fails before and passes after"
    messages = {t: before.results[t].message for t in fail_to_pass if t in before.results}
    if not messages:  # tests missing before: their file did not collect; show why
        why = " ".join(e.message for e in before.collection_errors)[-1000:]
        messages = {t: why for t in fail_to_pass}
    return Judged(fail_to_pass, pass_to_pass, messages)


def _touched_tests(cand: Candidate) -> list[str]:
    """The Python test files a from-history candidate's test patch changes (and that still exist)."""
    lines = cand.test_patch.splitlines()
    files = [line.split(" b/", 1)[-1] for line in lines if line.startswith("diff --git")]
    deleted = {line[6:] for line in lines if line.startswith("--- a/")} - {
        line[6:] for line in lines if line.startswith("+++ b/")}
    return [f for f in dict.fromkeys(files) if f.endswith(".py") and is_test_like_path(f)
            and f not in deleted and f.rsplit("/", 1)[-1] not in ("conftest.py", "__init__.py")]


def _screen_history(runner: Runner, cand: Candidate, baseline: Baseline) -> tuple[ProbeResult, ProbeResult] | str:
    """The test files the commit touches, in one exec: in the task state (some test there must
    fail), then with the gold patch applied (some of those must pass); both runs."""
    touched = _touched_tests(cand)
    if not touched:
        return "no test file of the commit to run"
    timeout = timeout_for(baseline, None)
    before, fixed = runner.run([Probe([], timeout, files=touched, keep=True),
                                Probe([], timeout, patch=cand.gold_patch, files=touched, keep=True)])
    if not before.ran or before.timed_out:
        return "test suite timed out in the task state" if before.timed_out else f"error: {before.error}"
    if all(r.outcome == "passed" for r in before.results.values()) and not before.collection:
        return "no test the commit touches fails before its code change"
    if not fixed.applied:
        return f"gold patch does not apply: {fixed.error}"
    if not fixed.ran or fixed.timed_out:
        return "touched tests timed out with the gold patch" if fixed.timed_out else f"error: {fixed.error}"
    return before, fixed


def patched_files(patch: str) -> list[str]:
    """The paths a unified diff changes (old and new names), in first-seen order."""
    paths = re.findall(r"^diff --git a/(\S+) b/(\S+)$", patch, re.M)
    return list(dict.fromkeys(p for pair in paths for p in pair))


def relevant_tests(cand: Candidate, baseline: Baseline) -> list[str]:
    """The image's passing tests that, per its call map, call some function of a file the gold
    patch changes (any function of the file, at-import ones included: the map is keyed by the
    image's lines, not the commit's)."""
    changed = set(patched_files(cand.gold_patch))
    return sorted({t for (path, _), tests in baseline.callers.items() if path in changed for t in tests})


def _gold_runs(ws: Workspace, runner: Runner, cand: Candidate, baseline: Baseline, touched: set[str],
               fixed: ProbeResult, fail_to_pass: list[str]) -> Judged | str:
    """FAIL_TO_PASS and PASS_TO_PASS of a history candidate, /repo in its gold state. With a call
    map: one run as the judge runs them (the test command's paths collected whole, a selection run)
    of the FAIL_TO_PASS and the relevant tests of other files (``relevant_tests``): the suite must
    collect and FAIL_TO_PASS pass there; PASS_TO_PASS are the touched files' tests that passed with
    the gold patch (``fixed``) and the relevant tests that pass. Without a map, the whole suite once,
    every test that passes in it."""
    if not baseline.callers:
        after = ws.run(None, timeout_for(baseline, None))
        if after.exec.timed_out:
            return "test suite timed out with the gold patch"
        passed = set(after.passed)
        fail_to_pass = [t for t in fail_to_pass if t in passed]
        if not fail_to_pass:
            return "no test fails before and passes after"
        return Judged(fail_to_pass, sorted(passed - set(fail_to_pass)), {}, whole_suite=True)
    others = [t for t in relevant_tests(cand, baseline) if t.split("::", 1)[0] not in touched]
    selected = fail_to_pass + others
    res = runner.run([Probe(selected, timeout_for(baseline, selected), files=list(runner.test_paths), keep=True)])[0]
    if not res.ran or res.timed_out:
        return "relevant tests timed out with the gold patch" if res.timed_out else f"error: {res.error}"
    if res.collection:  # pytest stops at a collection error: the judge's run would too
        return f"the suite does not collect with the gold patch: {res.collection[0][-300:]}"
    fail_to_pass = [t for t in fail_to_pass if res.outcome(t) == "passed"]
    if not fail_to_pass:
        return "no test fails before and passes after (with the suite collected whole)"
    passed = {t for t, r in fixed.results.items() if r.outcome == "passed"}
    passed |= {t for t in others if res.outcome(t) == "passed"}
    return Judged(fail_to_pass, sorted(passed - set(fail_to_pass)), {})


def history_verdict(ws: Workspace, runner: Runner, cand: Candidate, baseline: Baseline,
                    seen: set[str]) -> Judged | str:
    """A from-history candidate screened by the tests its commit touches (a real run in the task
    state, and again with the gold patch: one must fail before and pass after; those are its
    FAIL_TO_PASS). PASS_TO_PASS come from real runs in the gold state too: the touched files' other
    passing tests, and the image's passing tests that call a file the gold patch changes (per the
    call map, run once more with the gold patch as the judge runs tests, the whole suite collected;
    those that pass there). Without a call map, the whole suite runs once with the gold patch
    instead and every other passing test counts."""
    ws.reset()
    reason = prepare_history(ws, cand)
    if reason:
        return reason
    if fingerprint(cand.setup_patch) in seen:
        return "duplicate of an earlier task"
    if not cand.setup_patch.strip() or not cand.gold_patch.strip():
        return "empty patch"
    screened = _screen_history(runner, cand, baseline)
    if isinstance(screened, str):
        return screened
    before, fixed = screened
    touched = set(_touched_tests(cand))
    fail_to_pass = sorted(t for t, r in fixed.results.items()
                          if r.outcome == "passed" and before.outcome(t) != "passed")
    if not fail_to_pass:
        return "no test fails before and passes after"
    judged = _gold_runs(ws, runner, cand, baseline, touched, fixed, fail_to_pass)
    if isinstance(judged, str):
        return judged
    judged.messages = {t: before.results[t].message for t in judged.fail_to_pass if t in before.results}
    if not judged.messages:  # tests missing before: their file did not collect; show why
        judged.messages = {t: " ".join(before.collection)[-1000:] for t in judged.fail_to_pass}
    return judged


def _first_look(ws: Workspace, cand: Candidate, baseline: Baseline) -> str | None:
    """Run only the tests that call the changed function when that is much cheaper than the whole
    baseline; the reason to discard the candidate already, if any."""
    quick_ids = cand.relevant_tests or baseline.passed
    suite_s = sum(baseline.durations.get(t, 0.0) for t in baseline.passed)
    if len(quick_ids) * 2 > len(baseline.passed) or suite_s <= 5:
        return None
    quick = ws.run(quick_ids, timeout_for(baseline, quick_ids))
    if quick.exec.timed_out:
        return f"hangs the tests: timed out after {quick.exec.duration_s:.0f}s"
    if quick.collection_errors:
        return "the suite no longer collects"
    if not _failed(quick, quick_ids):
        return "no test fails"
    return None


def _judge_injected(ws: Workspace, cand: Candidate, baseline: Baseline) -> Judged | str:
    """The setup patch applied: which baseline tests now fail."""
    err = ws.apply(cand.setup_patch)
    if err:
        return f"setup patch does not apply: {err}"
    reason = _first_look(ws, cand, baseline)
    if reason:
        return reason
    full = ws.run(baseline.passed, timeout_for(baseline, None))
    if full.exec.timed_out:
        return f"hangs the suite: timed out after {full.exec.duration_s:.0f}s"
    if full.collection_errors:
        return "the suite no longer collects"
    fail_to_pass = _failed(full, baseline.passed)
    pass_to_pass = [t for t in baseline.passed if t not in set(fail_to_pass)]
    if not fail_to_pass:
        return "no test fails"
    messages = {t: full.results[t].message for t in fail_to_pass if t in full.results}
    return Judged(fail_to_pass, pass_to_pass, messages)


def _validate(ws: Workspace, cand: Candidate, judged: Judged, baseline: Baseline) -> str | None:
    """From the image's state, setup patch then gold patch: every judged test must pass."""
    ws.reset()
    for label, patch in (("setup", cand.setup_patch), ("gold", cand.gold_patch)):
        err = ws.apply(patch)  # plain `git apply`, as any consumer of the task would
        if err:
            return f"validation: {label} patch does not apply: {err}"
    judged_tests = judged.fail_to_pass + judged.pass_to_pass
    check = ws.run(judged_tests, timeout_for(baseline, None))
    broken = _failed(check, judged_tests)
    if check.exec.timed_out or broken:
        return f"validation failed: {len(broken)} test(s) do not pass with the gold patch"
    return None


def _task_fields(ws: Workspace, cand: Candidate, judged: Judged, fp: str,
                 writer: Model | None) -> dict[str, Any]:
    """The columns of the task row."""
    template = template_statement(cand, judged.fail_to_pass, judged.messages)
    statement = model_statement(cand, judged.fail_to_pass, template, writer) if writer else None
    return {
        "kind": cand.kind, "family": cand.family, "setup_patch": cand.setup_patch,
        "gold_patch": cand.gold_patch, "test_patch": cand.test_patch, "fail_to_pass": judged.fail_to_pass,
        "pass_to_pass": judged.pass_to_pass, "problem_statement": statement or template, "fingerprint": fp,
        "meta": {"description": cand.description, "path": cand.path, "function": cand.function,
                 "commit": cand.commit, "parent": cand.parent, "base_commit": ws.head,
                 "statement_source": "model" if statement else "template"},
    }


def evaluate(ws: Workspace, cand: Candidate, baseline: Baseline, seen: set[str],
             writer: Model | None = None) -> tuple[dict[str, Any] | None, str]:
    """Run one candidate; the task fields when it validates (its fingerprint then added to
    ``seen``), else the reason to discard it. ``writer`` writes the statement (None: the template)."""
    ws.reset()
    if cand.kind == TaskKind.FROM_HISTORY:
        reason = prepare_history(ws, cand)
        if reason:
            return None, reason
    fp = fingerprint(cand.setup_patch)
    if fp in seen:
        return None, "duplicate of an earlier task"
    if not cand.setup_patch.strip() or not cand.gold_patch.strip():
        return None, "empty patch"
    judge = _judge_history if cand.kind == TaskKind.FROM_HISTORY else _judge_injected
    judged = judge(ws, cand, baseline)
    if isinstance(judged, str):
        return None, judged
    reason = _validate(ws, cand, judged, baseline)
    if reason:
        return None, reason
    seen.add(fp)
    return _task_fields(ws, cand, judged, fp, writer), ""
