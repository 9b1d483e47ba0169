"""Re-check stored tasks the slow, independent way: per task two fresh containers of its image
(network off), the whole suite in each, no call map and no baseline. In the task state (setup patch
applied) every FAIL_TO_PASS test must fail; with the gold patch applied after it, every
FAIL_TO_PASS and PASS_TO_PASS test must pass. A task for which either does not hold is a
disagreement: the evidence that the fast path's shortcuts are sound is a sample with none."""

from __future__ import annotations

import random
import shlex
from collections.abc import Callable
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
    gold_state: str = "its own fresh run"
    unchecked: int = 0
    """FAIL_TO_PASS and PASS_TO_PASS tests in excluded paths (run in neither state)."""

    @property
    def agrees(self) -> bool:
        return not (self.f2p_not_failing or self.not_passing_after_gold or self.error)


def _full_run(image: db.Image, patches: list[str], exclude: list[str] | None = None,
              then: str | None = None) -> tuple[TestRun | str, bool]:
    """The whole suite (less the ``exclude`` paths) in a fresh container of ``image`` with
    ``patches`` applied in turn; with ``then``, whether applying it after the run leaves the tracked
    files byte for byte the image's (``git diff --quiet HEAD``)."""
    s = get_settings()
    env = {str(k): str(v) for k, v in ((image.recipe or {}).get("env") or {}).items()}
    labels = {"forager.role": "tasks-verify", OWNER_LABEL: this_process()}
    command = " ".join([image.test_command, *(f"--ignore={shlex.quote(p)}" for p in exclude or [])])
    with get_runtime().start(image.id, limits=Limits.from_settings(network=False, settings=s),
                             env={"PYTHONDONTWRITEBYTECODE": "1"}, labels=labels) as box:
        for i, patch in enumerate(patches):
            box.put_files({f"/tmp/forager-verify-{i}.patch": patch.encode()})
            res = box.exec(f"git apply --whitespace=nowarn /tmp/forager-verify-{i}.patch", 120, workdir="/repo")
            if not res.ok:
                return f"patch {i + 1} does not apply: {res.output[-300:]}", False
        run = run_tests(box, command, timeout=float(s.test_timeout_s), env=env or None)
        restored = False
        if then is not None:
            box.put_files({"/tmp/forager-verify-gold.patch": then.encode()})
            res = box.exec("git apply --whitespace=nowarn /tmp/forager-verify-gold.patch && git diff --quiet HEAD",
                           120, workdir="/repo")
            restored = res.ok
        return run, restored


def _excluded(test: str, exclude: list[str]) -> bool:
    path = test.split("::", 1)[0]
    return any(path == e.rstrip("/") or path.startswith(e.rstrip("/") + "/") for e in exclude)


def verify_task(task: db.Task, image: db.Image, exclude: list[str] | None = None,
                image_run: Callable[[], TestRun | str] | None = None) -> Verdict:
    """Two fresh full runs: the task state, and the gold state; when setup + gold patch leave the
    files byte for byte the image's, the gold state IS the image, and ``image_run`` (one fresh full
    run of the image, shared by its tasks) stands for it."""
    verdict = Verdict(task.id, task.kind)
    exclude = exclude or []
    broken, restored = _full_run(image, [task.setup_patch], exclude,  # from-history: the setup patch carries the tests
                                 then=task.gold_patch if image_run and not task.test_patch else None)
    if restored and image_run is not None:
        fixed: TestRun | str = image_run()
        verdict.gold_state = "the image's own fresh run (setup + gold patch restore it byte for byte)"
    else:
        fixed = _full_run(image, [task.setup_patch, task.gold_patch], exclude)[0]
    for run in (broken, fixed):
        if isinstance(run, str):
            verdict.error = run
            return verdict
        if run.exec.timed_out:
            verdict.error = "the suite timed out"
            return verdict
    assert isinstance(broken, TestRun) and isinstance(fixed, TestRun)
    checked = [t for t in task.fail_to_pass if not _excluded(t, exclude)]
    p2p = [t for t in task.pass_to_pass if not _excluded(t, exclude)]
    verdict.unchecked = len(task.fail_to_pass) + len(task.pass_to_pass) - len(checked) - len(p2p)
    verdict.f2p_not_failing = [t for t in checked if broken.outcome(t) == "passed"]
    verdict.not_passing_after_gold = [t for t in checked + p2p if fixed.outcome(t) != "passed"]
    verdict.p2p_failing_in_task_state = sum(1 for t in p2p if broken.outcome(t) != "passed")
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
           ids: list[str] | None = None, progress: Any = None, exclude: list[str] | None = None,
           share_image_run: bool = True) -> dict[str, Any]:
    """Verdicts on a sample and the disagreement count. With ``share_image_run`` the gold state of
    every task whose patches restore the image byte for byte is checked by one fresh full run of the
    image (per image), not one per task; ``exclude`` leaves test paths out of every run (reported)."""
    verdicts = []
    image_runs: dict[str, TestRun | str] = {}
    for task, img in sample_tasks(sample, image, kind, seed, ids):
        def image_run(img: db.Image = img) -> TestRun | str:
            if img.id not in image_runs:
                image_runs[img.id] = _full_run(img, [], exclude)[0]
            return image_runs[img.id]
        v = verify_task(task, img, exclude, image_run if share_image_run else None)
        verdicts.append(v)
        if progress:
            progress(f"{'agrees  ' if v.agrees else 'DISAGREES'} {task.id} {task.kind} "
                     f"F2P {len(task.fail_to_pass)} P2P failing in the task state {v.p2p_failing_in_task_state} "
                     f"{v.error or ''}".rstrip())
    return {"checked": len(verdicts), "disagreements": sum(not v.agrees for v in verdicts),
            "p2p_failing_in_task_state": sum(v.p2p_failing_in_task_state for v in verdicts),
            "image_runs": len(image_runs), "excluded": exclude or [],
            "unchecked_tests": sum(v.unchecked for v in verdicts),
            "verdicts": [v.__dict__ | {"agrees": v.agrees} for v in verdicts]}
