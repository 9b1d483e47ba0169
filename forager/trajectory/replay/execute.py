"""Re-execution: every recorded action run again in a fresh container from the recorded image (by
digest), with the episode's own tools, task setup and reward (``forager.episode``); each
observation is compared with the recorded one after normalising what legitimately varies, and the
reward is re-run and compared at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from forager.errors import EngineError, SandboxError
from forager.trajectory.fileformat import LoadResult
from forager.trajectory.present import action_summary
from forager.trajectory.replay.compare import compare_observation, compare_reward
from forager.trajectory.replay.loading import ReplayError, open_trajectory
from forager.trajectory.schema import Reward, Trajectory, Turn

if TYPE_CHECKING:
    from forager.episode.spec import TaskSpec

MATCH, DIVERGED, NO_ACTION = "match", "diverged", "no-action"


@dataclass
class StepResult:
    index: int
    action: str
    status: str
    """match | diverged | no-action"""
    recorded_exit: int | None = None
    replayed_exit: int | None = None
    duration_s: float = 0.0
    detail: str = ""


@dataclass
class ReplayReport:
    trajectory: str
    image: str
    """What the container was started from (the recorded digest when present)."""
    reproduces: bool = False
    steps: list[StepResult] = field(default_factory=list)
    first_divergence: int | None = None
    reward: dict[str, Any] = field(default_factory=dict)
    """recorded / replayed resolved flags, whether they match, and the differences."""
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0

    @property
    def counts(self) -> dict[str, int]:
        out = {MATCH: 0, DIVERGED: 0, NO_ACTION: 0}
        for s in self.steps:
            out[s.status] = out.get(s.status, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        return data


def resolve_image(traj: Trajectory, image_exists: Callable[[str], bool],
                  image_digest: Callable[[str], str | None]) -> tuple[str, list[str]]:
    """The image reference to start from, and notes. The recorded digest wins; a tag is used only
    when no digest was recorded (outside agents) or when it still points to the recorded digest."""
    notes: list[str] = []
    if traj.image_digest and image_exists(traj.image_digest):
        return traj.image_digest, notes
    if traj.image and image_exists(traj.image):
        current = image_digest(traj.image)
        if traj.image_digest and current != traj.image_digest:
            raise ReplayError(f"the recorded image {traj.image_digest} is not on this engine, and the tag "
                              f"{traj.image} now points to {current}: refusing to replay on another image")
        if not traj.image_digest:
            notes.append(f"no image digest recorded: using the tag {traj.image} ({current})")
        return current or traj.image, notes
    wanted = " or ".join(x for x in (traj.image_digest, traj.image) if x) or "no image recorded"
    raise ReplayError(f"image not available on this engine: {wanted}")


def _task_spec(task_id: str | None) -> TaskSpec | None:
    """The task as the episode saw it, or None when it is not in this registry."""
    from forager.episode.spec import task_spec

    if not task_id:
        return None
    try:
        return task_spec(task_id)
    except LookupError:
        return None


def _image_test_command(image: str | None) -> str:
    from forager.store.episodes import image_test_command

    if not image:
        return ""
    return image_test_command(image)


def replay_turn(env: Any, turn: Turn) -> StepResult:
    """Execute one recorded action in ``env`` and compare with what was recorded. An action that
    was rejected without running (an ``error:`` observation and no exit status: a malformed call)
    matches when the replay rejects it too."""
    if turn.action is None:
        return StepResult(turn.index, "(no action)", NO_ACTION, turn.exit_code)
    obs = env.execute(turn.action)
    summary = action_summary(turn.action).splitlines()[0][:200]
    rejected = (turn.exit_code is None and obs.exit_code is None
                and turn.observation.startswith("error:") and obs.output.startswith("error:"))
    if rejected:
        return StepResult(turn.index, summary, MATCH, None, None, round(obs.duration_s, 3),
                          "rejected without running, as recorded")
    cmp = compare_observation(turn.observation, obs.output, turn.exit_code, obs.exit_code)
    return StepResult(turn.index, summary, MATCH if cmp.same else DIVERGED, turn.exit_code,
                      obs.exit_code, round(obs.duration_s, 3), cmp.detail)


def _run(traj: Trajectory, report: ReplayReport, spec: TaskSpec | None,
         progress: Callable[[StepResult], None] | None) -> Reward | None:
    """Start the container, replay every turn into ``report``; the replayed reward when the task is known."""
    from forager.episode.environment import open_environment
    from forager.episode.reward import compute_reward

    name = f"forager-replay-{(traj.id or 'file')[-24:]}-{time.time_ns() % 10**6}"
    with open_environment(report.image, name=name, task=spec) as env:
        if spec is None:
            env.test_command = _image_test_command(traj.image)
        recorded_user = traj.meta.get("sandbox_user")
        if recorded_user and recorded_user != env.user:
            report.notes.append(f"the episode ran as {recorded_user}, the replay as {env.user}")
        for turn in traj.turns:
            step = replay_turn(env, turn)
            report.steps.append(step)
            if progress:
                progress(step)
        return compute_reward(env, spec) if spec is not None else None


def _conclude(report: ReplayReport, result: LoadResult, spec: TaskSpec | None, replayed: Reward | None) -> None:
    """Fill in the first divergence, the reward comparison and the verdict."""
    recorded = result.trajectory.reward
    diverged = [s.index for s in report.steps if s.status == DIVERGED]
    report.first_divergence = diverged[0] if diverged else None
    if spec is not None:
        cmp = compare_reward(recorded, replayed)
        report.reward = {
            "recorded": recorded.resolved if recorded else None,
            "replayed": replayed.resolved if replayed else None,
            "same": cmp.same, "detail": cmp.detail,
        }
    reward_ok = report.reward.get("same", True)
    report.reproduces = not diverged and reward_ok and result.error is None


def reexecute(ref: str, progress: Callable[[StepResult], None] | None = None) -> ReplayReport:
    """Re-run every recorded action in a fresh container from the recorded image, compare each
    observation (normalised) and exit status, then re-run the reward and compare it.

    The container, the task setup (its setup patch), the tools and the reward are the episode's own
    (``forager.episode``), so a replay does exactly what the agent's tools did."""
    from forager.runtime import get_runtime

    started = time.monotonic()
    result = open_trajectory(ref)
    traj = result.trajectory
    report = ReplayReport(trajectory=traj.id or ref, image=traj.image_digest or traj.image or "")
    if result.error:
        report.notes.append(f"trajectory damaged or incomplete ({result.error}): "
                            f"replaying its {len(traj.turns)} valid steps")
    try:
        rt = get_runtime()
        report.image, notes = resolve_image(traj, rt.image_exists, rt.image_digest)
        report.notes += notes
        spec = _task_spec(traj.task_id)
        if traj.task_id and spec is None:
            report.notes.append(f"task {traj.task_id} is not in this registry: the task setup and the "
                                "reward are not re-run")
        replayed = _run(traj, report, spec, progress)
    except (ReplayError, EngineError, SandboxError) as exc:
        report.error = str(exc)
    else:
        _conclude(report, result, spec, replayed)
    report.duration_s = time.monotonic() - started
    return report
