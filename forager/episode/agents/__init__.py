"""The agents an episode can run, by name: a new agent is one module and one line in ``AGENTS``."""

from __future__ import annotations

from forager.config import Settings, get_settings
from forager.episode.agents.base import Agent, AgentFactory, AgentOptions
from forager.episode.agents.llm import LLMAgent
from forager.episode.agents.oracle import OracleAgent
from forager.errors import InvalidInput

AGENTS: dict[str, AgentFactory] = {
    "llm": LLMAgent.create,
    "oracle": OracleAgent.create,
}


def agent_factory(name: str) -> AgentFactory:
    """The factory registered as ``name`` (``InvalidInput`` for an unknown agent)."""
    try:
        return AGENTS[name]
    except KeyError:
        known = " or ".join(repr(k) for k in AGENTS)
        raise InvalidInput(f"agent must be {known}, not {name!r}") from None


def get_agent(name: str, options: AgentOptions | None = None, settings: Settings | None = None) -> Agent:
    """The agent registered as ``name``, made from ``options`` (the settings give the defaults)."""
    return agent_factory(name)(options or AgentOptions(), settings or get_settings())


__all__ = ["AGENTS", "Agent", "AgentFactory", "AgentOptions", "agent_factory", "get_agent"]
