"""The trajectory schema (``forager.trajectory/1``): the pydantic models of one agent episode.

Only the models live here; how a trajectory is written to and read from a file is
``forager.trajectory.fileformat``, and how it is stored and indexed is ``forager.trajectory.store``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = "forager.trajectory/1"
ID_RE = re.compile(r"^traj-[A-Za-z0-9_-]{1,35}$")
"""A stored trajectory's id: ``db.new_id("traj")`` makes ``traj-`` + 12 hex digits; no dots or
slashes ever, so an id can never name a file. Requests (API, viewer) are looked up only as ids."""


def is_id(ref: str) -> bool:
    return bool(ID_RE.match(ref))


class FiniteModel(BaseModel):
    """Numbers are finite: NaN and infinities are refused (they are not JSON)."""
    model_config = ConfigDict(allow_inf_nan=False)


class Action(FiniteModel):
    tool: str
    """bash | view | edit | create | run_tests | submit | <unparsed>"""
    args: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = None


class Turn(FiniteModel):
    index: int
    model_message: str = ""
    """What the model said (assistant content; for tool-calling models, the text beside the call)."""
    action: Action | None = None
    observation: str = ""
    exit_code: int | None = None
    duration_s: float = 0.0
    """Time spent executing the action in the environment."""
    model_duration_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ModelInfo(FiniteModel):
    name: str = ""
    url: str = ""
    sampling: dict[str, Any] = Field(default_factory=dict)


class Reward(FiniteModel):
    resolved: bool = False
    fail_to_pass: dict[str, str] = Field(default_factory=dict)
    """test id -> outcome after the episode"""
    pass_to_pass: dict[str, str] = Field(default_factory=dict)
    duration_s: float = 0.0
    flags: list[str] = Field(default_factory=list)
    """Why the episode may not be rewarded: test infrastructure changed, a tampered report, ...;
    a flagged reward is never resolved, and the trajectory is kept."""
    restored: list[str] = Field(default_factory=list)
    """Paths whose changes were not carried into the judged state (test files, files over the size limit)."""


class Trajectory(FiniteModel):
    schema_version: Literal["forager.trajectory/1"] = SCHEMA_VERSION
    id: str | None = None
    task_id: str | None = None
    image: str | None = None
    image_digest: str | None = None
    repository: str | None = None
    kind: str | None = None
    agent: str = "llm"
    model: ModelInfo = Field(default_factory=ModelInfo)
    system_prompt: str = ""
    problem_statement: str = ""
    turns: list[Turn] = Field(default_factory=list)
    final_diff: str = ""
    reward: Reward | None = None
    exit_reason: str = ""
    complete: bool = True
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def resolved(self) -> bool:
        return bool(self.reward and self.reward.resolved)
