"""Tasks: broken states of a validated image that an agent must repair, with the tests that judge it.

Five kinds (``forager.enums.TaskKind``):
  mutate-fix         one AST mutation (``forager.tasks.mutations``) in a function the passing tests call
  implement-feature  a tested function's body replaced by ``raise NotImplementedError``
  combined           two to four validated single bugs in different functions, validated as one
  model-rewrite      a tested function rewritten by the model from its signature and docstring
  from-history       a past commit's parent with the commit's tests applied, its code withheld

Injected kinds go through the fast judge (``screen``: the covering tests only, batches per exec,
forked pytest) in ``FORAGER_TASK_WORKERS`` containers of the image side by side (one per core by
default), which also share the traced run of the call map; from-history through ``evaluate`` in one
container, screened by the tests its commit touches, its PASS_TO_PASS from a run of the relevant
tests only (the image's call map, kept per image, says which tests call the files the commit's code
change touches). Candidates are streamed and every task is
stored as it validates; discarded candidates come back with their reason.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain, islice

from forager.config import Settings, get_settings
from forager.enums import TaskKind
from forager.errors import EngineError
from forager.model import Model
from forager.store import db
from forager.store.tasks_db import add_task, known_fingerprints
from forager.tasks.baseline import Baseline, covered_functions, load_image
from forager.tasks.callmap import cached_baseline, load_controls, load_kept, store_controls
from forager.tasks.candidates import (
    Candidate,
    history_candidates,
    mutation_candidates,
    session_first,
    stub_candidates,
)
from forager.tasks.combined import Combiner
from forager.tasks.errors import TaskError
from forager.tasks.evaluate import Judged, history_verdict
from forager.tasks.fastrun import Runner, files_of
from forager.tasks.fingerprint import fingerprint
from forager.tasks.record import task_fields
from forager.tasks.result import BEHAVIOUR_DUPLICATE, Discard, GenerateResult, task_line
from forager.tasks.rewrite import rewrite_candidates
from forager.tasks.screen import Screen
from forager.tasks.statements import statement_model
from forager.tasks.workers import start_workspaces, task_workers
from forager.tasks.workspace import Progress, Workspace

__all__ = ["Discard", "GenerateResult", "TaskError", "generate", "task_line"]

BATCH = 24
"""Candidates judged per ``docker exec`` of the driver."""


def _task_kind(kind: str) -> TaskKind:
    try:
        return TaskKind(kind)
    except ValueError:
        raise TaskError(f"unknown kind {kind!r}; choose from {', '.join(TaskKind)}") from None


@dataclass
class _Batch:
    """One generation run's moving parts."""

    starting: Future[Workspace]
    """The workspace container, started in the background (what needs no container runs meanwhile)."""
    baseline: Baseline
    seen: set[str]
    """Fingerprints and behavioural keys of the tasks of the image, stored or made in this run."""
    writer: Model | None
    log: Progress
    result: GenerateResult
    source: str | None
    on_task: Callable[[db.Task], None] | None
    on_progress: Callable[[GenerateResult], None] | None
    test_paths: list[str]
    """The recipe's test paths (left out of the test command when the covering tests run)."""
    kept: Baseline | None = None
    """The image's kept call map with its sources (None: none kept, traced in this run)."""
    more: list[Future[Workspace]] = field(default_factory=list)
    """The other workers' containers, started beside the first (injected kinds)."""
    runners: dict[int, Runner] = field(default_factory=dict)
    """Each container's runner (by ``id`` of its workspace), its serving session opened as the
    container started."""

    def runner(self, ws: Workspace) -> Runner:
        return self.runners.get(id(ws)) or self.runners.setdefault(id(ws), Runner(ws, self.test_paths))

    @property
    def ws(self) -> Workspace:
        if not self.starting.done():
            with self.result.timed("container wait"):
                return self.starting.result()
        return self.starting.result()

    @cached_property
    def workers(self) -> list[Workspace]:
        """The other workers' containers that started (one that did not is left out, logged once)."""
        out = []
        with self.result.timed("container wait"):
            for f in self.more:
                if f.exception() is None:
                    out.append(f.result())
                else:
                    self.log(f"a worker's container did not start: {f.exception()}")
        return out


