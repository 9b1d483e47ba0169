"""``forager tasks import FILE``: SWE-bench instances become Forager tasks, validated like any other.

Each row runs on an image of its repository (``resolve_images``): the image named by
``image_name``, else one of the same repository at ``base_commit``, else one built from
``--source REPO=SPEC`` at ``base_commit``, else (no mapping) one of the same repository at another
commit whose history holds ``base_commit``. The task state is ``base_commit`` with ``test_patch``
applied; for an exported Forager row whose ``base_commit`` is a state commit, ``setup_patch`` on
``environment_setup_commit`` makes it and the state commit's id is checked. A row is stored only
when, from the image's state, FAIL_TO_PASS fail and PASS_TO_PASS pass in the task state and all of
them pass with the gold ``patch``; every other row is reported with its reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from forager.build.testrun import TestRun
from forager.enums import TaskKind, TaskOrigin
from forager.errors import EngineError
from forager.runtime import Runtime, Sandbox, get_runtime
from forager.store.swebench_db import store_task, task_contents
from forager.tasks import swebench_git as g
from forager.tasks.errors import TaskError
from forager.tasks.fingerprint import fingerprint
from forager.tasks.swebench import SwebenchRow, parse_row, read_rows, row_label
from forager.tasks.swebench_images import ImagePlan, resolve_images
from forager.tasks.workspace import Workspace, WorkspaceConfig

Progress = Callable[[str], None]
SHOWN = 3
"""Test ids named in a rejection."""
ATTEMPTS = 3
"""Tries per row (and per workspace): a row whose container was lost is tried again."""


@dataclass
class RowOutcome:
    row: str
    """The row's instance_id (or its number when it has none)."""
    status: str
    """imported | duplicate | rejected"""
    reason: str = ""
    task_id: str | None = None
    image: str | None = None


