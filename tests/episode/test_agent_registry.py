"""Agents by name: the registry, the options, and what an unknown name or a missing model gives."""

from __future__ import annotations

import pytest

from forager.episode.agents import AGENTS, AgentOptions, get_agent
from forager.episode.agents.llm import LLMAgent
from forager.episode.agents.oracle import OracleAgent
from forager.errors import InvalidInput
from forager.model.fake import FakeModel


def test_registry_names_the_agents() -> None:
    assert set(AGENTS) == {"llm", "oracle"}
    assert isinstance(get_agent("oracle"), OracleAgent)
    assert get_agent("oracle").model_info().name == "oracle"
    with pytest.raises(InvalidInput, match="agent must be"):
        get_agent("human")


def test_llm_agent_needs_a_model() -> None:
    with pytest.raises(ValueError, match="needs --model URL"):
        get_agent("llm")
    fake = FakeModel()
    agent = get_agent("llm", AgentOptions(model=fake))
    assert isinstance(agent, LLMAgent) and agent.model is fake
    assert agent.model_info().url == fake.url
    agent.close()
    assert fake.closed