def _discard(batch: _Batch, cand: Candidate, reason: str) -> None:
    batch.result.discarded.append(Discard(cand.description, cand.family, reason))
    batch.log(f"discard   {cand.description}: {reason}")


def _keep(batch: _Batch, cand: Candidate, judged: Judged, fp: str) -> bool:
    """Store a validated candidate unless it behaves like a task already made; whether it was."""
    fields = task_fields(cand, judged, fp, batch.ws.head, batch.writer, batch.source)
    key = fields["meta"]["behaviour"]
    if key in batch.seen:
        _discard(batch, cand, BEHAVIOUR_DUPLICATE)
        return False
    batch.seen.update((fp, key))
    task = add_task(batch.result.image, fields)
    batch.result.tasks.append({**task_line(task), "family": task.family})
    batch.result.kept_by_family[str(cand.family or "-")] += 1
    batch.log(f"validated {task.id} {cand.description} (F2P {len(task.fail_to_pass)}, "
              f"P2P {len(task.pass_to_pass)})")
    if batch.on_task:
        batch.on_task(task)
    return True


def _count(batch: _Batch, cand: Candidate) -> None:
    batch.result.candidates += 1
    batch.result.tried_by_family[str(cand.family or "-")] += 1


def judge_would_flag(cand: Candidate) -> str:
    """Why the judge would flag any fix of ``cand`` ('' when it would not): its code lies in a module
    the test runner itself imports (the project is one of pytest's own dependencies, e.g. iniconfig)
    or in test infrastructure, so an agent's fix is dropped and the task can never be resolved."""
    from forager.episode.reward import infra_reason  # the judge's own rule

    paths = {cand.path} if cand.path else set(re.findall(r"^\+\+\+ b/(\S+)", cand.gold_patch, re.M))
    return next((why for p in sorted(x for x in paths if x) if (why := infra_reason(p))), "")


def _fresh(batch: _Batch, cands: Iterator[Candidate], n: int) -> list[Candidate]:
    """The next ``n`` candidates that are not textual duplicates of a known task and that the judge
    could reward (the others are discarded on the spot, never run)."""
    out: list[Candidate] = []
    for cand in cands:
        if fingerprint(cand.setup_patch) in batch.seen:
            _count(batch, cand)
            _discard(batch, cand, "duplicate of an earlier task")
            continue
        if flagged := judge_would_flag(cand):
            _count(batch, cand)
            _discard(batch, cand, f"the judge would flag its fix: {flagged}")
            continue
        out.append(cand)
        if len(out) >= n:
            break
    return out


def _verdict(batch: _Batch, cand: Candidate, verdict: Judged | str) -> None:
    _count(batch, cand)
    if isinstance(verdict, str):
        _discard(batch, cand, verdict)
    else:
        _keep(batch, cand, verdict, fingerprint(cand.setup_patch))
    if batch.on_progress:
        batch.on_progress(batch.result)


FIRST_YIELD = {TaskKind.IMPLEMENT_FEATURE: 0.95}
"""The share of candidates expected to validate before five were tried (0.8 for other kinds): a stub
of a tested function almost always breaks its tests (every bench image kept 100%)."""


def _wanted(res: GenerateResult, max_tasks: int) -> int:
    """Candidates to judge next: enough for the tasks still missing at the yield seen so far (the
    kind's first guess before five were tried, never taken below 0.4), and one more. A candidate
    judged after the last task is stored is wasted; one too few costs another exec (a collection
    of the tests)."""
    first = FIRST_YIELD.get(TaskKind(res.kind), 0.8) if res.kind in list(TaskKind) else 0.8
    kept_share = res.kept_share if res.candidates >= 5 else first
    return math.ceil((max_tasks - len(res.tasks)) / max(kept_share, 0.4)) + 1


