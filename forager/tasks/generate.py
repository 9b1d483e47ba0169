"""Tasks: broken states of a validated image that an agent must repair, with the tests that judge it.

Three kinds (``forager.enums.TaskKind``):
  mutate-fix         one AST mutation (``forager.tasks.mutations``) in a function the passing tests call
  implement-feature  a tested function's body replaced by ``raise NotImplementedError``
  from-history       a past commit's parent with the commit's tests applied, its code withheld

One container per image (``workspace``) serves a whole batch of candidates (``candidates``), each
run through the keep/discard rules and validated (``evaluate``) and stored as a ``db.Task``.
Discarded candidates come back with their reason.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from forager.config import Settings, get_settings
from forager.enums import TaskKind
from forager.errors import EngineError
from forager.model import Model
from forager.store import db
from forager.store.tasks_db import add_task, known_fingerprints
from forager.tasks.baseline import Baseline, collect_baseline, covered_functions, load_image
from forager.tasks.candidates import Candidate, history_candidates, mutation_candidates, stub_candidates
from forager.tasks.errors import TaskError
from forager.tasks.evaluate import evaluate
from forager.tasks.statements import statement_model
from forager.tasks.workspace import Progress, Workspace, WorkspaceConfig

__all__ = ["Discard", "GenerateResult", "TaskError", "generate", "task_line"]


@dataclass
class Discard:
    description: str
    family: str | None
    reason: str


@dataclass
class GenerateResult:
    image: str
    kind: str
    tasks: list[dict[str, Any]] = field(default_factory=list)
    discarded: list[Discard] = field(default_factory=list)
    candidates: int = 0
    duration_s: float = 0.0
    error: str | None = None

    @property
    def kept_share(self) -> float:
        return len(self.tasks) / self.candidates if self.candidates else 0.0

    def summary(self) -> dict[str, Any]:
        reasons = Counter(d.reason.split(":")[0] for d in self.discarded)
        fams = Counter(t.get("family") or "-" for t in self.tasks)
        return {
            "image": self.image, "kind": self.kind, "validated": len(self.tasks),
            "candidates": self.candidates, "kept_share": round(self.kept_share, 3),
            "duration_s": round(self.duration_s, 1),
            "s_per_task": round(self.duration_s / len(self.tasks), 1) if self.tasks else None,
            "families": dict(fams), "discard_reasons": dict(reasons), "error": self.error,
        }


def task_line(task: db.Task) -> dict[str, Any]:
    """The ``--json`` line for one validated task."""
    return {"id": task.id, "image": task.image_id, "kind": task.kind,
            "fail_to_pass": list(task.fail_to_pass), "pass_to_pass_count": len(task.pass_to_pass),
            "problem_statement": task.problem_statement}


def _task_kind(kind: str) -> TaskKind:
    try:
        return TaskKind(kind)
    except ValueError:
        raise TaskError(f"unknown kind {kind!r}; choose from {', '.join(TaskKind)}") from None


def _plan(ws: Workspace, kind: TaskKind, image: str, passed: list[str], durations: dict[str, float],
          seed: int, log: Progress) -> tuple[Baseline, Iterator[Candidate]]:
    """The baseline every candidate is judged against, and the candidates in the order to try."""
    if kind == TaskKind.FROM_HISTORY:
        candidates = history_candidates(ws)
        timing = ws.run(passed)
        return Baseline(passed, durations, {}, timing.exec.duration_s), candidates
    log("running the passing tests once to see which functions they call")
    baseline = collect_baseline(ws, passed, durations)
    sources, functions = covered_functions(ws, baseline)
    log(f"{len(functions)} functions in {len(sources)} files are exercised by "
        f"{len(baseline.passed)} passing tests")
    if not functions:
        raise TaskError(f"no source function of {image} is exercised by its passing tests")
    make = mutation_candidates if kind == TaskKind.MUTATE_FIX else stub_candidates
    return baseline, make(sources, functions, seed)


@dataclass
class _Batch:
    """One generation run's moving parts."""

    ws: Workspace
    baseline: Baseline
    seen: set[str]
    """Fingerprints of the tasks of the image, stored or made in this run."""
    writer: Model | None
    log: Progress


def _try(batch: _Batch, cand: Candidate, result: GenerateResult,
         on_task: Callable[[db.Task], None] | None) -> None:
    """Evaluate one candidate; store and report it, or record why it was discarded."""
    try:
        fields, reason = evaluate(batch.ws, cand, batch.baseline, batch.seen, batch.writer)
    except Exception as exc:  # noqa: BLE001 - one bad candidate never ends the batch
        fields, reason = None, f"error: {type(exc).__name__}: {exc}"
    if fields is None:
        result.discarded.append(Discard(cand.description, cand.family, reason))
        batch.log(f"discard   {cand.description}: {reason}")
        return
    task = add_task(result.image, fields)
    result.tasks.append({**task_line(task), "family": task.family})
    batch.log(f"validated {task.id} {cand.description} (F2P {len(task.fail_to_pass)}, "
              f"P2P {len(task.pass_to_pass)})")
    if on_task:
        on_task(task)


def generate(
    image: str,
    kind: str,
    max_tasks: int = 5,
    *,
    max_candidates: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    on_task: Callable[[db.Task], None] | None = None,
    settings: Settings | None = None,
) -> GenerateResult:
    """Make up to ``max_tasks`` validated tasks of ``kind`` from ``image`` and store them."""
    log = progress or (lambda _: None)
    s = settings or get_settings()
    start = time.monotonic()
    result = GenerateResult(image, kind)
    try:
        with ExitStack() as cleanup:
            task_kind = _task_kind(kind)
            img, passed, durations = load_image(image)
            result.image = img.id
            budget = max_candidates or max(10, max_tasks * 8)
            ws = Workspace(img.id, img.test_command, log, (img.recipe or {}).get("env") or {},
                           WorkspaceConfig.from_settings(s))
            cleanup.callback(ws.remove)
            baseline, candidates = _plan(ws, task_kind, img.id, passed, durations, seed, log)
            writer = statement_model(s)
            if writer is not None:
                cleanup.callback(writer.close)
            batch = _Batch(ws, baseline, known_fingerprints(img.id), writer, log)
            for cand in candidates:
                if len(result.tasks) >= max_tasks or result.candidates >= budget:
                    break
                result.candidates += 1
                _try(batch, cand, result, on_task)
    except (TaskError, EngineError) as exc:
        result.error = str(exc)
    finally:
        result.duration_s = time.monotonic() - start
    return result