@dataclass
class ImportResult:
    file: str
    outcomes: list[RowOutcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def summary(self) -> dict[str, Any]:
        return {"file": self.file, "rows": len(self.outcomes), "imported": self.count("imported"),
                "duplicate": self.count("duplicate"), "rejected": self.count("rejected"),
                "outcomes": [asdict(o) for o in self.outcomes]}


def _names(tests: list[str]) -> str:
    more = f" and {len(tests) - SHOWN} more" if len(tests) > SHOWN else ""
    return ", ".join(tests[:SHOWN]) + more


def _state_from_setup(ws: Workspace, row: SwebenchRow) -> str:
    """An exported Forager row: ``setup_patch`` on the image's HEAD must make ``base_commit``."""
    made = g.state_commit(ws.sandbox, ws.head, row.setup_patch, row.test_patch)
    if isinstance(made, str):
        raise ValueError(made)
    tree, commit = made
    if not commit.startswith(row.base_commit) and g.tree_of(ws.sandbox, row.base_commit) != tree:
        raise ValueError(f"base_commit {row.base_commit[:12]} is not the state setup_patch makes "
                         f"(that state's commit is {commit[:12]})")
    return row.setup_patch


def task_state(ws: Workspace, row: SwebenchRow) -> str:
    """The setup patch that turns the image's /repo into the task state (``base_commit`` with
    ``test_patch``); ValueError with the reason when there is none."""
    own_head = row.environment_setup_commit and ws.head.startswith(row.environment_setup_commit)
    if row.setup_patch.strip() and (own_head or not row.environment_setup_commit):
        return _state_from_setup(ws, row)
    box = ws.sandbox
    base = g.resolve(box, row.base_commit)
    if not base:
        raise ValueError(f"base_commit {row.base_commit[:12]} is not in the repository of {ws.image}")
    err = g.checkout(box, base) or g.apply(box, row.test_patch)
    if err:
        raise ValueError(f"test_patch does not apply at base_commit: {err}")
    diff = g.git(box, f"git diff --binary --no-renames {ws.head}", 300)
    if not diff.ok:
        raise ValueError(f"git diff failed: {diff.output[-300:]}")
    return diff.output


def _check_alive(ws: Workspace, what: str) -> None:
    """EngineError when the workspace's container was lost: a failure then says nothing of the row."""
    if not ws.alive():
        ws.suspect = True
        raise EngineError(f"the container of {ws.image} was lost ({what})")


def _run(ws: Workspace, tests: list[str]) -> TestRun:
    run = ws.run(tests)
    _check_alive(ws, "during the tests")
    return run


def _apply(ws: Workspace, patch: str) -> str | None:
    err = ws.apply(patch)
    if err:
        _check_alive(ws, f"git apply failed: {err[-200:]}")
    return err


def validate(ws: Workspace, setup: str, row: SwebenchRow) -> str | None:
    """From the image's state: FAIL_TO_PASS fail and PASS_TO_PASS pass with the setup patch, all
    pass with the gold patch too; the reason when not."""
    if set(row.FAIL_TO_PASS) & set(row.PASS_TO_PASS):
        return "a test is both in FAIL_TO_PASS and PASS_TO_PASS"
    ws.reset()
    err = _apply(ws, setup)
    if err:
        return f"the task state does not apply: {err}"
    tests = row.FAIL_TO_PASS + row.PASS_TO_PASS
    before = _run(ws, tests)
    if before.exec.timed_out:
        return "the tests timed out in the task state"
    passing = [t for t in row.FAIL_TO_PASS if before.outcome(t) == "passed"]
    if passing:
        return f"FAIL_TO_PASS passes before the gold patch: {_names(passing)}"
    failing = [t for t in row.PASS_TO_PASS if before.outcome(t) != "passed"]
    if failing:
        return f"PASS_TO_PASS does not pass in the task state: {_names(failing)}"
    err = _apply(ws, row.patch)
    if err:
        return f"the gold patch does not apply: {err}"
    after = _run(ws, tests)
    broken = [t for t in tests if after.outcome(t) != "passed"]
    if after.exec.timed_out or broken:
        return f"{len(broken)} test(s) do not pass with the gold patch: {_names(broken)}"
    return None


def _fields(row: SwebenchRow, setup: str, fp: str, ws: Workspace, source_file: str) -> dict[str, Any]:
    kind = row.kind if row.kind in set(TaskKind) else TaskKind.FROM_HISTORY
    return {
        "kind": kind, "family": None, "setup_patch": setup, "gold_patch": row.patch,
        "test_patch": row.test_patch, "fail_to_pass": row.FAIL_TO_PASS, "pass_to_pass": row.PASS_TO_PASS,
        "problem_statement": row.problem_statement, "fingerprint": fp,
        "meta": {"origin": TaskOrigin.IMPORTED, "instance_id": row.instance_id, "repo": row.repo,
                 "source_file": source_file, "base_commit": row.base_commit, "image_commit": ws.head,
                 "parent": row.base_commit,  # export names this commit again when it holds the state
                 "hints_text": row.hints_text, "version": row.version, "created_at": row.created_at,
                 "description": f"imported {row.instance_id}"[:200], "statement_source": "imported"},
    }


def task_key(setup: str, gold: str, fail_to_pass: list[str], pass_to_pass: list[str]) -> str:
    """Two tasks are the same when their setup and gold patches do the same and the same tests judge them."""
    parts = [fingerprint(setup), fingerprint(gold), *sorted(fail_to_pass), "", *sorted(pass_to_pass)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _import_row(ws: Workspace, row: SwebenchRow, seen: dict[str, str], source_file: str) -> RowOutcome:
    out = RowOutcome(row.instance_id, "rejected", image=ws.image)
    ws.reset()
    try:
        setup = task_state(ws, row)
    except ValueError as exc:
        _check_alive(ws, str(exc)[-200:])
        out.reason = str(exc)
        return out
    key = task_key(setup, row.patch, row.FAIL_TO_PASS, row.PASS_TO_PASS)
    if key in seen:
        out.status, out.task_id, out.reason = "duplicate", seen[key], f"same task as {seen[key]}"
        return out
    reason = validate(ws, setup, row)
    if reason:
        out.reason = reason
        return out
    out.task_id = store_task(ws.image, _fields(row, setup, fingerprint(setup), ws, source_file))
    out.status = "imported"
    seen[key] = out.task_id
    return out


class _ImportRuntime:
    """The configured runtime, whose containers say they belong to an import (``forager.role``),
    apart from task generation's."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def start(self, image: str, **kwargs: Any) -> Sandbox:
        kwargs["labels"] = {**(kwargs.get("labels") or {}), "forager.role": "swebench-import"}
        return self.runtime.start(image, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runtime, name)


def _attempt(ws: Workspace, row: SwebenchRow, seen: dict[str, str], source_file: str) -> RowOutcome:
    """One row; tried once more when its container was lost (the next reset replaces it)."""
    error = ""
    for _ in range(ATTEMPTS):
        try:
            return _import_row(ws, row, seen, source_file)
        except Exception as exc:  # noqa: BLE001 - one bad row never ends the import
            error = f"error: {type(exc).__name__}: {exc}"[:1000]
            ws.suspect = True
    return RowOutcome(row.instance_id, "rejected", error, image=ws.image)


def _run_image(plan: ImagePlan, result: ImportResult, source_file: str, log: Progress) -> None:
    """The rows planned on one image, in one workspace container."""
    img = plan.image
    assert img is not None
    ws: Workspace | None = None
    error = ""
    for _ in range(ATTEMPTS):
        try:
            ws = Workspace(img.id, img.test_command, log, (img.recipe or {}).get("env") or {},
                           WorkspaceConfig.from_settings(), runtime=cast(Runtime, _ImportRuntime(get_runtime())))
            break
        except (TaskError, EngineError) as exc:
            error = str(exc)
    if ws is None:
        result.outcomes += [RowOutcome(r.instance_id, "rejected", f"no workspace: {error}", image=img.id)
                            for r in plan.rows]
        return
    seen = {task_key(setup, gold, f2p, p2p): tid for tid, setup, gold, f2p, p2p in task_contents(img.id)}
    try:
        for row in plan.rows:
            outcome = _attempt(ws, row, seen, source_file)
            log(f"{outcome.status:9} {outcome.row}: {outcome.task_id or outcome.reason}")
            result.outcomes.append(outcome)
    finally:
        ws.remove()


def import_swebench(path: Path, sources: dict[str, str] | None = None,
                    progress: Progress | None = None) -> ImportResult:
    """Import every row of ``path`` (.jsonl, .json or .parquet); ``sources`` maps a row's ``repo``
    to a source Forager can build (git URL, local path, ``pypi:NAME==VERSION``)."""
    log = progress or (lambda _: None)
    result = ImportResult(str(path))
    rows: list[SwebenchRow] = []
    seen_ids: set[str] = set()
    for index, data in enumerate(read_rows(path)):
        label = row_label(data, index)
        parsed = parse_row(data) if not isinstance(data, str) else data
        if isinstance(parsed, str):
            result.outcomes.append(RowOutcome(label, "rejected", parsed))
        elif parsed.instance_id in seen_ids:
            result.outcomes.append(RowOutcome(label, "rejected", "instance_id repeated in the file"))
        else:
            seen_ids.add(parsed.instance_id)
            rows.append(parsed)
    for plan in resolve_images(rows, sources or {}, log) if rows else []:
        if plan.image is None:
            result.outcomes += [RowOutcome(r.instance_id, "rejected", plan.reason) for r in plan.rows]
        else:
            _run_image(plan, result, Path(path).name, log)
    return result