def _run_injected(batch: _Batch, screen: Screen, cands: Iterator[Candidate], max_tasks: int,
                  budget: int, combiner: Combiner | None = None) -> None:
    """Judge candidates in batches until ``max_tasks`` are stored or ``budget`` are tried (for
    combined tasks: single bugs screened, their combinations counted as the candidates)."""
    res, singles = batch.result, 0
    while len(res.tasks) < max_tasks and singles < budget:
        want = min(BATCH, budget - singles, _wanted(res, max_tasks))
        chunk = _fresh(batch, cands, want) if combiner is None else list(islice(cands, BATCH))
        if not chunk:
            return
        for cand, verdict in zip(chunk, screen.judge(chunk), strict=True):
            if len(res.tasks) >= max_tasks:
                return
            singles += 1
            if combiner is None:
                _verdict(batch, cand, verdict)
            elif isinstance(verdict, Judged):
                combiner.add(cand, verdict)
                for combo, judged in combiner.ready(screen):
                    _verdict(batch, combo, judged)


def _run_history(batch: _Batch, cands: Iterator[Candidate], max_tasks: int, budget: int) -> None:
    """Past commits, each screened by the tests it touches before the whole suite runs."""
    res = batch.result
    runner = Runner(batch.ws, batch.test_paths)
    for cand in islice(cands, budget):
        if len(res.tasks) >= max_tasks:
            break
        _count(batch, cand)
        try:
            flagged = judge_would_flag(cand)
            verdict = (f"the judge would flag its fix: {flagged}" if flagged
                       else history_verdict(batch.ws, runner, cand, batch.baseline, batch.seen))
        except Exception as exc:  # noqa: BLE001 - one bad candidate never ends the batch
            verdict = f"error: {type(exc).__name__}: {exc}"
        if isinstance(verdict, str):
            _discard(batch, cand, verdict)
        else:
            _keep(batch, cand, verdict, fingerprint(cand.setup_patch))
        if batch.on_progress:
            batch.on_progress(res)


def _candidates(batch: _Batch, kind: TaskKind, baseline: Baseline, seed: int, s: Settings,
                cleanup: ExitStack) -> Iterator[Candidate]:
    sources, functions = covered_functions(batch.ws if baseline.sources is None else None, baseline)
    batch.log(f"{len(functions)} functions in {len(sources)} files are exercised by "
              f"{len(baseline.passed)} passing tests")
    if not functions:
        raise TaskError(f"no source function of {batch.result.image} is exercised by its passing tests")
    if kind == TaskKind.IMPLEMENT_FEATURE:
        return stub_candidates(sources, functions, seed, baseline.durations)
    if kind == TaskKind.MODEL_REWRITE:
        model = statement_model(s)
        if model is None:
            raise TaskError("model-rewrite needs a model endpoint: set FORAGER_MODEL_URL")
        cleanup.callback(model.close)
        return session_first(rewrite_candidates(sources, functions, model, baseline.durations), BATCH)
    return session_first(mutation_candidates(sources, functions, seed, baseline.durations), BATCH)


def _callmap(batch: _Batch, s: Settings) -> None:
    """The image's call map into ``batch.baseline``: the kept one, else traced now (and kept)."""
    res = batch.result
    batch.log("the call map: which functions the passing tests call (traced once per image, then kept)")
    if batch.kept is not None:  # nothing runs in the container before the first batch
        batch.baseline, res.callmap_cached = batch.kept, True
        return
    with res.timed("callmap"):
        batch.baseline, res.callmap_cached = cached_baseline([batch.ws, *batch.workers], batch.baseline.passed,
                                                             batch.baseline.durations, s.home / "callmaps")


def _history_callmap(batch: _Batch, s: Settings) -> None:
    """The call map for from-history (which tests are relevant to a commit's code change), /repo
    left in the image state; when tracing fails, none (every kept commit then runs the whole suite)."""
    try:
        _callmap(batch, s)
    except TaskError as exc:
        batch.log(f"no call map ({exc}); PASS_TO_PASS from a whole-suite run per task")
    ws = batch.ws
    if ws.purelib is None:
        ws.purelib = batch.baseline.purelib
    if not batch.result.callmap_cached:  # the traced run may have left files behind
        with batch.result.timed("reset"):
            ws.reset()


