"""Re-check stored tasks the slow, independent way: per task two fresh containers of its image
(network off), the whole suite in each, no call map and no baseline. In the task state (setup patch
applied) every FAIL_TO_PASS test must fail; with the gold patch applied after it, every
FAIL_TO_PASS and PASS_TO_PASS test must pass. A task for which either does not hold is a
disagreement: the evidence that the fast path's shortcuts are sound is a sample with none."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from forager.build.testrun import TestRun, run_tests
from forager.config import get_settings
from forager.owner import OWNER_LABEL, this_process
from forager.runtime import Limits, get_runtime
from forager.store import db


@dataclass
class Verdict:
    task: str
    kind: str
    f2p_not_failing: list[str] = field(default_factory=list)
    """FAIL_TO_PASS tests that pass in the task state."""
    not_passing_after_gold: list[str] = field(default_factory=list)
    p2p_failing_in_task_state: int = 0
    """PASS_TO_PASS tests that also fail in the task state (allowed; reported)."""
    error: str = ""

    @property
    def agrees(self) -> bool:
        return not (self.f2p_not_failing or self.not_passing_after_gold or self.error)


def _full_run(image: db.Image, patches: list[str]) -> TestRun | str:
    """The whole suite in a fresh container of ``image`` with ``patches`` applied in turn."""
    s = get_settings()
    env = {str(k): str(v) for k, v in ((image.recipe or {}).get("env") or {}).items()}
    labels = {"forager.role": "tasks-verify", OWNER_LABEL: this_process()}
    with get_runtime().start(image.id, limits=Limits.from_settings(network=False, settings=s),
                             env={"PYTHONDONTWRITEBYTECODE": "1"}, labels=labels) as box:
        for i, patch in enumerate(patches):
            box.put_files({f"/tmp/forager-verify-{i}.patch": patch.encode()})
            res = box.exec(f"git apply --whitespace=nowarn /tmp/forager-verify-{i}.patch", 120, workdir="/repo")
            if not res.ok:
                return f"patch {i + 1} does not apply: {res.output[-300:]}"
        return run_tests(box, image.test_command, timeout=float(s.test_timeout_s), env=env or None)


def verify_task(task: db.Task, image: db.Image) -> Verdict:
    verdict = Verdict(task.id, task.kind)
    broken = _full_run(image, [task.setup_patch])  # a from-history setup patch carries the tests
    fixed = _full_run(image, [task.setup_patch, task.gold_patch])
    for run in (broken, fixed):
        if isinstance(run, str):
            verdict.error = run
            return verdict
        if run.exec.timed_out:
            verdict.error = "the suite timed out"
            return verdict
    assert isinstance(broken, TestRun) and isinstance(fixed, TestRun)
    verdict.f2p_not_failing = [t for t in task.fail_to_pass if broken.outcome(t) == "passed"]
    verdict.not_passing_after_gold = [t for t in task.fail_to_pass + task.pass_to_pass
                                      if fixed.outcome(t) != "passed"]
    verdict.p2p_failing_in_task_state = sum(1 for t in task.pass_to_pass if broken.outcome(t) != "passed")
    return verdict


def sample_tasks(sample: int, image: str | None = None, kind: str | None = None,
                 seed: int = 0, ids: list[str] | None = None) -> list[tuple[db.Task, db.Image]]:
    """A seeded sample of stored tasks (all of ``ids`` when given) with their images (detached)."""
    with db.session() as s:
        q = select(db.Task)
        if ids:
            q = q.where(db.Task.id.in_(ids))
        if image:
            q = q.where(db.Task.image_id.startswith(image))
        if kind:
            q = q.where(db.Task.kind == kind)
        tasks = list(s.scalars(q.order_by(db.Task.id)).all())
        chosen = tasks if ids else random.Random(seed).sample(tasks, min(sample, len(tasks)))
        out = []
        for t in chosen:
            img = s.get(db.Image, t.image_id)
            if img is not None:
                s.expunge(t)
                s.expunge(img)
                out.append((t, img))
        return out


def verify(sample: int, image: str | None = None, kind: str | None = None, seed: int = 0,
           ids: list[str] | None = None, progress: Any = None) -> dict[str, Any]:
    """Verdicts on a sample and the disagreement count."""
    verdicts = []
    for task, img in sample_tasks(sample, image, kind, seed, ids):
        v = verify_task(task, img)
        verdicts.append(v)
        if progress:
            progress(f"{'agrees  ' if v.agrees else 'DISAGREES'} {task.id} {task.kind} "
                     f"F2P {len(task.fail_to_pass)} {v.error or ''}".rstrip())
    return {"checked": len(verdicts), "disagreements": sum(not v.agrees for v in verdicts),
            "p2p_failing_in_task_state": sum(v.p2p_failing_in_task_state for v in verdicts),
            "verdicts": [v.__dict__ | {"agrees": v.agrees} for v in verdicts]}
