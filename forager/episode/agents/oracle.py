"""The oracle agent: proves a task by applying its gold patch through the agent's own tools."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from forager.clock import utcnow
from forager.episode.budget import EpisodeState, make_turn
from forager.episode.environment import REPO
from forager.trajectory.schema import Action, ModelInfo

if TYPE_CHECKING:
    from forager.config import Settings
    from forager.episode.agents.base import AgentOptions
    from forager.episode.environment import Environment
    from forager.episode.spec import TaskSpec

SYSTEM = "oracle: applies the task's gold patch through the agent tools"


def oracle_steps(spec: TaskSpec, repo: str = REPO) -> list[tuple[str, Action]]:
    """Apply the gold patch with the bash tool, run the FAIL_TO_PASS tests, submit."""
    patch = spec.gold_patch if spec.gold_patch.endswith("\n") else spec.gold_patch + "\n"
    return [
        ("Apply the reference fix.", Action(tool="bash", args={"command": (
            f"cd {repo} && git apply --whitespace=nowarn - <<'__FORAGER_GOLD_PATCH__'\n{patch}"
            f"__FORAGER_GOLD_PATCH__")}, call_id="oracle-0")),
        ("Check the failing tests.", Action(tool="run_tests", args={"tests": spec.fail_to_pass},
                                            call_id="oracle-1")),
        ("Submit.", Action(tool="submit", args={}, call_id="oracle-2")),
    ]


class OracleAgent:
    """Plays ``oracle_steps``; needs no model."""

    @classmethod
    def create(cls, options: AgentOptions, settings: Settings) -> OracleAgent:
        return cls()

    def model_info(self) -> ModelInfo:
        return ModelInfo(name="oracle")

    def act(self, env: Environment, spec: TaskSpec, state: EpisodeState) -> str:
        state.traj.system_prompt = SYSTEM
        for message, action in oracle_steps(spec, env.repo):
            reason = state.out_of_budget()
            if reason:
                return reason
            begun = utcnow()
            t0 = time.monotonic()
            obs = env.execute(action)
            state.record(make_turn(len(state.traj.turns), message, action, obs, begun))
            state.account(t0, 0.0, obs)
        return "submitted"

    def close(self) -> None:
        pass