def _run(batch: _Batch, kind: TaskKind, max_tasks: int, budget: int, seed: int, s: Settings,
         cleanup: ExitStack) -> None:
    res, passed = batch.result, batch.baseline.passed
    if kind == TaskKind.FROM_HISTORY:
        cands = history_candidates(batch.ws)
        first = list(islice(cands, 1))  # a repository without history fails before any tracing
        _history_callmap(batch, s)
        _run_history(batch, chain(first, cands), max_tasks, budget)
        return
    _callmap(batch, s)
    baseline, cached = batch.baseline, bool(res.callmap_cached)
    if not cached:  # the traced run may have left files behind; the sessions collect from here on
        for w in (batch.ws, *batch.workers):
            with res.timed("reset"):
                w.reset()
            batch.runner(w).open_session(files_of(passed))
    with res.timed("sources"):
        cands = _candidates(batch, kind, baseline, seed, s, cleanup)
        # the first batch's candidates are made while the container starts
        cands = chain(list(islice(cands, min(BATCH, _wanted(res, max_tasks)))), cands)
    ws, workers = batch.ws, batch.workers
    for w in (ws, *workers):
        if w.purelib is None:
            w.purelib = baseline.purelib
    controls, control_s = load_controls(s.home / "callmaps", res.image, passed)
    screen = Screen(batch.runner(ws), baseline, ws.config.test_timeout_s,
                    workers=[batch.runner(w) for w in workers], controls=controls, control_s=control_s)
    known = set(controls)
    combiner = Combiner(ws, seed) if kind == TaskKind.COMBINED else None
    try:
        with res.timed("screening"):
            _run_injected(batch, screen, cands, max_tasks, budget, combiner)
    finally:
        res.phases.update({f"screen.{k}": v for k, v in screen.timings.items()})
        res.controls_kept, res.controls_reused = len(known), screen.controls_reused
        fresh = {k: v for k, v in screen.controls.items() if k not in known}
        store_controls(s.home / "callmaps", res.image, passed, fresh,
                       {k: v for k, v in screen.control_s.items() if k in fresh})


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
    on_progress: Callable[[GenerateResult], None] | None = None,
) -> GenerateResult:
    """Make up to ``max_tasks`` validated tasks of ``kind`` from ``image`` and store them as they
    validate (``on_task`` per task, ``on_progress`` after every candidate)."""
    log = progress or (lambda _: None)
    s = settings or get_settings()
    result = GenerateResult(image, kind)
    try:
        with ExitStack() as cleanup:
            task_kind = _task_kind(kind)
            with result.timed("image"):
                img, passed, durations = load_image(image)
            result.image = img.id
            budget = max_candidates or max(10, max_tasks * (20 if task_kind == TaskKind.COMBINED else 8))
            with result.timed("callmap"):
                kept = load_kept(s.home / "callmaps", img.id, passed, durations)
            runners: dict[int, Runner] = {}
            # with a kept call map the sessions start collecting with their containers; else after
            # the traced run (which would compete with them for the cores)
            serve = files_of(passed) if task_kind != TaskKind.FROM_HISTORY and kept is not None else []
            starting, *more = start_workspaces(result, img, log, s, cleanup, task_workers(s, task_kind),
                                               runners, serve)
            writer = statement_model(s) if task_kind != TaskKind.MODEL_REWRITE else None
            if writer is not None:
                cleanup.callback(writer.close)
            seen = known_fingerprints(img.id) | known_behaviours(img.id)
            run_s = sum(durations.get(t, 0.0) for t in passed) + 10
            batch = _Batch(starting, Baseline(passed, durations, {}, run_s), seen, writer, log, result,
                           img.source, on_task, on_progress,
                           list((img.recipe or {}).get("test_paths") or []), kept, more, runners)
            _run(batch, task_kind, max_tasks, budget, seed, s, cleanup)
    except (TaskError, EngineError) as exc:
        result.error = str(exc)
    finally:
        result.duration_s = time.monotonic() - result.started
    return result


def known_behaviours(image: str) -> set[str]:
    """Behavioural keys of the tasks stored for ``image``."""
    from sqlalchemy import select

    with db.session() as s:
        metas = s.scalars(select(db.Task.meta).where(db.Task.image_id == image)).all()
    return {str(m["behaviour"]) for m in metas if isinstance(m, dict) and m.get("behaviour")}
