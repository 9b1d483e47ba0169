"""The agent seam: what ``run_episode`` needs from an agent, and the options a caller chooses.

An ``Agent`` acts in an ``Environment`` until it submits or a budget is spent, recording every turn
in the ``EpisodeState``; ``act`` returns the exit reason (``submitted``, ``max_steps``, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from forager.config import Settings
    from forager.episode.budget import EpisodeState
    from forager.episode.environment import Environment
    from forager.episode.spec import TaskSpec
    from forager.model import Model
    from forager.trajectory.schema import ModelInfo


@dataclass(frozen=True)
class AgentOptions:
    """What the caller chose for an episode's agent (the CLI's and the API's run options)."""

    model_url: str | None = None
    model_name: str | None = None
    tool_mode: str = "native"
    temperature: float = 0.0
    api_key: str | None = None
    """The caller's key for ``model_url``; the server's own key goes only to trusted endpoints."""
    model: Model | None = None
    """A model already made (e.g. ``forager.model.fake.FakeModel``); used instead of ``model_url``."""


class Agent(Protocol):
    """One way of acting in an episode (registered in ``forager.episode.agents.AGENTS``)."""

    def model_info(self) -> ModelInfo:
        """The model as the trajectory records it."""
        ...

    def act(self, env: Environment, spec: TaskSpec, state: EpisodeState) -> str:
        """Act until done or out of budget; returns the exit reason."""
        ...

    def close(self) -> None: ...


AgentFactory = Callable[["AgentOptions", "Settings"], Agent]
"""Makes an agent from the caller's options and the settings (the defaults)."""
