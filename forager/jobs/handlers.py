"""What each kind of job does: one handler per ``JobKind`` (build, tasks, run, noop), registered in
``JOB_KINDS``. A handler takes the job's params and its ``JobContext`` and returns a JSON-able
result; ``JobFailed`` records a result and fails the job, a transient error retries it."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import islice
from typing import Any

from forager.enums import BuildStatus, JobKind, TaskKind
from forager.errors import InvalidInput, NotFound, TransientError
from forager.jobs.images import ensure_image, publish_image
from forager.jobs.state import JobContext, JobFailed
from forager.model.keys import held_model_key
from forager.store.campaigns import task_ids_of
from forager.store.tasks_db import get_task

Handler = Callable[[dict[str, Any], JobContext], dict[str, Any]]
NOOP_MAX_S = 600.0


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON values (results with ``summary()``, pydantic models, dataclasses)."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "summary") and callable(obj.summary):
        return jsonable(obj.summary())
    if hasattr(obj, "model_dump"):
        return jsonable(obj.model_dump(mode="json"))
    if hasattr(obj, "__dataclass_fields__"):
        return {k: jsonable(getattr(obj, k)) for k in obj.__dataclass_fields__}
    if hasattr(obj, "id"):
        return {"id": str(obj.id)}
    return str(obj)


def build_id_for(job_id: str) -> str:
    """The build row a build job writes: fixed by the job id, so a redelivered job reuses it."""
    return f"build-{job_id.removeprefix('job-')}"


def job_build(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from forager.build.builder import build

    result = build(params["source"], commit=params.get("commit"), python=params.get("python"),
                   build_id=build_id_for(ctx.job_id))
    out: dict[str, Any] = jsonable(result)
    if result.status != BuildStatus.VALIDATED:  # the build row keeps its own status and reason
        raise JobFailed(f"build {result.status}: {result.error}", out)
    if result.image:
        out["pushed"] = publish_image(result.image)
    return out


def job_tasks(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Generate up to ``max_tasks`` tasks of ``kind`` from ``image``; with ``fill_quota`` (a campaign's
    tasks item) only as many as the image still lacks of that kind, so an attempt repeated after an
    interruption that stored its tasks makes none again."""
    from forager.tasks.generate import generate

    image, kind, want = params["image"], params.get("kind", TaskKind.MUTATE_FIX), int(params.get("max_tasks", 5))
    if params.get("fill_quota"):  # a campaign's quota: tasks an interrupted attempt stored count
        have = task_ids_of(image, kind, want)
        if len(have) >= want:
            return {"task_ids": [], "candidates": 0, "already_made": len(have), "image_source": "not needed"}
        want -= len(have)
    image_source = ensure_image(image)
    result = generate(image, kind, want, max_candidates=params.get("max_candidates"), seed=int(params.get("seed", 0)))
    out: dict[str, Any] = jsonable(result.summary())
    out["task_ids"] = [t["id"] for t in result.tasks]
    out["image_source"] = image_source
    return out


def job_run(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    from forager.episode.run import run_episode

    task = get_task(params["task_id"])
    if task is None:
        raise NotFound(f"no task {params['task_id']!r}")
    image_source = ensure_image(task.image_id)
    api_key = None
    if params.get("model_key") == "caller":
        api_key = held_model_key(ctx.job_id)
        if api_key is None:
            raise InvalidInput("the caller's model key is no longer held (the API restarted): start the run again")
    traj = run_episode(params["task_id"], agent=params.get("agent", "llm"), model_url=params.get("model_url"),
                       model_name=params.get("model_name"), max_steps=params.get("max_steps"), api_key=api_key)
    out: dict[str, Any] = {"image_source": image_source, "trajectory_id": traj.id, "resolved": traj.resolved,
                           "exit_reason": traj.exit_reason}
    if traj.reward is not None and not traj.resolved:  # why, where a report reads it (an oracle should resolve)
        tests = {**traj.reward.fail_to_pass, **traj.reward.pass_to_pass}
        out["flags"] = traj.reward.flags[:5]
        out["not_passed"] = dict(islice(((t, o) for t, o in tests.items() if o != "passed"), 10))
    return out


def job_traces(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Execution traces from one validated image (``forager.traces``); the summary as the result."""
    from forager.traces.collect import collect_for_image

    summary = collect_for_image(str(params["image"]), params.get("functions"), params.get("per_function"),
                                int(params.get("seed", 0)))
    return jsonable(summary.summary())


def job_noop(params: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Diagnostic job: sleeps ``duration`` seconds (at most 600). ``fail_attempts: N`` makes its
    first N attempts fail with a transient error (to see retries with backoff). Used by health
    checks and the tests of the distributed mode."""
    duration = min(max(float(params.get("duration", 0)), 0.0), NOOP_MAX_S)
    if ctx.attempt <= int(params.get("fail_attempts", 0)):
        raise TransientError(f"diagnostic transient failure on attempt {ctx.attempt}")
    end = time.monotonic() + duration
    while time.monotonic() < end:
        time.sleep(min(0.05, max(end - time.monotonic(), 0)))
    return {"slept": duration, "attempt": ctx.attempt, "worker": ctx.worker}


JOB_KINDS: dict[str, Handler] = {
    JobKind.BUILD: job_build,
    JobKind.TASKS: job_tasks,
    JobKind.RUN: job_run,
    JobKind.NOOP: job_noop,
    JobKind.TRACES: job_traces,
}
