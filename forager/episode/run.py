"""One episode, start to end: the task, an agent from the registry, a sandbox, the judged reward.

The trajectory is stored when the episode starts and after every turn, so a crash loses little.
Budget ends and model failures are normal ends (``exit_reason`` says which). A crash, an interrupt
or an unusable sandbox leaves a stored trajectory marked incomplete and raises ``EpisodeError``;
the container is removed in every case."""

from __future__ import annotations

import time
from dataclasses import asdict

from forager.clock import utcnow
from forager.config import Settings, get_settings
from forager.episode.agents import Agent, AgentOptions, agent_factory
from forager.episode.budget import Budget, EpisodeState, Interrupted
from forager.episode.environment import open_environment
from forager.episode.spec import TaskSpec, setup_task, task_spec
from forager.errors import ForagerError, SandboxError
from forager.owner import this_process
from forager.runtime import Runtime, get_runtime
from forager.trajectory.schema import Trajectory


class EpisodeError(ForagerError):
    """An episode could not run to an end; ``trajectory_id`` names its stored (incomplete) record."""

    def __init__(self, message: str, trajectory_id: str | None = None) -> None:
        super().__init__(message)
        self.trajectory_id = trajectory_id


class Phases:
    """Wall time per phase of an episode (start, setup, agent, reward, teardown)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.monotonic()

    def end(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._mark, 3)
        self._mark = now


def run_episode(
    task_id: str,
    *,
    agent: str = "llm",
    model_url: str | None = None,
    model_name: str | None = None,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_wall_s: float | None = None,
    tool_mode: str = "native",
    temperature: float = 0.0,
    api_key: str | None = None,
    persist: bool = True,
    options: AgentOptions | None = None,
    runtime: Runtime | None = None,
    settings: Settings | None = None,
) -> Trajectory:
    """Run one episode of ``agent`` (a name in ``forager.episode.agents.AGENTS``) on a task; store
    and return the trajectory. ``options`` (e.g. a model already made) replaces the model
    arguments; ``runtime`` and ``settings`` default to the configured ones."""
    settings = settings or get_settings()
    factory = agent_factory(agent)
    spec = task_spec(task_id)
    options = options or AgentOptions(model_url=model_url, model_name=model_name, tool_mode=tool_mode,
                                      temperature=temperature, api_key=api_key)
    actor = factory(options, settings)
    budget = Budget(max_steps=max_steps or settings.max_steps,
                    max_tokens=max_tokens if max_tokens is not None else settings.max_tokens,
                    max_wall_s=max_wall_s or settings.max_wall_s)
    state = EpisodeState(traj=new_trajectory(spec, agent, actor, budget), budget=budget, persist=persist)
    state.checkpoint()
    try:
        return _play(spec, actor, state, runtime, settings)
    except BaseException as exc:
        _end_incomplete(state, exc)
        if isinstance(exc, Exception):
            raise EpisodeError(f"episode on {spec.id} did not finish: {state.traj.meta['error']}",
                               state.traj.id) from exc
        raise
    finally:
        actor.close()


def new_trajectory(spec: TaskSpec, agent: str, actor: Agent, budget: Budget) -> Trajectory:
    """The trajectory of an episode that starts now (``running``, owned by this process)."""
    from forager.store import db

    traj = Trajectory(
        id=db.new_id("traj"), task_id=spec.id, image=spec.image, image_digest=spec.image_digest or None,
        repository=spec.repository or None, kind=spec.kind or None, agent=agent, model=actor.model_info(),
        problem_statement=spec.problem_statement, complete=False, exit_reason="running",
        started_at=utcnow())
    traj.meta["budget"] = asdict(budget)
    traj.meta["owner"] = this_process()
    return traj


def _play(spec: TaskSpec, actor: Agent, state: EpisodeState, runtime: Runtime | None,
          settings: Settings) -> Trajectory:
    """Sandbox, task state, the agent, the judged reward; the trajectory ends complete."""
    from forager.episode.reward import judge

    traj, phases = state.traj, Phases()
    with open_environment(spec.image, name=f"forager-ep-{traj.id}", runtime=runtime, settings=settings) as env:
        phases.end("start")
        traj.meta.update(sandbox_user=env.user, container=env.sandbox.name)
        if not traj.image_digest:
            traj.image_digest = (runtime or get_runtime()).image_digest(spec.image)
        setup_task(env, spec)
        phases.end("setup")
        traj.exit_reason = actor.act(env, spec, state)
        phases.end("agent")
        judged = judge(env, spec)
        traj.final_diff, traj.reward = judged.diff, judged.reward
        phases.end("reward")
        traj.meta.update(tokens=state.tokens, orchestration_overhead_s=round(state.overhead_s, 4),
                         shell_restarts=env.shell.restarts)
    phases.end("teardown")
    traj.meta["phases_s"] = phases.seconds
    traj.complete = True
    traj.finished_at = utcnow()
    state.checkpoint()
    return traj


def _end_incomplete(state: EpisodeState, exc: BaseException) -> None:
    """Store the trajectory as incomplete, saying why."""
    traj = state.traj
    traj.complete = False
    traj.finished_at = utcnow()
    traj.exit_reason = ("interrupted" if isinstance(exc, KeyboardInterrupt | SystemExit | Interrupted)
                        else "environment_error" if isinstance(exc, SandboxError)
                        else "crashed")
    traj.meta["error"] = f"{type(exc).__name__}: {exc}"[:2000]
    state.checkpoint()
